"""Climate routes through the real app: permissions, tenancy (another city is a 404), audit, formats."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient

from nagar.api.app import create_app
from nagar.core.settings import Settings
from nagar.security.permissions import check_routes
from tests.conftest import bearer, make_user

API = "/api/v1/climate"
DIESEL = {"year": 2024, "kind": "fuel", "sector": "commercial", "item": "diesel", "quantity": 1.0, "unit": "kt",
          "source": "test"}


def climate_app(store, tmp_path):
    """The app with the climate router (included here until the lead mounts it in create_app)."""
    from nagar.climate.views import router

    app = create_app(Settings(secret_key="x" * 32, db=tmp_path / "u.duckdb"), store=store)
    if not any(p.startswith(API) for p in app.openapi()["paths"]):
        app.include_router(router)
        app.openapi_schema = None
    check_routes(app)  # every climate route declares its permission
    return app


@pytest.fixture
def world(cstore, tmp_path):
    app = climate_app(cstore, tmp_path)
    users = {"padmin": make_user(cstore, "padmin", platform_admin=True),
             "d_oper": make_user(cstore, "d_oper", roles={"dhaka": "operator"}),
             "d_analyst": make_user(cstore, "d_analyst", roles={"dhaka": "analyst"}),
             "h_admin": make_user(cstore, "h_admin", roles={"hanoi": "city_admin"})}
    with TestClient(app) as client:
        def as_(who):
            return {} if who == "anon" else bearer(app, users[who])
        yield client, as_, cstore


def test_operator_writes_and_reads_the_inventory(world):
    c, as_, store = world
    r = c.post(f"{API}/activity", json={"city": "dhaka", "rows": [DIESEL, {"year": 2024, "kind": "notation",
                                                                            "sector": "I.7.1", "item": "NO",
                                                                            "note": "no coal mining"}]},
               headers=as_("d_oper"))
    assert r.status_code == 200 and r.json() == {"city": "dhaka", "inserted": 2, "updated": 0}
    # 1 kt diesel in commercial buildings, AR5: 3 186.3 + 0.43 x 28 + 0.0258 x 265 = 3 205.177 t CO2e
    inv = c.get(f"{API}/inventory", params={"city": "dhaka", "year": 2024}, headers=as_("d_analyst")).json()
    assert inv["totals"]["basic_t"] == pytest.approx(3205.177) and inv["gwp"] == "ar5"
    i71 = next(r for r in inv["table"] if r["ref"] == "I.7.1")
    assert i71["notation"] == "NO" and i71["explanation"] == "no coal mining"
    # a year without activity data has no inventory (not one of zero emissions)
    r = c.get(f"{API}/inventory", params={"city": "dhaka", "year": 2023}, headers=as_("d_analyst"))
    assert r.status_code == 404 and r.json()["message"].startswith("no activity data for dhaka in 2023")
    assert "years with data: 2024" in r.json()["message"] and r.json()["field"] == "year"
    assert c.get(f"{API}/inventory", params={"city": "dhaka", "gwp": "ar6"},
                 headers=as_("d_analyst")).json()["totals"]["basic_t"] == pytest.approx(3206.1574)
    r = c.get(f"{API}/inventory", params={"city": "dhaka", "format": "csv"}, headers=as_("d_analyst"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert next(x for x in rows if x["ref"] == "I.2.1")["co2e_t"] == "3205.177"
    # the write is in the audit log, with the actor and the city
    entries = store.audit_entries(city="dhaka")
    assert any(e["action"] == "climate.activity.put" and e["actor"] == "user:d_oper" for e in entries)


def test_other_citys_user_gets_404_everywhere(world):
    c, as_, store = world
    c.post(f"{API}/activity", json={"city": "dhaka", "rows": [DIESEL]}, headers=as_("padmin"))
    row_id = store.climate_activity(city="dhaka")[0]["id"]
    h = as_("h_admin")
    for method, url, kw in (
        ("GET", f"{API}/activity", {"params": {"city": "dhaka"}}),
        ("GET", f"{API}/inventory", {"params": {"city": "dhaka"}}),
        ("GET", f"{API}/inventory/runs", {"params": {"city": "dhaka"}}),
        ("GET", f"{API}/renewable-share", {"params": {"city": "dhaka", "year": 2024}}),
        ("GET", f"{API}/factors", {"params": {"city": "dhaka"}}),
        ("POST", f"{API}/pathway", {"json": {"city": "dhaka"}}),
        ("POST", f"{API}/activity", {"json": {"city": "dhaka", "rows": [DIESEL]}}),
        ("POST", f"{API}/factors", {"json": {"city": "dhaka", "kind": "grid", "value": 0.1, "year": 2024,
                                             "source": "made up"}}),
        ("POST", f"{API}/inventory/runs", {"json": {"city": "dhaka"}}),
        ("DELETE", f"{API}/activity/{row_id}", {}),
    ):
        r = c.request(method, url, headers=h, **kw)
        assert r.status_code == 404, f"{method} {url}: {r.status_code} {r.text}"
        assert "dhaka" not in r.text or r.json()["error"] == "not_found"
    assert len(store.climate_activity(city="dhaka")) == 1  # nothing deleted
    # and their own city works
    assert c.post(f"{API}/activity", json={"city": "hanoi", "rows": [DIESEL]}, headers=h).status_code == 200


def test_rights_analyst_403_anonymous_401_open_data_readable(world):
    c, as_, store = world
    assert c.post(f"{API}/activity", json={"city": "dhaka", "rows": [DIESEL]},
                  headers=as_("d_analyst")).status_code == 403
    assert c.post(f"{API}/activity", json={"city": "dhaka", "rows": [DIESEL]}).status_code == 401
    assert c.get(f"{API}/inventory", params={"city": "dhaka"}).status_code == 404  # not open data
    c.post(f"{API}/activity", json={"city": "dhaka", "rows": [DIESEL]}, headers=as_("d_oper"))
    store.upsert_city({**store.get_city("dhaka"), "open_data": True})
    r = c.get(f"{API}/inventory", params={"city": "dhaka"})
    assert r.status_code == 200 and r.json()["totals"]["basic_t"] == pytest.approx(3205.177)
    assert c.get(f"{API}/factors").status_code == 200  # the shipped tables need no city


def test_factors_runs_delete_and_validation(world):
    c, as_, store = world
    h = as_("d_oper")
    c.post(f"{API}/activity", json={"city": "dhaka", "rows": [
        {"year": 2024, "kind": "electricity", "sector": "I.2", "quantity": 2000, "unit": "MWh", "source": "utility"}]},
        headers=h)
    # Bangladesh default 0.504 t/MWh -> 1 008 t; with the city's 0.6 t/MWh (2024) -> 1 200 t
    inv = c.get(f"{API}/inventory", params={"city": "dhaka"}, headers=h).json()
    assert inv["totals"]["scope2_t"] == pytest.approx(1008)
    r = c.post(f"{API}/factors", json={"city": "dhaka", "kind": "grid", "value": 0.6, "unit": "kg/kWh", "year": 2024,
                                       "source": "DPDC 2024 supply mix"}, headers=h)
    assert r.status_code == 201 and r.json()["unit"] == "t/MWh"
    inv = c.get(f"{API}/inventory", params={"city": "dhaka"}, headers=h).json()
    assert inv["totals"]["scope2_t"] == pytest.approx(1200)
    assert any(f["id"] == f"user:{r.json()['id']}" and f["source"] == "DPDC 2024 supply mix" for f in inv["factors"])
    assert c.get(f"{API}/factors", params={"city": "dhaka"}, headers=h).json()["user"][0]["value"] == 0.6
    bad = c.post(f"{API}/factors", json={"city": "dhaka", "kind": "combustion", "item": "moonshine", "gas": "co2",
                                         "value": 1, "year": 2024, "source": "x" * 5}, headers=h)
    assert bad.status_code == 422 and bad.json()["field"] == "item"
    nosrc = c.post(f"{API}/factors", json={"city": "dhaka", "kind": "grid", "value": 1, "year": 2024}, headers=h)
    assert nosrc.status_code == 422 and nosrc.json()["field"] == "source"
    # saved runs
    run = c.post(f"{API}/inventory/runs", json={"city": "dhaka", "gwp": "ar6"}, headers=h)
    assert run.status_code == 201 and run.json()["basic_t"] == pytest.approx(1200)
    assert c.get(f"{API}/inventory/runs", params={"city": "dhaka"}, headers=h).json()["items"][0]["gwp"] == "ar6"
    # validation names the row and field
    r = c.post(f"{API}/activity", json={"city": "dhaka", "rows": [DIESEL, {**DIESEL, "unit": "barrels"}]}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "rows.1" and "barrels" in r.json()["message"]
    r = c.post(f"{API}/activity", json={"city": "atlantis", "rows": [DIESEL]}, headers=as_("padmin"))
    assert r.status_code == 404
    # delete (analyst may not, operator may)
    rid = store.climate_activity(city="dhaka")[0]["id"]
    assert c.delete(f"{API}/activity/{rid}", headers=as_("d_analyst")).status_code == 403
    assert c.delete(f"{API}/activity/{rid}", headers=h).status_code == 204
    assert c.delete(f"{API}/activity/{rid}", headers=h).status_code == 404
    assert any(e["action"] == "climate.activity.delete" for e in store.audit_entries(city="dhaka"))


def test_stored_drivers_shape_the_bau_unless_the_request_gives_its_own(world):
    c, as_, store = world
    h = as_("d_oper")
    c.post(f"{API}/activity", json={"city": "dhaka", "rows": [DIESEL]}, headers=h)
    assert c.get(f"{API}/drivers", params={"city": "dhaka"}, headers=h).status_code == 404
    flat = c.post(f"{API}/pathway", json={"city": "dhaka"}, headers=h).json()
    assert flat["drivers_source"].startswith("none") and flat["bau"][1]["bau_t"] == pytest.approx(3205.177)
    drivers = {"city": "dhaka", "gdp_growth": 0.10, "population_growth": {"2025": 0.5}, "source": "test figures"}
    assert c.put(f"{API}/drivers", json=drivers, headers=as_("d_analyst")).status_code == 403
    assert c.put(f"{API}/drivers", json={**drivers, "gdp_growth": {}}, headers=h).status_code == 422
    r = c.put(f"{API}/drivers", json=drivers, headers=h)
    assert r.status_code == 200 and r.json()["gdp_growth"] == 0.10 and r.json()["population_growth"] == {"2025": 0.5}
    assert c.get(f"{API}/drivers", params={"city": "dhaka"}, headers=h).json()["source"] == "test figures"
    # all stationary, which follows GDP: 3 205.177 x 1.1 = 3 525.6947 in 2025, x 1.1^2 = 3 878.26417 in 2026
    out = c.post(f"{API}/pathway", json={"city": "dhaka"}, headers=as_("d_analyst")).json()
    bau = {row["year"]: row["bau_t"] for row in out["bau"]}
    assert (bau[2025], bau[2026]) == (pytest.approx(3525.6947), pytest.approx(3878.26417))
    assert out["drivers_source"] == "test figures"
    mixed = c.post(f"{API}/pathway", json={"city": "dhaka", "gdp_growth": 0.0}, headers=h).json()
    assert mixed["bau"][2]["bau_t"] == pytest.approx(3205.177) and "gdp_growth" in mixed["drivers_source"]


def test_pathway_and_renewable_share_routes(world):
    c, as_, store = world
    h = as_("d_oper")
    c.post(f"{API}/activity", json={"city": "dhaka", "rows": [DIESEL]}, headers=h)
    body = {"city": "dhaka", "gdp_growth": 0.0, "projects": [{"name": "bus", "start_year": 2030,
                                                              "annual_abatement_t": 1000, "lifetime": 15}]}
    out = c.post(f"{API}/pathway", json=body, headers=as_("d_analyst")).json()
    ms = {m["year"]: m for m in out["milestones"]}
    # flat BAU of 3 205.177 (all stationary); 1 000 t abated 2030-2044: 2030 -> 2 205.177, 2050 -> BAU
    assert out["base_year"] == 2024 and out["base"]["stationary"] == pytest.approx(3205.177)
    assert ms[2030]["pathway_t"] == pytest.approx(2205.177) and ms[2050]["pathway_t"] == pytest.approx(3205.177)
    assert [s["name"] for s in out["chart"]["series"]][:2] == ["bau_t", "pathway_t"]
    r = c.post(f"{API}/pathway", json={**body, "projects": [{"start_year": 2030, "annual_abatement_t": 1,
                                                             "lifetime": 0}]}, headers=h)
    assert r.status_code == 422
    share = c.get(f"{API}/renewable-share", params={"city": "dhaka", "year": 2024, "grid_renewable_fraction": 0.1},
                  headers=h)
    assert share.status_code == 200 and len(share.json()["monthly"]) == 12
    assert c.get(f"{API}/renewable-share", params={"city": "dhaka", "grid_renewable_fraction": 2},
                 headers=h).status_code == 422
