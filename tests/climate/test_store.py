"""The climate store mixin: migration, upsert, tenancy filter, monthly sums."""

from __future__ import annotations

from datetime import datetime, timezone

from tests.conftest import obs_table


def test_migration_creates_the_climate_tables(cstore):
    names = {r["table_name"] for r in cstore._rows("SELECT table_name FROM information_schema.tables")}
    assert {"climate_activity", "climate_factors", "climate_inventory_runs"} <= names
    assert cstore._rows("SELECT max(version) AS v FROM schema_version")[0]["v"] >= 3


def test_upsert_replaces_by_key_and_scope_filters(cstore):
    now = datetime.now(timezone.utc)
    row = dict(city="dhaka", year=2024, kind="fuel", subsector="I.1", item="lpg", quantity=1.0, unit="kt",
               params={"x": 1}, source="s")
    assert cstore.upsert_climate_activity([row], actor="t", now=now) == (1, 0)
    assert cstore.upsert_climate_activity([{**row, "quantity": 2.0}, {**row, "city": "hanoi"}], actor="t",
                                          now=now) == (1, 1)
    got = cstore.climate_activity(city="dhaka")
    assert len(got) == 1 and got[0]["quantity"] == 2.0 and got[0]["params"] == {"x": 1}
    assert cstore.climate_activity(city="dhaka", scope=frozenset({"hanoi"})) == []
    assert cstore.climate_activity_row(got[0]["id"], scope=frozenset({"hanoi"})) is None
    assert cstore.climate_years(city="hanoi") == [2024]
    f = cstore.add_climate_factor(dict(city="dhaka", kind="grid", value=0.5, unit="t/MWh", year=2024, source="s"),
                                  actor="t", now=now)
    assert f["item"] == "" and cstore.climate_factors(city="dhaka", scope=frozenset()) == []


def test_energy_monthly_counts_valid_and_estimated_only(cstore):
    cstore.upsert_station(dict(id="m1", city="dhaka", name="M", lat=23.8, lon=90.4, parameters=["generation"]))
    t = datetime(2024, 3, 10, tzinfo=timezone.utc)
    cstore.write_observations(obs_table([("m1", "generation", t, 10.0, "kWh", "valid"),
                                         ("m1", "generation", t.replace(day=11), 5.0, "kWh", "estimated"),
                                         ("m1", "generation", t.replace(day=12), 99.0, "kWh", "suspect")]))
    span = dict(start=datetime(2024, 1, 1, tzinfo=timezone.utc), end=datetime(2025, 1, 1, tzinfo=timezone.utc))
    got = cstore.energy_monthly(city="dhaka", parameters=["generation"], tz="Asia/Dhaka", **span)
    assert got == [{"month": "2024-03", "parameter": "generation", "total": 15.0, "n": 2}]
    assert cstore.energy_monthly(city="dhaka", parameters=["generation"], tz="Asia/Dhaka", scope=frozenset({"hanoi"}),
                                 **span) == []
