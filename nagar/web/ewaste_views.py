"""The e-waste dashboard page (``/ewaste``): e-waste generated (UNU model) against documented collection
per EEE category and year (Chart.js), and the city's collection points on a map (Leaflet). The page
draws data fetched from the JSON API (``/api/v1/cities/{city}/ewaste/...``); nothing loads from outside.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from nagar.security.permissions import Perm, require

from .views import SettingsDep, render_page

router = APIRouter(include_in_schema=False)


@router.get("/ewaste", response_class=HTMLResponse, **require(Perm.PUBLIC))
def ewaste_page(
    request: Request,
    settings: SettingsDep,
    city: Annotated[str, Query(max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")] = "dhaka",
    lang: Annotated[str | None, Query(max_length=16, description="Page language: en, bn or ja.")] = None,
) -> HTMLResponse:
    """E-waste generated vs collected by category and year, and the collection points."""
    return render_page(request, settings, lang, "ewaste.html", city=city)
