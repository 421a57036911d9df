"""Dashboard sign-in: a session cookie (HttpOnly, SameSite=Strict, Secure over HTTPS) and CSRF tokens on forms.

* The sign-in form carries a random token that must equal a short-lived cookie (double submit), so
  another site cannot sign a browser in to an account of its choosing.
* A session is a signed JWT (``typ`` "session") in ``nagar_session``; its CSRF token is an HMAC of the
  session's jti (``nagar.security.tokens.csrf_token``), sent back by forms (``csrf_token`` field) and by
  the dashboard's script (``X-CSRF-Token`` header, read from the ``nagar_csrf`` cookie).
* Every cookie is marked Secure as ``Settings.cookie_secure`` says (``nagar.security.http.secure_cookies``:
  by default when the request came over HTTPS, so that sign-in also works over plain HTTP on a LAN). When
  it is forced on and a form comes back over plain HTTP without its cookie, the page says why.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from nagar.core.errors import NagarError
from nagar.security import service as security
from nagar.security import tokens
from nagar.security.http import over_https, secure_cookies
from nagar.security.permissions import CSRF_COOKIE, SESSION_COOKIE, Perm, require

from . import i18n

router = APIRouter(include_in_schema=False)
LOGIN_CSRF_COOKIE = "nagar_login_csrf"


def session_user(request: Request) -> tuple[dict | None, str]:
    """The signed-in user of the session cookie (or None) and the session's CSRF token."""
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None, ""
    try:
        claims = tokens.decode_token(request.app.state.secret, raw, typ="session")
    except NagarError:
        return None, ""
    store = request.app.state.store
    if store.token_revoked(claims["jti"]):
        return None, ""
    user = store.get_user(user_id=int(claims["sub"]))
    if user is None or user["disabled"]:
        return None, ""
    return user, tokens.csrf_token(request.app.state.secret, claims["jti"])


def _render(request: Request, lang: str, *, error: str | None = None, username: str | None = None,
            status_code: int = 200) -> HTMLResponse:
    from .views import _environment, _static_url

    token = secrets.token_urlsafe(24)
    html = _environment(lang).get_template("login.html").render(
        lang=lang, root=request.scope.get("root_path", "").rstrip("/"), csrf_token=token, error=error,
        username=username, static=lambda rel: _static_url(request, rel))
    resp = HTMLResponse(html, status_code=status_code)
    resp.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=900, httponly=True, samesite="strict",
                    secure=secure_cookies(request), path="/")
    resp.headers["Cache-Control"] = "no-store"
    return resp


@router.get("/login", response_class=HTMLResponse, **require(Perm.PUBLIC))
def login_page(request: Request, lang: Annotated[str | None, Query(max_length=16)] = None) -> HTMLResponse:
    from .views import _page_language

    return _render(request, _page_language(request, lang))


@router.post("/login", **require(Perm.PUBLIC))
def login_submit(request: Request, username: Annotated[str, Form(max_length=64)],
                 password: Annotated[str, Form(max_length=256)], csrf_token: Annotated[str, Form(max_length=64)],
                 lang: Annotated[str | None, Form(max_length=16)] = None):
    from .views import _page_language

    page_lang = _page_language(request, lang)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    settings = request.app.state.settings
    if not expected and settings.cookie_secure == "true" and not over_https(request):
        # the browser dropped the Secure sign-in cookie over plain HTTP: "expired" would be a wrong lead
        msg = i18n.gettext(page_lang, "Sign-in over plain http:// cannot work here: the server forces Secure "
                                      "cookies ({setting}=true), which the browser keeps for https:// only. Open "
                                      "this page with https://, or have the administrator set {setting}=auto.")
        return _render(request, page_lang, error=msg.format(setting="NAGAR_COOKIE_SECURE"), status_code=403)
    if not expected or not hmac.compare_digest(expected, csrf_token):
        return _render(request, page_lang, error=i18n.gettext(page_lang, "The form expired; please try again."),
                       status_code=403)
    store = request.app.state.store
    try:
        user = security.authenticate(store, settings=settings, username=username, password=password,
                                     client=request.client.host if request.client else "")
    except NagarError as exc:
        msg = i18n.gettext(page_lang, "Wrong username or password.") if exc.status_code == 401 and \
            "locked" not in exc.message else exc.message
        return _render(request, page_lang, error=msg, username=username, status_code=401)
    token, jti, _ = tokens.issue_token(request.app.state.secret, sub=str(user["id"]), typ="session",
                                      lifetime=timedelta(days=settings.refresh_token_days))
    resp = RedirectResponse(url=request.scope.get("root_path", "").rstrip("/") + f"/?lang={page_lang}",
                            status_code=303)
    max_age = settings.refresh_token_days * 86400
    secure = secure_cookies(request)
    resp.set_cookie(SESSION_COOKIE, token, max_age=max_age, httponly=True, samesite="strict",
                    secure=secure, path="/")
    resp.set_cookie(CSRF_COOKIE, tokens.csrf_token(request.app.state.secret, jti), max_age=max_age,
                    httponly=False, samesite="strict", secure=secure, path="/")
    resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return resp


@router.post("/logout", **require(Perm.PUBLIC))
def logout_submit(request: Request, csrf_token: Annotated[str, Form(max_length=128)] = ""):
    user, expected = session_user(request)
    resp = RedirectResponse(url=request.scope.get("root_path", "").rstrip("/") + "/", status_code=303)
    if user is not None:
        if not hmac.compare_digest(expected, csrf_token):
            return HTMLResponse("missing or wrong CSRF token", status_code=403)
        claims = tokens.decode_token(request.app.state.secret, request.cookies[SESSION_COOKIE], typ="session")
        from datetime import datetime, timezone

        request.app.state.store.revoke_token(jti=claims["jti"],
                                             expires_at=datetime.fromtimestamp(claims["exp"], timezone.utc),
                                             now=datetime.now(timezone.utc))
        security.audit.record(request.app.state.store, actor=f"user:{user['username']}", action="logout")
    resp.delete_cookie(SESSION_COOKIE, path="/")
    resp.delete_cookie(CSRF_COOKIE, path="/")
    return resp
