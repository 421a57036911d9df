"""Bad input never yields a 500: random query strings and random JSON rows against the real app."""

import json

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nagar.api.app import create_app
from nagar.core.settings import Settings

junk = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=30),
                 st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))
rows = st.lists(
    st.fixed_dictionaries({}, optional={k: junk for k in ("station", "parameter", "time", "value", "unit", "flag")}),
    max_size=8,
)
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from nagar.store.duckdb import DuckDBStore
    from tests.conftest import DHAKA

    s = DuckDBStore(tmp_path_factory.mktemp("fuzz") / "f.duckdb")
    s.upsert_city(DHAKA)
    s.upsert_station(dict(id="st1", city="dhaka", name="S", lat=23.7, lon=90.4, parameters=["pm25"]))
    from tests.conftest import bearer, make_user

    app = create_app(Settings(secret_key="f" * 32), store=s)
    with TestClient(app, headers=bearer(app, make_user(s, "root", platform_admin=True))) as c:
        yield c
    s.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=rows)
def test_random_rows_are_accepted_or_rejected_never_500(client, body):
    r = client.post("/api/v1/observations", content=json.dumps(body), headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    j = r.json()
    assert j["inserted"] + j["updated"] + j["rejected"] == len(body)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(["/api/v1/aqi", "/api/v1/aqi/latest", "/api/v1/observations", "/api/v1/who/exceedances",
                             "/api/v1/stations", "/api/v1/standards/x"]),
       params=st.dictionaries(st.sampled_from(["station", "city", "start", "end", "standard", "resolution", "parameter",
                                               "aggregation", "limit", "level", "period"]), text, max_size=5))
def test_random_queries_never_500(client, path, params):
    r = client.get(path, params=params)
    assert r.status_code < 500, (path, params, r.text)
    assert "application/json" in r.headers["content-type"]
    if r.status_code >= 400:
        assert r.json()["message"]
