"""The Dhaka demo requests and catalogue: filed through the service, additive, and published."""

from __future__ import annotations

from nagar.requests.demo import REQUESTS, load_requests_demo
from nagar.requests.service import OPEN311_STATUS


def test_demo_requests_are_filed_once_and_dhaka_publishes_its_data(world):
    done = load_requests_demo(world.store, settings=world.settings)
    assert done == {"requests": len(REQUESTS), "published": 4}
    rows = world.store.service_requests(city="dhaka")
    assert len(rows) == len(REQUESTS)
    by_code = {}
    for r in rows:
        by_code.setdefault(r["service_code"], []).append(r)
    first, dup = sorted(by_code["EWASTE"], key=lambda r: r["id"])
    assert dup["status"] == "duplicate" and dup["duplicate_of"] == first["id"]
    assert {r["status"] for r in by_code["GARBAGE"] + by_code["WATERLOG"]} == {"resolved"}
    assert {OPEN311_STATUS[r["status"]] for r in rows} == {"open", "closed"}
    breaches = world.client.get("/api/v1/service-requests/sla-breaches", params={"city": "dhaka"}).json()["items"]
    assert first["id"] in {b["service_request_id"] for b in breaches}  # acknowledged 70 h ago, 48 h target
    assert load_requests_demo(world.store, settings=world.settings) == {"requests": 0, "published": 0}
    assert len(world.store.service_requests(city="dhaka")) == len(REQUESTS)
    items = world.client.get("/api/v1/opendata/dhaka/datasets").json()["items"]
    assert {i["id"] for i in items} == {"aqi-daily", "observations-hourly", "ghg-inventory", "service-requests"}
