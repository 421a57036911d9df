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

from . import i18n
from .views import (API_PREFIX, LANG_COOKIE, LANG_COOKIE_MAX_AGE, SettingsDep, _content_security_policy,
                    _environment, _page_language, _static_url)

router = APIRouter(include_in_schema=False)

LangQuery = Annotated[str | None, Query(max_length=16, description="Page language: en, bn or ja.")]


def _render(request: Request, settings, lang: str | None, template_name: str, **context) -> HTMLResponse:
    """Render one page with the dashboard's context, headers (CSP) and language cookie."""
    page_lang = _page_language(request, lang)
    root = request.scope.get("root_path", "").rstrip("/")
    user, csrf = (None, "")
    if getattr(request.app.state, "store", None) is not None and getattr(request.app.state, "secret", None):
        from .auth import session_user

        user, csrf = session_user(request)
    html = _environment(page_lang).get_template(template_name).render(
        root=root,
        username=user["username"] if user else None,
        csrf_token=csrf,
        lang=page_lang,
        intl_locale=i18n.INTL_LOCALES[page_lang],
        languages=[(code, i18n.language_name(code)) for code in i18n.LANGUAGES],
        api_base=root + API_PREFIX,
        i18n_url=f"{root}/i18n/{page_lang}.json",
        geo_url=_static_url(request, "geo/countries.geojson"),
        tile_url=settings.tile_url or "",
        static=lambda relative: _static_url(request, relative),
        **context,
    )
    response = HTMLResponse(html)
    response.headers["Content-Security-Policy"] = _content_security_policy(settings.tile_url)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Vary"] = "Accept-Language, Cookie"
    if i18n.normalise(lang) == page_lang and request.cookies.get(LANG_COOKIE) != page_lang:
        response.set_cookie(LANG_COOKIE, page_lang, max_age=LANG_COOKIE_MAX_AGE, samesite="lax", path="/")
    return response


@router.get("/climate", response_class=HTMLResponse, **require(Perm.PUBLIC))
def climate_page(
    request: Request,
    settings: SettingsDep,
    city: Annotated[str, Query(max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")] = "dhaka",
    year: Annotated[int | None, Query(ge=1900, le=2100)] = None,
    lang: LangQuery = None,
) -> HTMLResponse:
    """A city's GPC inventory by sector and scope (BASIC / BASIC+) and its BAU and portfolio pathways."""
    return _render(request, settings, lang, "climate.html", city=city, year=year or "")


@router.get("/fund", response_class=HTMLResponse, **require(Perm.PUBLIC))
def fund_page(request: Request, settings: SettingsDep, lang: LangQuery = None) -> HTMLResponse:
    """The latest plan's portfolio (map and table), the efficient frontier and the MAC curve."""
    return _render(request, settings, lang, "fund.html")
