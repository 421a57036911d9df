"""The Dhaka e-waste demo loads once, obeys the custody rules, and labels itself illustrative."""

from __future__ import annotations

from nagar.waste import demo, service


def test_demo_loads_once_and_is_consistent(wstore):
    out = demo.load_ewaste_demo(wstore)
    assert out and out["points"] == 4 and out["handlers"] == 4
    assert demo.load_ewaste_demo(wstore) is None  # additive and idempotent
    assert {r["source"] for r in wstore.ewaste_pom(city="dhaka")} == {demo.ILLUSTRATIVE}
    handlers = {h["id"]: h for h in service.list_handlers(wstore, city="dhaka")}
    assert handlers["dhaka-recycler-b"]["licence_valid"] is False and handlers["dhaka-recycler-a"]["role"] == "recycler"
    for b in wstore.ewaste_batches(city="dhaka"):
        assert service.trace(wstore, city="dhaka", batch_id=b["id"])["balance"]["balanced"]
    assert len(service.flags(wstore, city="dhaka")["items"]) == 1
    g = service.generation(wstore, city="dhaka", start=2024, end=2024)
    assert 1.0 < g["kg_per_inhabitant"][0] < 6.0  # a few kg per inhabitant, as the module says
    rates = service.collection_rate(wstore, city="dhaka", year=2025)["items"]
    assert any(r["category"] == 0 and r["target"] == 0.10 for r in rates)
