"""``nagar inventory`` commands (the climate typer app), on a file-backed store."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from nagar.climate import cli
from tests.climate.conftest import DHAKA, ClimateStore

runner = CliRunner()


@pytest.fixture
def db(tmp_path, monkeypatch):
    path = tmp_path / "cli.duckdb"
    s = ClimateStore(path)
    s.upsert_city(DHAKA)
    s.close()
    # until the lead mixes ClimateTables into DuckDBStore, open the file with the mixin
    monkeypatch.setattr(cli, "_open_store", lambda db: ClimateStore(db))
    return path


def test_load_then_show(db, tmp_path):
    f = tmp_path / "activity.csv"
    f.write_text("year,kind,sector,item,location,quantity,unit,params,source,note\n"
                 "2024,fuel,commercial,diesel,in,1,kt,,energy balance,\n"
                 '2024,waste,,composting,in,1000,t,"{}",DSCC,\n'
                 "2024,notation,I.7.1,NO,,,,,,no coal mining\n")
    r = runner.invoke(cli.app, ["load", str(f), "--city", "dhaka", "--db", str(db)])
    assert r.exit_code == 0, r.output
    assert "dhaka: 3 rows added" in r.output
    # BASIC: diesel 3 205.177 + composting 4 t CH4 x 28 + 0.3 t N2O x 265 = 3 205.177 + 191.5 = 3 396.677
    r = runner.invoke(cli.app, ["show", "--city", "dhaka", "--year", "2024", "--json", "--db", str(db)])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["totals"]["basic_t"] == pytest.approx(3396.677)
    r = runner.invoke(cli.app, ["show", "--city", "dhaka", "--csv", "--db", str(db)])
    assert r.exit_code == 0 and r.stdout.startswith("ref,scope,") and "TOTAL BASIC," in r.stdout
    r = runner.invoke(cli.app, ["show", "--city", "dhaka", "--save", "--db", str(db)])
    assert r.exit_code == 0 and "BASIC" in r.stdout and "saved as inventory run 1" in r.output


def test_errors_are_messages(db, tmp_path):
    r = runner.invoke(cli.app, ["show", "--city", "dhaka", "--db", str(db)])
    assert r.exit_code == 2 and "no climate activity data" in r.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"city": "dhaka", "rows": [{"year": 2024, "kind": "fuel", "sector": "I.1",
                                                          "item": "kryptonite", "quantity": 1, "unit": "TJ"}]}))
    r = runner.invoke(cli.app, ["load", str(bad), "--db", str(db)])
    assert r.exit_code == 2 and "unknown fuel" in r.output and "Traceback" not in r.output
    r = runner.invoke(cli.app, ["pathway", "--city", "dhaka", "--project", "2030:x:5", "--db", str(db)])
    assert r.exit_code == 2 and "--project" in r.output


def test_factors_pathway_renewables_and_demo(db):
    r = runner.invoke(cli.app, ["factors", "--table", "grid"])
    assert r.exit_code == 0 and "VN" in r.stdout
    r = runner.invoke(cli.app, ["demo", "--db", str(db)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli.app, ["pathway", "--city", "dhaka", "--gdp-growth", "0.05", "--project",
                                "brt:2030:100000:20", "--json", "--db", str(db)])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert [m["year"] for m in out["milestones"]] == [2030, 2041, 2050]
    r = runner.invoke(cli.app, ["renewables", "--city", "dhaka", "--year", "2023", "--db", str(db)])
    assert r.exit_code == 0 and "2023-01" in r.stdout


def test_pathway_uses_stored_drivers_and_the_citys_funded_projects(db):
    """Like POST /climate/pathway and the /climate page: no growth option -> the stored drivers; the city's
    funded projects (not its candidates, not another city's) are in the portfolio unless --no-funded."""
    from nagar.climate.models import DriversIn
    from nagar.climate.service import put_drivers
    from nagar.funding.models import ProjectCreate
    from nagar.funding.service import put_projects

    assert runner.invoke(cli.app, ["demo", "--db", str(db)]).exit_code == 0  # stores demo drivers; ours replace them
    s = cli._open_store(db)
    s.upsert_city(dict(DHAKA, id="khulna", name="Khulna"))
    put_drivers(s, body=DriversIn(city="dhaka", gdp_growth=0.10, source="test drivers"), actor="test")
    base = dict(sector="solar_pv", capital_cost=1e6, currency="USD", annual_saving=1e5, lifetime_years=10.4,
                start_year=2030)
    put_projects(s, projects=[ProjectCreate(id="pv", city="dhaka", name="PV", annual_abatement=1000.0, **base),
                              ProjectCreate(id="cand", city="dhaka", name="C", annual_abatement=5e5, **base),
                              ProjectCreate(id="kh", city="khulna", name="K", annual_abatement=7e5, **base)])
    s.put_projects([{**s.get_project("pv"), "status": "funded"}, {**s.get_project("kh"), "status": "funded"}])
    s.close()
    r = runner.invoke(cli.app, ["pathway", "--city", "dhaka", "--json", "--db", str(db)])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["drivers"]["gdp_growth"] == 0.10 and out["drivers_source"] == "test drivers"
    bau = {row["year"]: row["bau_t"] for row in out["bau"]}
    assert bau[out["base_year"] + 1] > bau[out["base_year"]]  # grows with the stored 10 % GDP growth
    ms = {m["year"]: m for m in out["milestones"]}
    # the funded PV plant only: 1 000 t/yr from 2030 for round(10.4) = 10 years -> 2030-2039
    assert ms[2030]["abatement_t"] == pytest.approx(1000.0) and ms[2041]["abatement_t"] == 0.0
    r = runner.invoke(cli.app, ["pathway", "--city", "dhaka", "--no-funded", "--gdp-growth", "0", "--json",
                                "--db", str(db)])
    out = json.loads(r.stdout)
    assert {m["abatement_t"] for m in out["milestones"]} == {0.0}
    assert out["bau"][1]["bau_t"] == pytest.approx(out["bau"][0]["bau_t"])  # --gdp-growth 0 overrides
    r = runner.invoke(cli.app, ["pathway", "--city", "dhaka", "--db", str(db)])
    assert "drivers: test drivers" in r.stdout and "1 funded" in r.stdout


def test_pathway_option_out_of_range_is_one_message(db):
    assert runner.invoke(cli.app, ["demo", "--db", str(db)]).exit_code == 0
    r = runner.invoke(cli.app, ["pathway", "--city", "dhaka", "--gdp-growth", "5", "--db", str(db)])
    assert r.exit_code == 2 and "error (gdp_growth): --gdp-growth:" in r.output and "less than or equal to 1" in r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)
