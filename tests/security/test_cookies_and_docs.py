"""Dashboard cookies over plain HTTP and HTTPS (NAGAR_COOKIE_SECURE), the CSRF refusal's advice, and the
OpenAPI security schemes that give /docs its Authorize button."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from nagar.api.app import create_app
from nagar.core.settings import Settings
from nagar.store.duckdb import DuckDBStore
from tests.conftest import _PASSWORD, DHAKA, make_user

LAN = "http://nagar.lan:8400"  # a server on an office network, reached over plain HTTP


@pytest.fixture
def make(tmp_path):
    stores = []

    def build(**settings):
        store = DuckDBStore(tmp_path / f"c{len(stores)}.duckdb")
        stores.append(store)
        store.upsert_city(DHAKA)
        make_user(store, "officer", roles={"dhaka": "city_admin"})
        app = create_app(Settings(secret_key="c" * 40, **settings), store=store)
        return app

    yield build
    for s in stores:
        s.close()


def _cookie(response, name: str) -> str:
    """The Set-Cookie header for ``name``, lower-cased."""
    return next(c for c in response.headers.get_list("set-cookie") if c.startswith(name + "=")).lower()


def _attributes(set_cookie: str) -> set[str]:
    return {part.strip().split("=")[0] for part in set_cookie.split(";")[1:]}


def _form_token(page) -> str:
    return page.text.split('name="csrf_token" value="')[1].split('"')[0]


def _sign_in(client):
    page = client.get("/login")
    assert page.status_code == 200
    return page, client.post("/login", data={"username": "officer", "password": _PASSWORD,
                                             "csrf_token": _form_token(page)}, follow_redirects=False)


# --- the setting ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [("auto", "auto"), ("true", "true"), ("TRUE", "true"), ("1", "true"),
                                            ("yes", "true"), ("false", "false"), ("0", "false"), ("off", "false"),
                                            (True, "true"), (False, "false")])
def test_cookie_secure_setting_reads_auto_or_a_boolean(text, expected):
    assert Settings(cookie_secure=text).cookie_secure == expected


def test_cookie_secure_default_is_auto_and_nonsense_is_refused(monkeypatch):
    monkeypatch.delenv("NAGAR_COOKIE_SECURE", raising=False)
    assert Settings.from_env().cookie_secure == "auto"
    monkeypatch.setenv("NAGAR_COOKIE_SECURE", "sometimes")
    with pytest.raises(ValidationError, match="auto, true or false"):
        Settings.from_env()


# --- auto: sign-in works over plain HTTP on a LAN address ---------------------------------------------------
def test_sign_in_over_plain_http_on_a_lan_address(make):
    with TestClient(make(), base_url=LAN) as client:
        page, r = _sign_in(client)
        assert "secure" not in _attributes(_cookie(page, "nagar_login_csrf"))
        assert r.status_code == 303, r.text
        session = _cookie(r, "nagar_session")
        assert "secure" not in _attributes(session)
        assert {"httponly", "samesite"} <= _attributes(session) and "samesite=strict" in session
        assert "secure" not in _attributes(_cookie(r, "nagar_csrf"))
        # the client's cookie jar (like a browser's) sends the session back over http
        assert client.get("/api/v1/me").json()["username"] == "officer"


def test_auto_marks_cookies_secure_over_https(make):
    with TestClient(make(), base_url="https://nagar.example.org") as client:
        page, r = _sign_in(client)
        assert "secure" in _attributes(_cookie(page, "nagar_login_csrf"))
        assert r.status_code == 303
        assert "secure" in _attributes(_cookie(r, "nagar_session"))
        assert "secure" in _attributes(_cookie(r, "nagar_csrf"))


def test_auto_believes_x_forwarded_proto_only_from_a_trusted_proxy(make):
    app = make(trusted_proxies=["10.0.0.0/8"])
    tls = {"X-Forwarded-Proto": "https"}
    with TestClient(app, base_url="http://nagar.example.org", client=("10.1.2.3", 5000)) as client:
        assert "secure" in _attributes(_cookie(client.get("/login", headers=tls), "nagar_login_csrf"))
        assert "secure" not in _attributes(_cookie(client.get("/login"), "nagar_login_csrf"))  # proxy said http
    with TestClient(app, base_url="http://nagar.example.org", client=("203.0.113.7", 5000)) as client:
        assert "secure" not in _attributes(_cookie(client.get("/login", headers=tls), "nagar_login_csrf"))


@pytest.mark.parametrize("mode, base, secure", [("true", LAN, True), ("false", "https://nagar.example.org", False)])
def test_true_and_false_force_the_flag(make, mode, base, secure):
    with TestClient(make(cookie_secure=mode), base_url=base) as client:
        page = client.get("/login")
        assert ("secure" in _attributes(_cookie(page, "nagar_login_csrf"))) is secure


# --- forced Secure over plain HTTP: the page says why, not "the form expired" ------------------------------
def test_forced_secure_over_plain_http_names_the_setting(make):
    with TestClient(make(cookie_secure="true"), base_url=LAN) as client:
        page = client.get("/login")
        client.cookies.clear()  # what a browser does with a Secure cookie over http://
        r = client.post("/login", data={"username": "officer", "password": _PASSWORD,
                                        "csrf_token": _form_token(page)}, follow_redirects=False)
        assert r.status_code == 403
        assert "NAGAR_COOKIE_SECURE" in r.text and "https://" in r.text
        assert "The form expired" not in r.text
        # a forged token with the cookie present is still the usual answer
        page = client.get("/login")
        client.cookies.set("nagar_login_csrf", "x" * 32)
        r = client.post("/login", data={"username": "officer", "password": _PASSWORD, "csrf_token": "forged"},
                        follow_redirects=False)
        assert r.status_code == 403 and "The form expired" in r.text


def test_missing_cookie_with_auto_is_the_usual_expired_form(make):
    with TestClient(make(), base_url=LAN) as client:
        page = client.get("/login")
        client.cookies.clear()
        r = client.post("/login", data={"username": "officer", "password": _PASSWORD,
                                        "csrf_token": _form_token(page)}, follow_redirects=False)
        assert r.status_code == 403 and "The form expired" in r.text and "NAGAR_COOKIE_SECURE" not in r.text


# --- CSRF refusal says what to do ----------------------------------------------------------------------------
def test_write_with_only_the_dashboard_cookie_explains_what_to_use(make):
    with TestClient(make(), base_url=LAN) as client:
        _, r = _sign_in(client)
        assert r.status_code == 303
        r = client.post("/api/v1/keys", json={"name": "from docs"})  # as /docs would send it: cookie only
        assert r.status_code == 403
        body = r.json()
        assert body["field"] == "x-csrf-token"
        for words in ("X-CSRF-Token", "Authorize", "X-API-Key", "POST /api/v1/auth/token"):
            assert words in body["message"], words
        csrf = client.cookies["nagar_csrf"]
        assert client.post("/api/v1/keys", json={"name": "x"}, headers={"X-CSRF-Token": csrf}).status_code == 201


# --- OpenAPI: the Authorize button and the padlocks --------------------------------------------------------
METHODS = ("get", "put", "post", "delete", "patch")


def test_openapi_declares_the_credentials_the_app_accepts(make):
    app = make()
    spec = TestClient(app).get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["APIKey"] == {**schemes["APIKey"], "type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert schemes["BearerToken"]["type"] == "http" and schemes["BearerToken"]["scheme"] == "bearer"
    token_url = schemes["OAuth2Password"]["flows"]["password"]["tokenUrl"]
    assert "post" in spec["paths"][token_url]  # the flow points at the real sign-in route
    seen = set()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            perm = op["x-nagar-permission"]
            seen.add(perm)
            security = op.get("security")
            if perm in ("public", "device"):
                assert security is None, (method, path)
            elif perm == "city:read":
                assert security[0] == {} and {"APIKey": []} in security, (method, path)  # optional
            else:
                assert {} not in security and {"APIKey": []} in security and {"OAuth2Password": []} in security \
                    and {"BearerToken": []} in security, (method, path)
    assert {"public", "city:read", "city:write", "city:admin", "self", "platform:admin", "device"} <= seen
    assert "Authorize" in spec["info"]["description"]


def test_each_declared_scheme_really_authenticates(make):
    """Sign in as Swagger UI's password flow does, then use the token and an API key the declared ways."""
    app = make()
    with TestClient(app) as client:
        spec = client.get("/openapi.json").json()
        schemes = spec["components"]["securitySchemes"]
        token_url = schemes["OAuth2Password"]["flows"]["password"]["tokenUrl"]
        r = client.post(token_url, data={"grant_type": "password", "username": "officer", "password": _PASSWORD,
                                         "scope": "", "client_id": "", "client_secret": ""})
        assert r.status_code == 200, r.text
        assert r.json()["token_type"].lower() == "bearer"
        bearer = {"Authorization": f"Bearer {r.json()['access_token']}"}
        assert client.get("/api/v1/me", headers=bearer).json()["username"] == "officer"
        key = client.post("/api/v1/keys", json={"name": "swagger"}, headers=bearer).json()["key"]
        assert client.get("/api/v1/me", headers={schemes["APIKey"]["name"]: key}).status_code == 200
        assert client.get("/api/v1/me").status_code == 401


def test_auth_routes_are_described(make):
    spec = make().openapi()
    for path, method in [("/api/v1/auth/token", "post"), ("/api/v1/auth/refresh", "post"),
                         ("/api/v1/auth/logout", "post"), ("/api/v1/auth/password", "post"),
                         ("/api/v1/keys", "post"), ("/api/v1/keys", "get")]:
        op = spec["paths"][path][method]
        assert op.get("summary") and len(op.get("description", "")) > 40, (method, path)
    assert "form fields" in spec["paths"]["/api/v1/auth/token"]["post"]["description"]
