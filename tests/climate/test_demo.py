"""The Dhaka demonstration inventory: loads through the service, every row says where it comes from."""

from __future__ import annotations

from nagar.climate import service
from nagar.climate.demo import YEAR, demo_rows, load_climate_demo


def test_every_demo_row_is_sourced_or_marked_illustrative():
    for r in demo_rows():
        text = (r.get("source") or "") + (r.get("note") or "")
        assert text, r
        if r["kind"] != "notation":
            assert "illustrative" in r["source"] or "F. I. Hai and M. A. Ali" in r["source"], r


def test_demo_loads_and_reports(cstore):
    out = load_climate_demo(cstore)
    assert out["inserted"] == len(demo_rows()) and out["solar_readings"] == 12
    assert load_climate_demo(cstore)["updated"] == len(demo_rows())  # idempotent
    inv = service.inventory(cstore, city="dhaka", year=YEAR)
    t = inv.totals
    assert t["basic_t"] > 0 and t["sectors"]["III"]["basic_t"] > 0 and t["scope2_t"] > 0
    # landfill methane comes from the 2005-2023 deposit series
    assert inv.landfill["in"]["years"][0] == 2005
    share = service.renewable_share(cstore, city="dhaka", year=YEAR)
    assert 0 < share["annual"]["local_share"] < 0.05
