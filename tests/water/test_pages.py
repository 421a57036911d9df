"""The /water and /alerts dashboard pages render (strict CSP, no inline script), link each other, and are
translated."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from nagar.api.app import create_app
from nagar.core.settings import Settings


@pytest.fixture
def client(wstore, tmp_path):
    with TestClient(create_app(Settings(secret_key="x" * 32, db=tmp_path / "u.duckdb"), store=wstore)) as c:
        yield c


@pytest.mark.parametrize("page,script", [("/water", "js/water.js"), ("/alerts", "js/alerts.js")])
def test_page_renders_with_its_script_and_nav(client, page, script):
    r = client.get(page, params={"city": "dhaka", "lang": "en"})
    assert r.status_code == 200 and "script-src 'self'" in r.headers["content-security-policy"]
    html = r.text
    assert script in html and 'data-city="dhaka"' in html
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None  # no inline script
    assert 'href="/water?lang=en"' in html and 'href="/alerts?lang=en"' in html
    assert client.get(page, params={"city": "Bad City!"}).status_code == 422


def test_pages_in_bengali(client):
    assert "নদীর পানির গুণমান" in client.get("/water", params={"lang": "bn"}).text
    assert "সতর্কতার ইতিহাস" in client.get("/alerts", params={"lang": "bn"}).text
    assert 'href="/water?lang=bn"' in client.get("/", params={"lang": "bn"}).text  # the air dashboard links here
