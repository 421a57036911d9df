"""The funding routes through a real app (router included by tests/funding/conftest.funding_app)."""

import pytest
from fastapi.testclient import TestClient

from nagar.core.settings import Settings
from tests.conftest import bearer, make_user
from tests.funding.conftest import funding_app

API = "/api/v1/funding"


@pytest.fixture
def world(fstore, tmp_path):
    from nagar.funding.demo import load_funding_demo

    load_funding_demo(fstore, seed=11, per_city=(4, 6))
    app = funding_app(Settings(secret_key="x" * 32, db=tmp_path / "u.duckdb", ip_rate_per_s=1e6, ip_burst=10**6,
                               key_rate_per_s=1e6, key_burst=10**6), fstore)
    users = {"root": make_user(fstore, "root", platform_admin=True),
             "dadmin": make_user(fstore, "dadmin", roles={"dhaka": "city_admin"}),
             "doper": make_user(fstore, "doper", roles={"dhaka": "operator"}),
             "danalyst": make_user(fstore, "danalyst", roles={"dhaka": "analyst"})}
    with TestClient(app) as c:
        yield c, app, users, fstore


def h(world, who):
    c, app, users, _ = world
    return bearer(app, users[who])


def test_funds_and_instruments(world):
    c, *_ = world
    funds = c.get(f"{API}/funds").json()["items"]  # fund terms are public
    assert funds[0]["id"] == "jp-decarb" and funds[0]["fx"] == {"BDT": 1.25, "USD": 150.0}
    inst = {i["id"]: i for i in c.get(f"{API}/funds/jp-decarb/instruments").json()["items"]}
    assert inst["jbic-credit-line"]["cap_base"] == 120e9
    assert inst["jbic-credit-line"]["annual_debt_service_per_unit"] == pytest.approx(0.112825, rel=1e-5)
    assert sum(i["cap_base"] for i in inst.values()) == 250e9
    body = {"id": "f2", "name": "Second fund", "base_currency": "usd", "fx": {"JPY": 0.0067}}
    assert c.post(f"{API}/funds", json=body).status_code == 401
    assert c.post(f"{API}/funds", json=body, headers=h(world, "dadmin")).status_code == 403
    r = c.post(f"{API}/funds", json=body, headers=h(world, "root"))
    assert r.status_code == 201 and r.json()["base_currency"] == "USD"
    assert c.post(f"{API}/funds", json=body, headers=h(world, "root")).status_code == 409
    bad = c.post(f"{API}/instruments", headers=h(world, "root"), json={
        "id": "l2", "fund_id": "f2", "name": "Loan", "kind": "loan", "currency": "USD", "cap": 1e6})
    assert bad.status_code == 422 and "interest_rate" in bad.json()["message"]
    ok = c.post(f"{API}/instruments", headers=h(world, "root"), json={
        "id": "l2", "fund_id": "f2", "name": "Loan", "kind": "loan", "currency": "USD", "cap": 1e6,
        "interest_rate": 0.04, "tenor_years": 10, "grace_years": 2})
    assert ok.status_code == 201
    assert c.delete(f"{API}/instruments/l2", headers=h(world, "root")).status_code == 204


def test_projects_are_city_data(world):
    c, app, users, store = world
    body = {"id": "dhaka-led-x", "city": "dhaka", "name": "LED", "sector": "led_streetlight", "capital_cost": 4e8,
            "currency": "BDT", "annual_saving": 6e7, "lifetime_years": 12, "start_year": 2026,
            "annual_abatement": 2000}
    assert c.post(f"{API}/projects", json=body, headers=h(world, "doper")).status_code == 403
    r = c.post(f"{API}/projects", json=body, headers=h(world, "dadmin"))
    assert r.status_code == 201 and r.json()["status"] == "candidate"
    other = {**body, "id": "ctg-led-x", "city": "chattogram"}
    assert c.post(f"{API}/projects", json=other, headers=h(world, "dadmin")).status_code == 403  # sees it, no right
    # dhaka is private: anonymous callers neither list nor read its projects; chattogram is open
    anon = c.get(f"{API}/projects").json()["items"]
    assert anon and all(p["city"] != "dhaka" for p in anon)
    assert c.get(f"{API}/projects/dhaka-led-x").status_code == 404
    assert c.get(f"{API}/projects", params={"city": "dhaka"}).status_code == 404
    assert c.get(f"{API}/projects/dhaka-led-x", headers=h(world, "danalyst")).status_code == 200
    moved = c.put(f"{API}/projects/dhaka-led-x", json={k: v for k, v in other.items() if k != "id"},
                  headers=h(world, "root"))
    assert moved.status_code == 409 and moved.json()["field"] == "city"
    bad = {**body, "id": "dhaka-bad", "requires": ["nope"]}
    r = c.post(f"{API}/projects", json=bad, headers=h(world, "dadmin"))
    assert r.status_code == 422 and r.json()["field"] == "requires"
    assert c.delete(f"{API}/projects/dhaka-led-x", headers=h(world, "dadmin")).status_code == 204
    actions = [e["action"] for e in store.audit_entries(city="dhaka")]
    assert actions[-2:] == ["funding_project.create", "funding_project.delete"]


