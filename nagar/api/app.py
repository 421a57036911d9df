"""The FastAPI application: mounts each domain's router, owns the store, maps errors to JSON."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

import nagar
from nagar.core.errors import NagarError
from nagar.core.settings import Settings, get_settings
from nagar.store import open_store

log = logging.getLogger("nagar")


def _loc(loc) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or ".".join(str(p) for p in loc)


# Pydantic (2.x) starts the message of an error raised in a validator with its kind: "Value error, ..."
# (type value_error) or "Assertion failed, ..." (assertion_error). The caller needs only the reason.
_PYDANTIC_PREFIXES = {"value_error": "Value error, ", "assertion_error": "Assertion failed, "}


def _reason(e: dict) -> str:
    msg = str(e.get("msg", "invalid"))
    prefix = _PYDANTIC_PREFIXES.get(e.get("type"))
    return msg[len(prefix):] if prefix and msg.startswith(prefix) else msg


def _form_fields(request: Request) -> list[str]:
    """Names of the form fields the matched route reads (empty for JSON-body routes)."""
    from fastapi.params import Form

    dependant = getattr(request.scope.get("route"), "dependant", None)
    return [f.alias for f in getattr(dependant, "body_params", []) if isinstance(f.field_info, Form)]


API_AUTH_DESCRIPTION = """

**Signing in.** Press *Authorize*: either sign in with a username and password (OAuth2 password grant on
`POST /api/v1/auth/token`; the access token lasts 15 minutes) or paste an API key (`X-API-Key`). A platform
admin is made on the server with `nagar admin create-user NAME --platform-admin`; create a long-lived key with
`POST /api/v1/keys`. Routes with a padlock need one of these; open padlocks read more when you are signed in
(your cities besides the open-data ones).

