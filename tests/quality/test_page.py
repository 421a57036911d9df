"""The /quality page: served, translated, linked from the other pages' navigation, strict CSP."""

from __future__ import annotations

from fastapi.testclient import TestClient

from nagar.api.app import create_app
from nagar.core.settings import Settings
from tests.conftest import DHAKA


def test_quality_page_and_nav(store, tmp_path):
    store.upsert_city({**DHAKA, "open_data": True})
    app = create_app(Settings(db=tmp_path / "unused.duckdb", secret_key="s" * 32), store=store)
    with TestClient(app) as c:
        r = c.get("/quality?city=dhaka&station=st1&lang=bn")
        assert r.status_code == 200 and "script-src 'self'" in r.headers["Content-Security-Policy"]
        assert 'data-station="st1"' in r.text and "js/quality.js" in r.text
        assert "তথ্যের মান" in r.text  # "Data quality" in Bangla
        assert "<script>" not in r.text and " style=" not in r.text
        assert c.get("/quality?city=../etc").status_code == 422
        for page in ("/", "/climate", "/fund"):
            assert '/quality?lang=' in c.get(page).text, page
