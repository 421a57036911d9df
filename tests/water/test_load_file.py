"""Water samples: the future-time rule of observations on every path (service, API, CLI file), and file
loading reported like `nagar ingest` (good rows stored, every bad row with its file line, exit status)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from nagar.api.app import create_app
from nagar.cli import app as nagar_app
from nagar.core.errors import InvalidInput
from nagar.core.settings import Settings
from nagar.store.duckdb import DuckDBStore
from nagar.water import service
from tests.conftest import bearer, make_user
from tests.water.conftest import CTG, DHAKA

runner = CliRunner()
NOW = datetime(2026, 11, 28, 6, 0, tzinfo=timezone.utc)  # the trial's "today"


@pytest.fixture
def tg(wstore):
    service.put_stations(wstore, city="dhaka", stations=[{"id": "tg-1", "name": "Turag"}], actor="t")
    return wstore


def _row(t: str, **kw) -> dict:
    return {"station": "tg-1", "parameter": "do", "time": t, "value": 6, "unit": "mg/L", **kw}


# the future rule ----------------------------------------------------------------------------------------
def test_samples_dated_after_now_plus_the_setting_are_refused_and_nothing_is_stored(tg):
    # the trial's dates: 2026-12-10 and 2027-11-10 while today is 2026-11-28
    for t in ("2026-12-10", "2027-11-10T10:00:00+06:00"):
        with pytest.raises(InvalidInput) as e:
            service.load_samples(tg, city="dhaka", rows=[_row("2026-11-01"), _row(t)], actor="t",
                                 settings=Settings(), now=NOW)
        assert e.value.field == "samples.1.time" and "in the future" in e.value.message
    assert tg.water_samples(stations=["tg-1"]) == []


def test_the_limit_is_settings_max_future_minutes(tg):
    nine, eleven = (NOW + timedelta(minutes=m) for m in (9, 11))
    ok = service.load_samples(tg, city="dhaka", rows=[_row(nine.isoformat())], actor="t", settings=Settings(), now=NOW)
    assert ok["inserted"] == 1
    with pytest.raises(InvalidInput, match="more than 10 minutes in the future"):
        service.load_samples(tg, city="dhaka", rows=[_row(eleven.isoformat())], actor="t", settings=Settings(),
                             now=NOW)
    out = service.load_samples(tg, city="dhaka", rows=[_row(eleven.isoformat())], actor="t",
                               settings=Settings(max_future_minutes=15), now=NOW)
    assert out["inserted"] == 1


def test_api_refuses_a_future_sample_naming_it(tg, tmp_path):
    app = create_app(Settings(secret_key="x" * 32, db=tmp_path / "u.duckdb"), store=tg)
    oper = make_user(tg, "oper", roles={"dhaka": "operator"})
    tomorrow = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
    with TestClient(app) as c:
        r = c.post("/api/v1/cities/dhaka/water/samples", headers=bearer(app, oper),
                   json={"samples": [_row("2026-01-10"), _row(tomorrow), _row("2026-02-10", station="nope")]})
    assert r.status_code == 422 and r.json()["field"] == "samples.1.time", r.text
    assert "in the future" in r.json()["message"] and "1 more bad row" in r.json()["message"]
    assert [d["field"] for d in r.json()["details"]] == ["samples.1.time", "samples.2.station"]
    assert tg.water_samples(stations=["tg-1"]) == []


# file loading ---------------------------------------------------------------------------------------------
BAD_FILE = """station,parameter,time,value,unit
tg-1,do,2026-01-10,6.1,mg/L
nope,do,2026-01-10,6.0,mg/L
tg-1,bod,2026-01-10,3,mg/L

