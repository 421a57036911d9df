"""The citizen service requests page (``/requests``): open requests of a city on a map, coloured by
service, with counts per service and status and the requests past their service-level target.

Mounted by ``create_app`` beside the other pages. Like the dashboard it loads nothing from outside the
server and draws data fetched from the JSON API (``/api/v1/service-requests/summary`` and
``/sla-breaches``), which is scoped to what the caller may read; no personal data is on it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from nagar.security.permissions import Perm, require

from .i18n import N_
from .views import SettingsDep, render_page

router = APIRouter(include_in_schema=False)

# service names reach the page as data from the API; listed for the catalogues
SERVICE_NAMES = (
    N_("Illegal e-waste dumping or burning"),
    N_("Air pollution (brick kiln, open burning)"),
    N_("Water pollution"),
    N_("Waterlogging"),
    N_("Garbage not collected"),
    N_("Street light not working"),
)


@router.get("/requests", response_class=HTMLResponse, **require(Perm.PUBLIC))
def requests_page(
    request: Request,
    settings: SettingsDep,
    city: Annotated[str, Query(max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")] = "dhaka",
    lang: Annotated[str | None, Query(max_length=16, description="Page language: en, bn or ja.")] = None,
) -> HTMLResponse:
    return render_page(request, settings, lang, "requests.html", city=city)
