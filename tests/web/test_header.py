"""The header is one component on every page: the same pages nav, language switch and account block
(Sign out for a signed-in user, Sign in otherwise), whatever controls the page adds. Rendered HTML of the
whole app (``create_app``) through the test client, signed in through the real /login form."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from nagar.core.settings import Settings

from tests.conftest import DHAKA, make_user

PAGES = ["/", "/climate", "/fund", "/ewaste", "/water", "/alerts", "/quality", "/requests"]
PASSWORD = "correct horse battery"  # tests.conftest.make_user


@pytest.fixture
def app_client(tmp_path):
    from nagar.api.app import create_app
    from nagar.store.duckdb import DuckDBStore

    store = DuckDBStore(tmp_path / "t.duckdb")
    store.upsert_city(DHAKA)
    make_user(store, "alice", platform_admin=True)
    app = create_app(Settings(db=tmp_path / "unused.duckdb", secret_key="k" * 40), store=store)
    with TestClient(app, base_url="https://testserver") as client:  # Secure cookies need https
        yield client
    store.close()


def _sign_in(client: TestClient) -> None:
    form = client.get("/login?lang=en").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    r = client.post("/login", data={"username": "alice", "password": PASSWORD, "csrf_token": token, "lang": "en"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text


def _account(html: str) -> str:
    """The account block of the header, whitespace collapsed."""
    m = re.search(r'<div class="account">(.*?)</header>', html, flags=re.S)
    assert m, "no account block at the end of the header"
    return re.sub(r"\s+", " ", m.group(1)).strip()


def _skeleton(html: str) -> list[str]:
    """The header's structure: the class names of its elements in order (the page's own controls left out)."""
    header = re.search(r'<header class="topbar">(.*?)</header>', html, flags=re.S).group(1)
    header = re.sub(r'<form class="controls".*?</form>', "", header, flags=re.S)
    return re.findall(r'class="([^"]+)"', header)


@pytest.mark.parametrize("lang", ["en", "bn"])
def test_every_page_has_the_same_header_with_sign_out_when_signed_in(app_client, lang):
    _sign_in(app_client)
    accounts, skeletons = {}, {}
    for path in PAGES:
        r = app_client.get(f"{path}?lang={lang}")
        assert r.status_code == 200, path
        accounts[path] = _account(r.text)
        skeletons[path] = _skeleton(r.text)
        assert 'action="/logout"' in accounts[path], path  # a Sign out form on every page
        assert 'id="sign-out"' in accounts[path], path
        assert "alice" in accounts[path], path
        assert 'name="csrf_token"' in accounts[path] and 'value=""' not in accounts[path], path
    assert len(set(accounts.values())) == 1, accounts
    assert len({tuple(s) for s in skeletons.values()}) == 1, skeletons


def test_every_page_offers_sign_in_when_signed_out(app_client):
    for path in PAGES:
        account = _account(app_client.get(f"{path}?lang=en").text)
        assert 'id="sign-in"' in account and "/logout" not in account, path


def test_sign_out_from_another_page_ends_the_session(app_client):
    _sign_in(app_client)
    html = app_client.get("/alerts?lang=en").text
    token = re.search(r'action="/logout".*?name="csrf_token" value="([^"]+)"', html, flags=re.S).group(1)
    r = app_client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert 'id="sign-in"' in _account(app_client.get("/alerts?lang=en").text)
