"""The data-quality page (``/quality``): faults per station of a city, a station's raw series with its
flagged readings marked, its fault list, and its next-24-hour PM2.5 forecast with AQI category colours.
Like the other pages it loads nothing from outside the server and draws data from the JSON API
(``/api/v1/cities/{city}/quality/...`` and ``.../forecast``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from nagar.security.permissions import Perm, require

from .views import SettingsDep, render_page

router = APIRouter(include_in_schema=False)


@router.get("/quality", response_class=HTMLResponse, **require(Perm.PUBLIC))
def quality_page(
    request: Request,
    settings: SettingsDep,
    city: Annotated[str, Query(max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")] = "dhaka",
    station: Annotated[str, Query(max_length=64, pattern=r"^$|^[a-z0-9][a-z0-9._-]*$")] = "",
    lang: Annotated[str | None, Query(max_length=16, description="Page language: en, bn or ja.")] = None,
) -> HTMLResponse:
    """Faults per station, a station's flagged series and fault list, and its PM2.5 forecast."""
    return render_page(request, settings, lang, "quality.html", city=city, station=station)
