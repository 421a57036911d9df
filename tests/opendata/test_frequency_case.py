"""A frequency code is accepted in any case (the EU vocabulary's codes are upper case: stored so)."""

from __future__ import annotations

from typer.testing import CliRunner

from nagar.cli import app
from nagar.store.duckdb import DuckDBStore
from tests.conftest import DHAKA


def test_cli_publish_accepts_lower_case(tmp_path):
    db = tmp_path / "o.duckdb"
    s = DuckDBStore(db)
    s.upsert_city(DHAKA)
    s.close()
    r = CliRunner().invoke(app, ["opendata", "publish", "--city", "dhaka", "--dataset", "observations-hourly",
                                 "--frequency", "hourly", "--db", str(db)])
    assert r.exit_code == 0 and "published (CC-BY-4.0, HOURLY)" in r.output, r.output
    r = CliRunner().invoke(app, ["opendata", "publish", "--city", "dhaka", "--dataset", "observations-hourly",
                                 "--frequency", "now and then", "--db", str(db)])
    assert r.exit_code == 2 and "frequency must be one of" in r.output


def test_api_accepts_mixed_case_and_the_catalogue_uses_the_code(world):
    r = world.client.put("/api/v1/opendata/dhaka/datasets/aqi-daily", headers=world.auth("admin"),
                         json={"license": "CC-BY-4.0", "frequency": " Weekly"})
    assert r.status_code == 200 and r.json()["frequency"] == "WEEKLY", r.text
    cat = world.client.get("/api/v1/opendata/catalog.jsonld?city=dhaka").text
    assert "authority/frequency/WEEKLY" in cat
