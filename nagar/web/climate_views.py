"""Two more dashboard pages: the city's greenhouse-gas inventory and pathway (``/climate``) and the
climate fund's chosen portfolio, efficient frontier and marginal-abatement-cost curve (``/fund``).

The lead mounts it with ``app.include_router(nagar.web.climate_views.router)`` (next to
``nagar.web.views.router`` and ``mount_static``). Like the dashboard, the pages load nothing from outside
the server and draw data fetched from the JSON API (``/api/v1/climate``, ``/api/v1/funding``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from nagar.security.permissions import Perm, require

from .views import SettingsDep, render_page

router = APIRouter(include_in_schema=False)

LangQuery = Annotated[str | None, Query(max_length=16, description="Page language: en, bn or ja.")]


@router.get("/climate", response_class=HTMLResponse, **require(Perm.PUBLIC))
def climate_page(
    request: Request,
    settings: SettingsDep,
    city: Annotated[str, Query(max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")] = "dhaka",
    year: Annotated[int | None, Query(ge=1900, le=2100)] = None,
    lang: LangQuery = None,
) -> HTMLResponse:
    """A city's GPC inventory by sector and scope (BASIC / BASIC+) and its BAU and portfolio pathways."""
    return render_page(request, settings, lang, "climate.html", city=city, year=year or "")


@router.get("/fund", response_class=HTMLResponse, **require(Perm.PUBLIC))
def fund_page(request: Request, settings: SettingsDep, lang: LangQuery = None) -> HTMLResponse:
    """The latest plan's portfolio (map and table), the efficient frontier and the MAC curve."""
    return render_page(request, settings, lang, "fund.html")
