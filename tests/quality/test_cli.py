"""``nagar quality`` commands on a file-backed store."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pytest
from typer.testing import CliRunner

from nagar.cli import app
from nagar.store.duckdb import DuckDBStore
from tests.conftest import DHAKA, obs_table, utc

runner = CliRunner()
T0 = utc(2025, 1, 1)


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "cli.duckdb"
    s = DuckDBStore(path)
    s.upsert_city(DHAKA)
    s.upsert_station(dict(id="st1", city="dhaka", name="S1", lat=23.8, lon=90.4, parameters=["pm25"]))
    h = np.arange(16 * 24)
    y = np.round(60 + 45 * np.cos((h % 24 - 2) / 24 * 2 * np.pi) + np.random.default_rng(0).normal(0, 4, len(h)), 1)
    y[100] = 990.0
    s.write_observations(obs_table([("st1", "pm25", T0 + timedelta(hours=int(i)), float(v)) for i, v in zip(h, y)]))
    s.close()
    return path


def test_scan_faults_override(db):
    r = runner.invoke(app, ["quality", "scan", "--city", "dhaka", "--db", str(db), "--json",
                            "--from", "2025-01-01T00:00Z", "--to", "2025-01-10T00:00Z"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["by_kind"] == {"spike": 1} and out["flagged"] == 1
    r = runner.invoke(app, ["quality", "faults", "--city", "dhaka", "--db", str(db)])
    assert r.exit_code == 0 and "spike" in r.output and "990" in r.output
    t = (T0 + timedelta(hours=100)).isoformat()
    r = runner.invoke(app, ["quality", "override", "--station", "st1", "--parameter", "pm25", "--time", t,
                            "--reason", "festival fireworks", "--db", str(db)])
    assert r.exit_code == 0 and "suspect -> valid" in r.output
    s = DuckDBStore(db)
    assert s.audit_entries(city="dhaka")[-1]["action"] == "quality.override"
    s.close()


def test_clear_errors(db):
    r = runner.invoke(app, ["quality", "scan", "--city", "dhaka", "--from", "2025-01-01", "--db", str(db)])
    assert r.exit_code == 2 and "UTC offset" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["quality", "scan", "--city", "nowhere", "--db", str(db)])
    assert r.exit_code == 2 and "nowhere" in r.output
    r = runner.invoke(app, ["forecast", "show", "--city", "nowhere", "--db", str(db)])
    assert r.exit_code == 2


def test_ingest_examines_what_it_loaded(tmp_path):
    """`nagar ingest` registers the quality listener and examines the loaded stations once at the end."""
    path = tmp_path / "ing.duckdb"
    s = DuckDBStore(path)
    s.upsert_city(DHAKA)
    s.close()
    lines = ["location_id,sensors_id,location,datetime,lat,lon,parameter,units,value"]
    for h in range(24):
        v = 990.0 if h == 12 else 80.0 + (h % 3) * 3.0
        lines.append(f"8118,1,US Embassy,2024-01-01T{h:02d}:00:00+00:00,23.796,90.424,pm25,µg/m³,{v}")
    f = tmp_path / "o.csv"
    f.write_text("\n".join(lines) + "\n")
    r = runner.invoke(app, ["ingest", str(f), "--db", str(path), "--json"])
    assert r.exit_code == 0, r.output
    s = DuckDBStore(path)
    flagged = {(r["time"].hour, r["flag"]) for r in s.observations(include_flagged=True).to_pylist()
               if r["flag"] != "valid"}
    assert flagged == {(12, "suspect")}
    assert s.quality_faults(city="dhaka")[0]["kind"] == "spike"
    s.close()


def test_ingest_summary_reports_the_quality_checks(tmp_path):
    """`nagar ingest` examines the written stations before it prints (synchronously), so its summary says
    what the checks found: here a spike (flagged) and a reading at 06:30 (a notice, still counted)."""
    path = tmp_path / "ingest.duckdb"
    s = DuckDBStore(path)
    s.upsert_city(DHAKA)
    s.upsert_station(dict(id="st1", city="dhaka", name="S1", lat=23.8, lon=90.4, parameters=["pm25"]))
    s.close()
    rows = [(T0 + timedelta(hours=h), 950.0 if h == 12 else 28.0 + 4 * (h % 2)) for h in range(24)]
    rows.append((T0 + timedelta(hours=6, minutes=30), 76.0))
    f = tmp_path / "day.csv"
    f.write_text("station,parameter,time,value,unit\n"
                 + "".join(f"st1,pm25,{t.isoformat()},{v},µg/m³\n" for t, v in rows), encoding="utf-8")
    r = runner.invoke(app, ["ingest", str(f), "--db", str(path), "--json"])
    assert r.exit_code == 0, r.output
    q = json.loads(r.stdout)["quality"]
    assert (q["flagged"], q["new_faults"], q["notices"], q["cities"]) == (1, 2, 1, ["dhaka"])
    # the same rows again: written without a flag column they are valid again, so the checks flag the spike
    # anew, and record no new finding
    again = tmp_path / "again.csv"
    again.write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    r = runner.invoke(app, ["ingest", str(again), "--db", str(path)])
    assert r.exit_code == 0, r.output
    line = " ".join(r.output.split())
    assert "1 readings flagged suspect/invalid (left out of the AQI), 0 new findings, 1 notices (recorded, still counted)" in line
    assert "nagar quality faults --city dhaka" in line
