"""The Dhaka rivers demo: additive, labelled illustrative, deterministic, and it meets the WQI's data rule."""

from __future__ import annotations

from datetime import datetime, timezone

from nagar.alerts.service import list_rules
from nagar.water import demo, service


def test_demo_is_additive_labelled_and_idempotent(wstore):
    st, samples = demo.generate(seed=7, end=datetime(2026, 1, 15, tzinfo=timezone.utc))
    assert st == demo.generate(seed=7, end=datetime(2026, 1, 15, tzinfo=timezone.utc))[0]
    assert {s["water_body"] for s in st} == {"Buriganga", "Turag", "Shitalakshya", "Balu"}
    assert all("Illustrative" in s["source"] for s in st) and all("Illustrative" in r["source"] for r in samples)
    before = wstore.list_stations(city="dhaka")
    out = demo.load_water_demo(wstore)
    assert out["stations"] == 7 and out["samples"] == len(samples)
    assert wstore.list_stations(city="dhaka") == before  # air stations untouched
    assert demo.load_water_demo(wstore) == {"stations": 0, "samples": 0, "alerts": 0}  # once only
    assert len(list_rules(wstore, city="dhaka")) == len(demo.DEMO_RULES)
    res = service.wqi(wstore, city="dhaka", period="all")
    by = {i["station"]: i for i in res["items"]}
    assert all(i["enough_data"] for i in res["items"])
    # the Buriganga is generated the most polluted and the Shitalakshya the least
    assert by["bur-sadarghat"]["wqi"] < by["shi-demra"]["wqi"]
