"""Validation messages say what is wrong without Pydantic's "Value error, " prefix (one place: the app's
RequestValidationError handler)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from nagar.api.app import create_app
from nagar.core.settings import Settings
from nagar.store.duckdb import DuckDBStore
from tests.conftest import DHAKA, bearer, make_user


def test_value_error_prefix_is_not_shown(tmp_path):
    store = DuckDBStore(":memory:")
    store.upsert_city(DHAKA)
    app = create_app(Settings(secret_key="x" * 32, db=tmp_path / "u.duckdb"), store=store)
    oper = make_user(store, "oper", roles={"dhaka": "operator"})
    with TestClient(app) as c:
        # SamplesIn's model validator raises ValueError for a body that is neither a list nor an object
        r = c.post("/api/v1/cities/dhaka/water/samples", json="do=6", headers=bearer(app, oper))
    assert r.status_code == 422
    body = r.json()
    assert body["message"] == 'body: expected {"samples": [...]} or a JSON list of samples'
    assert [d["reason"] for d in body["details"]] == ['expected {"samples": [...]} or a JSON list of samples']
    assert "Value error" not in r.text
