"""Two dashboard pages: river water quality (``/water``: stations on a map coloured by CCME WQI category,
a parameter's history against its limit, exceedances) and the city's alerts (``/alerts``: the alert
history and the rules). Like the other pages they load nothing from outside the server and draw data
fetched from the JSON API (``/api/v1/cities/{city}/water``, ``/api/v1/cities/{city}/alerts``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from nagar.security.permissions import Perm, require

from .views import SettingsDep, render_page

router = APIRouter(include_in_schema=False)

LangQuery = Annotated[str | None, Query(max_length=16, description="Page language: en, bn or ja.")]
CityQuery = Annotated[str, Query(max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")]


@router.get("/water", response_class=HTMLResponse, **require(Perm.PUBLIC))
def water_page(request: Request, settings: SettingsDep, city: CityQuery = "dhaka",
               lang: LangQuery = None) -> HTMLResponse:
    """River water quality of a city: CCME WQI per station on a map, a parameter's history, exceedances."""
    return render_page(request, settings, lang, "water.html", city=city)


@router.get("/alerts", response_class=HTMLResponse, **require(Perm.PUBLIC))
def alerts_page(request: Request, settings: SettingsDep, city: CityQuery = "dhaka",
                lang: LangQuery = None) -> HTMLResponse:
    """A city's alert history (onsets and recoveries) and its rules."""
    return render_page(request, settings, lang, "alerts.html", city=city)