tg-1,ph,2026-12-10,7.1,
tg-1,ammonia,2026-01-10,200,furlongs
tg-1,do
tg-1,do,2026-02-10,abc,mg/L
tg-1,ph,2026-02-10,7.3,
"""
# line by line (header = line 1): 2 good; 3 unknown station; 4 good; 5 blank (skipped); 6 future (2026-12-10
# is after the trial's today, 2026-11-28: run with the real clock it is only refused until that date, so
# the test patches the clock); 7 unit; 8 two values for five columns; 9 value; 10 good.
EXPECTED = [(3, "station"), (6, "time"), (7, "unit"), (8, "line"), (9, "value")]


@pytest.fixture
def db_with_station(tmp_path):
    db = tmp_path / "cli.duckdb"
    s = DuckDBStore(db)
    s.upsert_city(DHAKA)
    s.upsert_city(CTG)
    service.put_stations(s, city="dhaka", stations=[{"id": "tg-1", "name": "Turag"}], actor="t")
    s.close()
    return db


@pytest.fixture
def trial_clock(monkeypatch):
    monkeypatch.setattr(service, "_now", lambda: NOW)


def _samples(db) -> list[tuple]:
    s = DuckDBStore(db)
    try:
        return sorted((r["parameter"], r["time"].date().isoformat()) for r in s.water_samples(stations=["tg-1"]))
    finally:
        s.close()


def test_file_keeps_good_rows_and_reports_every_bad_row_with_its_line(db_with_station, tmp_path, trial_clock):
    f = tmp_path / "samples.csv"
    f.write_text(BAD_FILE, encoding="utf-8")
    r = runner.invoke(nagar_app, ["water", "load", str(f), "--city", "dhaka", "--db", str(db_with_station), "--json"])
    assert r.exit_code == 3, r.output  # some rows rejected, the others stored
    out = json.loads(r.stdout)
    assert (out["received"], out["inserted"], out["rejected"]) == (8, 3, 5)
    assert [(e["index"], e["field"]) for e in out["errors"]] == EXPECTED
    reasons = {e["index"]: e["reason"] for e in out["errors"]}
    assert "no water station 'nope'" in reasons[3] and "in the future" in reasons[6]
    assert "cannot convert 'furlongs'" in reasons[7] and "expected 5 columns, found 2" in reasons[8]
    assert _samples(db_with_station) == [("bod", "2026-01-10"), ("do", "2026-01-10"), ("ph", "2026-02-10")]
    # the table form names the same lines
    r = runner.invoke(nagar_app, ["water", "load", str(f), "--city", "dhaka", "--db", str(db_with_station)])
    assert r.exit_code == 3 and "Rejected rows (5)" in r.output
    assert "0 new, 3 replaced, 5 rejected" in r.output and "samples." not in r.output


def test_file_exit_status_all_good_and_all_bad(db_with_station, tmp_path):
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text("station,parameter,time,value,unit\ntg-1,do,2026-01-10,6.1,mg/L\n")
    bad.write_text("station,parameter,time,value,unit\nnope,do,2026-01-10,6.1,mg/L\n")
    args = ["--city", "dhaka", "--db", str(db_with_station)]
    assert runner.invoke(nagar_app, ["water", "load", str(good), *args]).exit_code == 0
    r = runner.invoke(nagar_app, ["water", "load", str(bad), *args])
    assert r.exit_code == 1 and "line" in r.output and "nope" in r.output


def test_file_that_is_not_utf8_names_the_line_and_stores_nothing(db_with_station, tmp_path):
    f = tmp_path / "excel.csv"  # what Excel's plain "CSV (Comma delimited)" writes on a Western Windows
    f.write_bytes("station,parameter,time,value,unit\ntg-1,do,2026-01-10,6.1,mg/L\n"
                  "tg-1,ammonia,2026-01-10,200,µg/L\n".encode("cp1252"))
    r = runner.invoke(nagar_app, ["water", "load", str(f), "--city", "dhaka", "--db", str(db_with_station)])
    out = " ".join(r.output.split())
    assert r.exit_code == 2 and "Traceback" not in r.output
    # line 3, the 30th byte of "tg-1,ammonia,2026-01-10,200,µg/L" is 0xb5, cp1252's "µ"
    assert "excel.csv, line 3: byte 0xb5 at byte 29 of the line is not UTF-8" in out, out
    assert "'µ'" in out and "CSV UTF-8 (Comma delimited)" in out
    assert _samples(db_with_station) == []


def test_stations_and_objectives_files_name_the_line_too(db_with_station, tmp_path):
    f = tmp_path / "st.csv"
    f.write_bytes("id,name,water_body,lat,lon\ntg-2,Tur\xe1g,Turag,23.8,90.34\n".encode("latin-1"))
    r = runner.invoke(nagar_app, ["water", "stations", str(f), "--city", "dhaka", "--db", str(db_with_station)])
    assert r.exit_code == 2 and "st.csv, line 2: byte 0xe1" in " ".join(r.output.split())
