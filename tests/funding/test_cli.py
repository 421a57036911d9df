import json

from typer.testing import CliRunner

from nagar.funding.cli import app

runner = CliRunner()


def test_plan_cli(tmp_path):
    db = str(tmp_path / "c.duckdb")
    r = runner.invoke(app, ["demo", "--db", db, "--no-adopt", "--per-city", "5"])
    assert r.exit_code == 0, r.output
    assert "candidate projects" in r.output
    r = runner.invoke(app, ["--db", db, "--city-floor", "2e8", "--ceiling", "0.15", "--sector",
                            "waste_to_energy=0.3", "--json"])
    assert r.exit_code == 0, r.output
    plan = json.loads(r.stdout)  # stdout is the JSON alone (no solver banner, no spinner)
    assert plan["portfolio"]["status"] == "optimal" and plan["comparison"]["exact_objective"] > 0
    assert plan["portfolio"]["by_sector"].get("waste_to_energy", 0) <= 0.3 * 250e9 * (1 + 1e-9)
    r = runner.invoke(app, ["--db", db, "--top", "5", "--no-save"])
    assert r.exit_code == 0 and "Portfolio (top 5" in r.stdout and "The exact portfolio buys" in r.stdout
    svg = tmp_path / "f.svg"
    r = runner.invoke(app, ["frontier", "--db", db, "--points", "3", "--svg", str(svg)])
    assert r.exit_code == 0, r.output
    assert "Efficient frontier" in r.stdout and svg.read_text().startswith("<svg")
    r = runner.invoke(app, ["adopt", plan["id"], "--db", db])
    assert r.exit_code == 0 and "adopted" in r.stdout
    r = runner.invoke(app, ["mrv", "--db", db, "--json"])
    out = json.loads(r.stdout)
    assert r.exit_code == 0 and len(out["items"]) == len(plan["portfolio"]["chosen"])
    assert out["realised_to_date_t"] == 0  # funded, nothing monitored yet


def test_plan_cli_infeasible_is_a_message(tmp_path):
    db = str(tmp_path / "c.duckdb")
    assert runner.invoke(app, ["demo", "--db", db, "--no-adopt", "--per-city", "5"]).exit_code == 0
    r = runner.invoke(app, ["--db", db, "--city-floor", "2e10"])
    assert r.exit_code == 2
    assert "no portfolio meets every rule" in r.output and "binding" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["--db", db, "--sector", "brt"])
    assert r.exit_code == 2 and "name=number" in r.output
