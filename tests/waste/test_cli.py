"""``nagar ewaste``: estimate from a CSV (a bad file names line and column), load-pom, trace."""

from __future__ import annotations

from datetime import date

from typer.testing import CliRunner

from nagar.cli import app

runner = CliRunner()


def test_estimate_prints_the_table(tmp_path):
    f = tmp_path / "pom.csv"
    f.write_text("year,unu_key,kg,units\n2018,0306,,1000000\n2019,108,50000,\n2020,0306,120000,\n")
    r = runner.invoke(app, ["ewaste", "estimate", "--pom", str(f), "--population", "1000000", "--to", "2022"])
    assert r.exit_code == 0, r.output
    assert "2022" in r.output and "Small IT" in r.output and "kg/inh" in r.output
    r = runner.invoke(app, ["ewaste", "estimate", "--pom", str(f), "--json", "--from", "2021", "--to", "2021"])
    import json
    out = json.loads(r.stdout)
    assert out["years"] == [2021] and sorted(out["categories"]) == ["1", "6"]


def test_bad_csv_names_line_and_column(tmp_path):
    cases = {
        "year,unu_key,kg\n2020,0306,1\n2021,0306,-4\n": "line 3, column kg",
        "year,unu_key,kg\n2020,0306,1\n20x1,0306,4\n": "line 3, column year",
        "year,unu_key,kg\n2020,99,1\n": "line 2, column unu_key",
        "year,unu_key,units\n2020,0601,10\n": "line 2, column avg_weight_kg",
        "year,kg\n2020,1\n": "line 1: missing column 'unu_key'",
        "year,unu_key,kg\n2020,0306,1\n2020,306,2\n": "line 3: year 2020 and UNU-KEY 0306 already given on line 2",
    }
    for text, expected in cases.items():
        f = tmp_path / "bad.csv"
        f.write_text(text)
        r = runner.invoke(app, ["ewaste", "estimate", "--pom", str(f)])
        assert r.exit_code == 2 and expected in r.output and "Traceback" not in r.output, (text, r.output)


def test_load_pom_and_trace(tmp_path, monkeypatch):
    db = tmp_path / "n.duckdb"
    from nagar.store.duckdb import DuckDBStore
    from nagar.waste import service
    from nagar.waste.models import EventIn, EventItem, HandlerIn, PointIn, TransferIn
    from tests.waste.conftest import DHAKA

    s = DuckDBStore(db)
    s.upsert_city(DHAKA)
    service.add_point(s, city="dhaka", point=PointIn(id="pt-1", name="Depot", lat=23.79, lon=90.41), actor="t")
    service.add_handler(s, city="dhaka", handler=HandlerIn(id="col-1", name="C", role="collector"), actor="t")
    service.add_handler(s, city="dhaka", handler=HandlerIn(id="rec-1", name="R", role="recycler", licence_no="L"),
                        actor="t")
    ev = service.add_event(s, city="dhaka", event=EventIn(point_id="pt-1", collector_id="col-1", day=date(2025, 1, 5),
                                                          items=[EventItem(category=2, kg=40)]), actor="t")
    b = ev["batches"][0]["id"]
    service.transfer(s, city="dhaka", t=TransferIn(batch_id=b, from_handler="col-1", to_handler="rec-1",
                                                   day=date(2025, 1, 6), kg=40, kg_received=35), actor="t")
    s.close()
    f = tmp_path / "pom.csv"
    f.write_text("year,unu_key,kg\n2020,0408,1000\n")
    r = runner.invoke(app, ["ewaste", "load-pom", str(f), "--city", "dhaka", "--db", str(db)])
    assert r.exit_code == 0 and "1 POM rows added" in r.output, r.output
    r = runner.invoke(app, ["ewaste", "trace", str(b), "--db", str(db)], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "Depot" in r.output and "col-1" in r.output and "rec-1" in r.output and "FLAGGED" in r.output
    assert "collected 40 kg = held 35 + lost in transit 5 + processed 0 (balanced)" in r.output
    r = runner.invoke(app, ["ewaste", "trace", "999", "--db", str(db)])
    assert r.exit_code == 2 and "no batch 999" in r.output
    r = runner.invoke(app, ["ewaste", "trace", str(b), "--city", "hanoi", "--db", str(db)])
    assert r.exit_code == 2 and "no city 'hanoi'" in r.output