**Signed in to the dashboard in this browser?** Its session cookie goes with every request from this page.
Reads work with it, but a write with only that cookie is refused ("missing or wrong CSRF token"): authorize
here with an API key or a token, which take precedence over the cookie and need no CSRF header.
"""


def create_app(settings: Settings | None = None, *, store=None) -> FastAPI:
    """Build the app. ``store`` may be handed in (tests, the demo); otherwise it is opened from settings."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        own = store is None
        app.state.store = store if store is not None else open_store(settings)
        from nagar.reactions import Reactions

        # alert rules evaluated as observations are written; fault detection on the store the app owns
        # (a store handed in belongs to its caller, who may attach it)
        reactions = Reactions(app.state.store, settings, quality=own)
        app.state.quality = reactions.quality
        from nagar.forecast.service import ForecastTrainer  # PM2.5 models retrained in the background

        app.state.forecast = ForecastTrainer(app.state.store, settings).start() if own else None
        from nagar.ngsild.service import start as ngsild_start

        ngsild_start(app.state.store, settings)  # NGSI-LD: its store write listener from the start
        if getattr(app.state, "tune_gc", False):  # set by nagar.api.server.run: a server process
            from nagar.api.server import tune_gc

            tune_gc()
        try:
            yield
        finally:
            if app.state.forecast is not None:
                app.state.forecast.stop()
            reactions.stop()
            from nagar.ngsild.service import shutdown as ngsild_shutdown

            ngsild_shutdown(app.state.store)
            if own:
                app.state.store.close()

    app = FastAPI(
        title="Nagar",
        version=nagar.__version__,
        description="Open urban environment platform: stations and observations, air quality, the GHG inventory and "
                    "the climate fund, e-waste, water quality, alerts, forecasts and data quality, citizen service "
                    "requests (Open311 GeoReport v2), open data (DCAT-AP) and an NGSI-LD context broker."
                    + API_AUTH_DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served from the package by nagar.security.http.docs_router (no CDN, no inline script)
        redoc_url=None,
        telemetry=None if settings.opentelemetry else {"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    from nagar.security.http import docs_router, install
    from nagar.security.tokens import resolve_secret

    app.state.secret = resolve_secret(settings)
    from nagar.core.forms import Utf8FormMiddleware

    app.add_middleware(Utf8FormMiddleware)  # raw UTF-8 in form bodies; inside the body limit added next
    install(app, settings)  # security headers, CORS (if configured), per-IP rate limit, body size limit
    if store is not None:
        app.state.store = store

    @app.exception_handler(NagarError)
    async def nagar_error(request: Request, exc: NagarError):
        return JSONResponse(exc.to_dict(), status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        errors = []
        for e in exc.errors():
            if e.get("type") == "json_invalid":  # loc is (body, byte offset): name the body, say where
                ctx = e.get("ctx") or {}
                errors.append({"field": "body", "type": "json_invalid",
                               "reason": f"body is not valid JSON ({ctx.get('error', 'decode error')} "
                                         f"at character {e['loc'][-1]})"})
            else:
                errors.append({"field": _loc(e.get("loc", ())), "reason": _reason(e),
                               "type": e.get("type")})
        first = errors[0] if errors else {"field": None, "reason": "invalid request"}
        form = _form_fields(request)
        if form and "json" in request.headers.get("content-type", "").lower():  # e.g. /auth/token sent as JSON
            return JSONResponse({"error": "invalid_input", "field": "body", "details": errors, "message": (
                f"this route takes form fields ({', '.join(form)}) sent as application/x-www-form-urlencoded, "
                "not a JSON body")}, status_code=422)
        return JSONResponse(
            {"error": "invalid_input", "message": f"{first['field']}: {first['reason']}", "field": first["field"],
             "details": errors},
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 400:  # FastAPI could not parse the body (e.g. not UTF-8): the caller's input
            return JSONResponse({"error": "invalid_input", "message": f"body: {exc.detail}", "field": "body"},
                                status_code=422)
        codes = {404: "not_found", 405: "method_not_allowed"}
        return JSONResponse({"error": codes.get(exc.status_code, "http_error"), "message": str(exc.detail)},
                            status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):  # pragma: no cover - a bug, logged
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"error": "internal_error", "message": "internal error; see the server log"},
                            status_code=500)

    from nagar.air import views as air_views
    from nagar.ingest import views as ingest_views
    from nagar.registry import views as registry_views
    from nagar.security import views as security_views
    from nagar.security.permissions import Perm, check_routes, require

    app.include_router(registry_views.router)
    app.include_router(ingest_views.router)
    app.include_router(air_views.router)
    app.include_router(security_views.router)
    from nagar.climate import views as climate_views

    app.include_router(climate_views.router)
    from nagar.funding import views as funding_views

    app.include_router(funding_views.router)
    from nagar.waste import views as waste_views

    app.include_router(waste_views.router)
    app.include_router(waste_views.keys_router)
    from nagar.water import views as water_views

    app.include_router(water_views.router)
    from nagar.alerts import views as alerts_views

    app.include_router(alerts_views.router)
    from nagar.quality import views as quality_views

    app.include_router(quality_views.router)
    from nagar.ngsild import views as ngsild_views

    from nagar.forecast import views as forecast_views

    app.include_router(forecast_views.router)
    from nagar.opendata import views as opendata_views
    from nagar.requests import views as requests_views

    app.include_router(requests_views.open311_router)
    app.include_router(requests_views.router)
    app.include_router(opendata_views.router)
    ngsild_views.install(app)  # router + its credential cache middleware

    @app.get("/api/v1/health", tags=["meta"], summary="Liveness and store summary", **require(Perm.PUBLIC))
    def health(request: Request) -> dict:
        st = request.app.state.store.stats()
        return {"status": "ok", "version": nagar.__version__, "cities": st.cities, "stations": st.stations,
                "observations": st.observations}

    try:
        from nagar.web import views as web_views
    except ImportError:  # pragma: no cover - the dashboard is part of the package
        web_views = None
    if web_views is not None and hasattr(web_views, "router"):
        from nagar.web import auth as web_auth

        from nagar.web import climate_views

        app.include_router(web_views.router)
        app.include_router(web_auth.router)
        app.include_router(climate_views.router)
        from nagar.web import ewaste_views

        app.include_router(ewaste_views.router)
        from nagar.web import water_views

        app.include_router(water_views.router)
        from nagar.web import quality_views

        app.include_router(quality_views.router)
        from nagar.web import requests_views

        app.include_router(requests_views.router)
        if hasattr(web_views, "mount_static"):
            web_views.mount_static(app)
    app.include_router(docs_router)
    check_routes(app)
    from nagar.security.permissions import install_openapi_security

    install_openapi_security(app)  # Authorize button and padlocks on /docs
    return app
