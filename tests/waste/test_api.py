"""E-waste routes through the real app: write, read, refusals as 4xx with the rule, tenancy (404), audit, page."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from nagar.api.app import create_app
from nagar.core.settings import Settings
from tests.conftest import bearer, make_user

D = "/api/v1/cities/dhaka/ewaste"
H = "/api/v1/cities/hanoi/ewaste"


@pytest.fixture
def world(wstore, tmp_path):
    app = create_app(Settings(secret_key="x" * 32, db=tmp_path / "u.duckdb"), store=wstore)
    users = {"d_oper": make_user(wstore, "d_oper", roles={"dhaka": "operator"}),
             "d_admin": make_user(wstore, "d_admin", roles={"dhaka": "city_admin"}),
             "h_admin": make_user(wstore, "h_admin", roles={"hanoi": "city_admin"})}
    with TestClient(app) as client:
        yield client, (lambda who: bearer(app, users[who])), wstore


def _setup(c, h):
    assert c.post(f"{D}/points", json={"id": "pt-1", "name": "Depot", "lat": 23.79, "lon": 90.41},
                  headers=h).status_code == 201
    for body in ({"id": "col-1", "name": "C", "role": "collector"},
                 {"id": "rec-1", "name": "R", "role": "recycler", "licence_no": "DOE-1", "licence_expires": "2027-01-01"},
                 {"id": "rec-old", "name": "Old", "role": "recycler", "licence_no": "DOE-0",
                  "licence_expires": "2024-12-31"}):
        assert c.post(f"{D}/handlers", json=body, headers=h).status_code == 201
    r = c.post(f"{D}/events", json={"point_id": "pt-1", "collector_id": "col-1", "day": "2025-03-01",
                                    "items": [{"category": 6, "kg": 100}]}, headers=h)
    assert r.status_code == 201, r.text
    return r.json()["batches"][0]["id"]


def test_custody_through_the_api(world):
    c, as_, store = world
    h = as_("d_oper")
    b = _setup(c, h)
    r = c.post(f"{D}/transfers", json={"batch_id": b, "from_handler": "col-1", "to_handler": "rec-old",
                                       "day": "2025-03-02", "kg": 10}, headers=h)
    assert r.status_code == 409 and r.json()["details"]["rule"] == "licence_expired" and "rec-old" in r.json()["message"]
    r = c.post(f"{D}/transfers", json={"batch_id": b, "from_handler": "col-1", "to_handler": "rec-1",
                                       "day": "2025-03-02", "kg": 100, "kg_received": 90}, headers=h)
    assert r.status_code == 201 and r.json()["flagged"] is True
    r = c.post(f"{D}/processing", json={"batch_id": b, "recycler_id": "rec-1", "day": "2025-03-03", "input_kg": 90,
                                        "materials": {"copper": 50}, "residues_kg": 41}, headers=h)
    assert r.status_code == 422 and r.json()["details"]["rule"] == "output_exceeds_input"
    tr = c.get(f"{D}/batches/{b}", headers=h).json()
    assert tr["balance"]["balanced"] and tr["holdings"] == {"rec-1": 90.0}
    assert [f["kind"] for f in c.get(f"{D}/flags", headers=h).json()["items"]] == ["transfer"]
    actions = [e["action"] for e in store.audit_entries(city="dhaka")]
    assert actions.count("ewaste.transfer") == 1 and "ewaste.collect" in actions  # refusals are not audited


def test_generation_and_collection_rate(world):
    c, as_, store = world
    h = as_("d_oper")
    _setup(c, h)
    assert c.put(f"{D}/pom", json={"rows": [{"year": 2020, "unu_key": "0306", "units": 100000},
                                            {"year": 2023, "unu_key": "0306", "kg": 12000}]},
                 headers=h).json() == {"city": "dhaka", "inserted": 2, "updated": 0}
    assert store.ewaste_pom(city="dhaka")[0]["kg"] == pytest.approx(9000.0)  # 100 000 x 0.09 kg (CBS weight)
    c.put(f"{D}/population", json={"rows": [{"year": 2025, "inhabitants": 1000}]}, headers=h)
    g = c.get(f"{D}/generation", params={"from": 2024, "to": 2025}, headers=h).json()
    assert g["years"] == [2024, 2025] and list(g["categories"]) == ["6"]
    assert g["kg_per_inhabitant"][1] == pytest.approx(g["total"]["generated"][1] / 1000)
    # targets are the city admin's
    assert c.put(f"{D}/targets", json={"rows": [{"year": 2025, "category": 6, "rate": 0.05}]},
                 headers=h).status_code == 403
    assert c.put(f"{D}/targets", json={"rows": [{"year": 2025, "category": 6, "rate": 0.05}]},
                 headers=as_("d_admin")).status_code == 200
    items = c.get(f"{D}/collection-rate", params={"year": 2025}, headers=h).json()["items"]
    six = next(i for i in items if i["category"] == 6)
    assert six["collected_kg"] == 100.0 and six["rate"] == pytest.approx(100.0 / six["generated_kg"])
    assert six["target"] == 0.05 and six["meets_target"] == (six["rate"] >= 0.05)


def test_another_citys_data_is_404(world):
    c, as_, store = world
    b = _setup(c, as_("d_oper"))
    h = as_("h_admin")
    assert c.get(f"{D}/points", headers=h).status_code == 404
    assert c.get(f"{D}/batches/{b}", headers=h).status_code == 404
    assert c.get(f"{H}/batches/{b}", headers=h).status_code == 404  # the batch is Dhaka's
    assert c.post(f"{D}/transfers", json={"batch_id": b, "from_handler": "col-1", "to_handler": "rec-1",
                                          "day": "2025-03-02", "kg": 1}, headers=h).status_code == 404
    assert c.get(f"{D}/points").status_code == 404  # anonymous, Dhaka is private here
    assert c.get("/api/v1/ewaste/keys").json()["keys"][0]["key"] == "0001"


def test_bad_input_is_422_naming_the_field(world):
    c, as_, _ = world
    h = as_("d_oper")
    r = c.put(f"{D}/pom", json={"rows": [{"year": 2020, "unu_key": "9999", "kg": 1}]}, headers=h)
    assert r.status_code == 422 and "unknown UNU-KEY" in r.json()["message"]
    r = c.put(f"{D}/pom", json={"rows": [{"year": 2020, "unu_key": "0601", "units": 5}]}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "avg_weight_kg"


def test_page_has_chart_map_and_nav(world):
    c, _, _ = world
    r = c.get("/ewaste", params={"city": "dhaka"})
    assert r.status_code == 200
    for needle in ('id="generation-chart"', 'id="ewaste-map"', "js/ewaste.js", "chart.umd.min.js", "leaflet.js",
                   'aria-current="page">E-waste'):
        assert needle in r.text
    assert 'href="/ewaste?lang=' in c.get("/").text
    assert "ই-বর্জ্য" in c.get("/ewaste", params={"lang": "bn"}).text