def test_plan_frontier_adopt_mrv(world):
    c, app, users, store = world
    rules = {"fund": "jp-decarb", "city_floor": 2e8, "city_ceiling_share": 0.2, "mip_rel_gap": 1e-4}
    assert c.post(f"{API}/plan", json=rules, headers=h(world, "dadmin")).status_code == 403
    r = c.post(f"{API}/plan", json=rules, headers=h(world, "root"))
    assert r.status_code == 200, r.text
    plan = r.json()
    p = plan["portfolio"]
    assert p["status"] == "optimal" and p["gap"] <= 1e-4 and p["seconds"] > 0
    assert p["committed"] <= sum(i["available_base"] for i in plan["instruments"]) * (1 + 1e-9)
    for it in p["items"]:
        assert sum(x["amount_base"] for x in it["split"]) == pytest.approx(it["cost_base"], rel=1e-6)
        if it["dscr"] is not None:
            assert it["dscr"] >= 1 - 1e-6  # loans are covered by the project's savings
    cmp = plan["comparison"]
    assert cmp["exact_objective"] >= cmp["greedy_objective"] - 1e-6 or cmp["greedy_violations"]
    # infeasible rules: 422 naming the binding constraint, no solver output
    bad = c.post(f"{API}/plan", json={**rules, "city_floor": 50e9}, headers=h(world, "root"))
    assert bad.status_code == 422 and "binding" in bad.json()["message"] and bad.json()["details"]["binding"]
    # frontier as data and as a drawing
    fr = c.get(f"{API}/frontier", params={"fund": "jp-decarb", "points": 3}, headers=h(world, "root"))
    assert fr.status_code == 200 and len(fr.json()["items"]) == 3
    # floors above every budget of the sweep: no portfolio, so no amount (null, not 0 t)
    fr = c.get(f"{API}/frontier", params={"fund": "jp-decarb", "points": 2, "city_floor": 50e9},
               headers=h(world, "root"))
    assert fr.status_code == 200 and {p["status"] for p in fr.json()["items"]} == {"infeasible"}
    assert all(p["exact_abatement_t"] is None and p["committed"] is None and p["greedy_abatement_t"] is None
               and p["greedy_violations"] > 0 for p in fr.json()["items"])
    svg = c.get(f"{API}/frontier", params={"plan": plan["id"], "points": 2, "format": "svg"},
                headers=h(world, "root"))
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.text.startswith("<svg")
    # adopt, then record monitored data for a funded project in Dhaka as its operator
    a = c.post(f"{API}/plans/{plan['id']}/adopt", headers=h(world, "root"))
    assert a.status_code == 200 and a.json()["projects"] == len(p["chosen"])
    assert c.post(f"{API}/plans/{plan['id']}/adopt", headers=h(world, "root")).status_code == 409
    funded = [it["project"] for it in p["items"] if it["city"] == "dhaka"]
    candidate = next(x["id"] for x in store.list_projects(city="dhaka", status="candidate"))
    rec = {"records": [{"year": 2026, "metric": "tco2e", "value": 100.0}]}
    assert c.post(f"{API}/projects/{candidate}/mrv", json=rec, headers=h(world, "doper")).status_code == 409
    if funded:
        r = c.post(f"{API}/projects/{funded[0]}/mrv", json=rec, headers=h(world, "doper"))
        assert r.status_code == 200 and r.json()["records"] == 1
        assert c.post(f"{API}/projects/{funded[0]}/mrv", json=rec, headers=h(world, "danalyst")).status_code == 403
        rep = c.get(f"{API}/projects/{funded[0]}/mrv", headers=h(world, "danalyst")).json()
        assert rep["years"][-1]["year"] == 2026 and rep["years"][-1]["realised_t"] >= 100.0
    summary = c.get(f"{API}/mrv", headers=h(world, "root")).json()
    assert summary["items"] and summary["realised_to_date_t"] > 0
    assert {"funding.plan", "funding.adopt"} <= {e["action"] for e in store.audit_entries()}
