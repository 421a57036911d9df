"""The water API end to end (operator writes, anyone reads the open-data city) and ``nagar water``."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from nagar.api.app import create_app
from nagar.core.settings import Settings
from nagar.store.duckdb import DuckDBStore
from nagar.water import cli
from tests.conftest import bearer, make_user
from tests.water.conftest import CTG, DHAKA

API = "/api/v1/cities/dhaka/water"
runner = CliRunner()


@pytest.fixture
def client(wstore, tmp_path):
    app = create_app(Settings(secret_key="x" * 32, db=tmp_path / "u.duckdb"), store=wstore)
    oper = make_user(wstore, "oper", roles={"dhaka": "operator"})
    with TestClient(app) as c:
        c.headers_oper = bearer(app, oper)
        yield c


def test_load_then_wqi_exceedances_history(client):
    h = client.headers_oper
    r = client.post(f"{API}/stations", json={"stations": [{"id": "bg-1", "name": "Buriganga", "water_body": "Buriganga",
                                                           "lat": 23.7, "lon": 90.41}]}, headers=h)
    assert r.status_code == 200 and r.json()["inserted"] == 1
    samples = []
    for m, (do, ph) in enumerate([(6, 7), (4, 9.0), (5, 6.0), (7, 7.5)], start=1):
        t = f"2024-{m:02d}-10T10:00:00+06:00"
        samples += [{"station": "bg-1", "parameter": "do", "time": t, "value": do, "unit": "mg/L"},
                    {"station": "bg-1", "parameter": "ph", "time": t, "value": ph},
                    {"station": "bg-1", "parameter": "bod", "time": t, "value": 1 + m, "unit": "mg/L"},
                    {"station": "bg-1", "parameter": "ammonia", "time": t, "value": 500, "unit": "µg/L"}]
    r = client.post(f"{API}/samples", json={"samples": samples}, headers=h)
    assert r.status_code == 200 and r.json()["inserted"] == 16, r.text
    r = client.get(f"{API}/wqi", params={"objectives": "bd-ecr1997-fisheries", "period": "year"})
    item = r.json()["items"][0]
    assert item["wqi"] == pytest.approx(69.14, abs=0.01) and item["category"] == "Fair"  # test_wqi's hand example
    r = client.get(f"{API}/exceedances")
    assert r.json()["failed"] == 3
    r = client.get(f"{API}/stations/bg-1/parameters/do/history")
    assert [i["value"] for i in r.json()["items"]] == [6, 4, 5, 7] and r.json()["lower"] == 5
    assert client.get(f"{API}/stations/nope/parameters/do/history").status_code == 404
    assert client.get(f"{API}/wqi", params={"objectives": "nope"}).status_code == 404
    assert client.get(f"{API}/wqi", params={"start": "2024-01-01T00:00:00"}).status_code == 422


def test_writes_need_the_right_and_bad_input_is_422(client):
    r = client.post(f"{API}/stations", json={"stations": [{"id": "x"}]})
    assert r.status_code == 401
    r = client.post("/api/v1/cities/chattogram/water/stations", json={"stations": [{"id": "x"}]},
                    headers=client.headers_oper)
    assert r.status_code == 404  # a city the operator cannot see
    r = client.post(f"{API}/samples", json={"samples": [{"station": "nope", "parameter": "do", "time": "2024-01-01",
                                                         "value": 1}]}, headers=client.headers_oper)
    assert r.status_code == 422 and r.json()["field"] == "samples.0.station"
    r = client.put(f"{API}/objectives", json={"id": "mine", "name": "Mine", "use": "other", "source": "test",
                                             "csv": "parameter,lower,upper,unit\ndo,5,,mg/L\nph,6.5,8.5,\n"},
                   headers=client.headers_oper)
    assert r.status_code == 200 and r.json()["objectives"]["ph"]["upper"] == 8.5
    sets = client.get(f"{API}/objectives").json()["items"]
    assert {s["id"] for s in sets} >= {"mine", "bd-ecr1997-drinking"}
    r = client.put(f"{API}/objectives", json={"id": "bad", "name": "x", "use": "other", "source": "test"},
                   headers=client.headers_oper)
    assert r.status_code == 422


def test_cli_load_wqi_exceedances(tmp_path):
    db = tmp_path / "cli.duckdb"
    s = DuckDBStore(db)
    s.upsert_city(DHAKA)
    s.upsert_city(CTG)
    s.close()
    st = tmp_path / "stations.csv"
    st.write_text("id,name,water_body,lat,lon\ntg-1,Turag,Turag,23.8,90.34\n")
    r = runner.invoke(cli.app, ["stations", str(st), "--city", "dhaka", "--db", str(db)])
    assert r.exit_code == 0 and "1 added" in r.output, r.output
    f = tmp_path / "samples.csv"
    lines = ["station,parameter,time,value,unit"]
    for m in range(1, 5):
        lines += [f"tg-1,do,2024-0{m}-10,{3 if m == 2 else 7},mg/L", f"tg-1,ph,2024-0{m}-10,7.2,",
                  f"tg-1,bod,2024-0{m}-10,2,mg/L", f"tg-1,ammonia,2024-0{m}-10,200,µg/L"]
    f.write_text("\n".join(lines) + "\n")
    r = runner.invoke(cli.app, ["load", str(f), "--city", "dhaka", "--db", str(db)])
    assert r.exit_code == 0 and "16 new" in r.output, r.output
    r = runner.invoke(cli.app, ["wqi", "--city", "dhaka", "--json", "--db", str(db)])
    item = json.loads(r.stdout)["items"][0]
    # one DO test fails (3 < 5): F1 25, F2 6.25, nse (5/3 - 1)/16 = 0.041667, F3 = 4.0
    # WQI = 100 - sqrt(625 + 39.0625 + 16)/1.732 = 100 - 26.0780/1.732 = 84.94
    assert item["wqi"] == pytest.approx(84.94, abs=0.01) and item["category"] == "Good"
    r = runner.invoke(cli.app, ["exceedances", "--city", "dhaka", "--json", "--db", str(db)])
    assert [(i["parameter"], i["value"]) for i in json.loads(r.stdout)["items"]] == [("do", 3.0)]
    bad = tmp_path / "bad.csv"
    bad.write_text("station,parameter,time,value,unit\ntg-1,do,2024-05-10,7,furlongs\n")
    r = runner.invoke(cli.app, ["load", str(bad), "--city", "dhaka", "--db", str(db)])
    assert r.exit_code == 1 and "cannot convert" in r.output and "Traceback" not in r.output  # every row rejected
    oc = tmp_path / "mine.csv"
    oc.write_text("parameter,lower,upper,unit\ndo,7500,,µg/L\nph,6.5,8.5,\nbod,,3,mg/L\nammonia,,1,mg/L\n")
    r = runner.invoke(cli.app, ["objectives", "--city", "dhaka", "--load", str(oc), "--id", "dhaka-dry",
                                "--name", "Dry season", "--use", "fisheries", "--source", "city memo", "--db", str(db)])
    assert r.exit_code == 0 and "dhaka-dry added" in r.output, r.output
    r = runner.invoke(cli.app, ["wqi", "--city", "dhaka", "--objectives", "dhaka-dry", "--json", "--db", str(db)])
    # DO >= 7.5 mg/L: all four DO tests fail (7, 3, 7, 7): F1 25, F2 25,
    # excursions 3 x (7.5/7 - 1) + (7.5/3 - 1) = 0.214286 + 1.5 = 1.714286, nse = 0.107143, F3 = 9.6774
    # WQI = 100 - sqrt(625 + 625 + 93.652)/1.732 = 100 - 36.6559/1.732 = 78.84
    assert json.loads(r.stdout)["items"][0]["wqi"] == pytest.approx(78.84, abs=0.01)
    r = runner.invoke(cli.app, ["objectives", "--city", "dhaka", "--db", str(db)])
    assert r.exit_code == 0 and "irrigation" in r.output and "dhaka-dry" in r.output and "Schedule 10" in r.output.replace("\n", " ")


def test_samples_may_be_a_bare_list_like_observations(client):
    h = client.headers_oper
    client.post(f"{API}/stations", json={"stations": [{"id": "bg-1", "lat": 23.7, "lon": 90.41}]}, headers=h)
    row = {"station": "bg-1", "parameter": "do", "time": "2024-01-10T10:00:00+06:00", "value": 6, "unit": "mg/L"}
    r = client.post(f"{API}/samples", json=[row], headers=h)
    assert r.status_code == 200 and r.json()["inserted"] == 1, r.text
    r = client.post(f"{API}/samples", json=[{**row, "station": "nope"}], headers=h)
    assert r.status_code == 422 and r.json()["field"] == "samples.0.station"
    r = client.post(f"{API}/samples", json="do=6", headers=h)
    assert r.status_code == 422 and 'expected {"samples": [...]} or a JSON list of samples' in r.json()["message"]
    assert "valid dictionary" not in r.json()["message"]
