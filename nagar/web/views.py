"""The dashboard: one page at ``/`` and the translated strings its script needs.

The lead mounts it with ``app.include_router(nagar.web.views.router)`` and ``mount_static(app)``. The page
loads nothing from outside the server (closed city networks): Leaflet, Chart.js and the country outlines
are shipped in ``static/``; the data comes from the JSON API under ``/api/v1``.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from nagar.security.permissions import Perm, require

from nagar.core.settings import Settings, get_settings

from . import i18n

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"
TEMPLATES_DIR = WEB_DIR / "templates"
LANG_COOKIE = "nagar_lang"
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600
API_PREFIX = "/api/v1"

router = APIRouter(include_in_schema=False)

i18n.load_all()  # read the catalogues now: a broken .po file fails at start-up, not on a request


def mount_static(app: FastAPI) -> None:
    """Serve ``nagar/web/static`` at ``/static`` (vendored libraries, script, style, outlines)."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


def _settings(request: Request) -> Settings:
    """The app's settings when the app keeps them on ``app.state.settings``, else the environment's."""
    settings = getattr(request.app.state, "settings", None)
    return settings if isinstance(settings, Settings) else get_settings()


SettingsDep = Annotated[Settings, Depends(_settings)]


@lru_cache(maxsize=None)
def _environment(lang: str) -> Environment:
    """One Jinja2 environment per language, its gettext bound to that language's catalogue."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(i18n.translations(lang), newstyle=True)  # type: ignore[attr-defined]
    return env


@lru_cache(maxsize=None)
def _asset_version(relative: str) -> str:
    """A short content hash appended to asset URLs so that browsers never run a stale script."""
    path = STATIC_DIR / relative
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:10]
    except OSError:
        return "0"


def _static_url(request: Request, relative: str) -> str:
    root = request.scope.get("root_path", "").rstrip("/")
    return f"{root}/static/{relative}?v={_asset_version(relative)}"


def _content_security_policy(tile_url: str | None) -> str:
    """The page's CSP: only our own origin (plus the tile server's when one is configured)."""
    img = ["'self'", "data:"]
    if tile_url:
        parts = urlsplit(tile_url)
        if parts.scheme in ("http", "https") and parts.netloc:
            # "{s}.tile.example.org" (Leaflet's subdomain placeholder) becomes "*.tile.example.org"
            host = parts.netloc.replace("{s}", "*")
            img.append(f"{parts.scheme}://{host}")
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {' '.join(img)}",
            "connect-src 'self'",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def _page_language(request: Request, lang: str | None) -> str:
    return i18n.negotiate(
        requested=lang,
        cookie=request.cookies.get(LANG_COOKIE),
        accept=request.headers.get("accept-language"),
    )


def render_page(request: Request, settings: Settings, lang: str | None, template_name: str,
                **context) -> HTMLResponse:
    """Render one dashboard page: the shared context (language, signed-in user and CSRF token, API base,
    asset URLs), its headers (CSP) and the language cookie. Every HTML page goes through here."""
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


@router.get("/", response_class=HTMLResponse, **require(Perm.PUBLIC))
def dashboard(
    request: Request,
    settings: SettingsDep,
    lang: Annotated[str | None, Query(max_length=16, description="Page language: en, bn or ja.")] = None,
) -> HTMLResponse:
    """The air-quality dashboard of a city: stations map, one station's week of AQI, standard switch."""
    return render_page(request, settings, lang, "dashboard.html")


@router.get("/i18n/{lang}.json", **require(Perm.PUBLIC))
def messages(lang: str) -> JSONResponse:
    """Every translated string of ``lang`` for the page's script: ``{"lang", "locale", "messages"}``.

    A msgid missing from ``messages`` is shown in English by the script.
    """
    if lang not in i18n.LANGUAGES:
        raise HTTPException(status_code=404, detail=f"no translations for language {lang!r}")
    body = {
        "lang": lang,
        "locale": i18n.INTL_LOCALES[lang],
        "messages": i18n.translations(lang).as_dict(),
    }
    return JSONResponse(body, headers={"Cache-Control": "public, max-age=300"})
