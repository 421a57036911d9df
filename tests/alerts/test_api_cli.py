"""The alerts API end to end: a city admin writes a rule as JSON and a webhook endpoint, observations
posted through the API are evaluated by the app's background worker, the history is readable; and
``nagar alerts``."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from nagar.alerts import cli
from nagar.api.app import create_app
from nagar.core.settings import Settings
from nagar.store.duckdb import DuckDBStore
from tests.alerts.conftest import DHAKA, at
from tests.conftest import bearer, make_user

API = "/api/v1/cities/dhaka/alerts"
runner = CliRunner()


@pytest.fixture
def app_client(astore, tmp_path):
    app = create_app(Settings(secret_key="x" * 32, db=tmp_path / "u.duckdb", egress_allow_private=True), store=astore)
    users = {"admin": make_user(astore, "cadmin", roles={"dhaka": "city_admin"}),
             "oper": make_user(astore, "oper", roles={"dhaka": "operator"})}
    with TestClient(app) as c:
        yield app, c, {k: bearer(app, u) for k, u in users.items()}


def _obs(h: int, v: float) -> dict:
    return {"station": "st1", "parameter": "pm25", "time": at(h).isoformat(), "value": v, "unit": "µg/m³"}


def test_rule_through_the_api_fires_from_ingested_data(app_client):
    app, c, h = app_client
    rule = {"name": "PM2.5 > 55 for 2 h", "rule": {"kind": "observation", "parameter": "pm25", "threshold": 55,
                                                   "duration": 2, "station": "st1"}}
    assert c.post(f"{API}/rules", json=rule, headers=h["oper"]).status_code == 403  # operators do not write rules
    r = c.post(f"{API}/rules", json=rule, headers=h["admin"])
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    assert r.json()["description"] == "pm25 1h mean > 55.0 for 2 hours"
    ep = c.post(f"{API}/endpoints", json={"name": "ops", "url": "http://127.0.0.1:9/hook"}, headers=h["admin"])
    assert ep.status_code == 201 and ep.json()["secret"].startswith("whsec_")
    assert "secret" not in c.get(f"{API}/endpoints", headers=h["admin"]).json()["items"][0]
    for hour, v in ((0, 80), (1, 90), (2, 10)):
        r = c.post("/api/v1/observations", json=[_obs(hour, v)], headers=h["oper"])
        assert r.status_code == 200, r.text
    worker_drained(app)  # the worker runs in the background: wait for it
    ev = c.get(f"{API}/events").json()["items"]
    assert [(e["kind"], e["time"][:13]) for e in reversed(ev)] == [("onset", "2025-01-10T01"),
                                                                   ("recovery", "2025-01-10T02")]
    assert c.get(f"{API}/events", params={"rule_id": rid}).json()["items"]
    dl = c.get(f"{API}/deliveries", headers=h["admin"]).json()["items"]
    assert len(dl) == 2  # one per event and endpoint (the receiver is down: they are retried)
    r = c.put(f"{API}/rules/{rid}", json={**rule, "enabled": False}, headers=h["admin"])
    assert r.status_code == 200 and r.json()["enabled"] is False
    assert c.delete(f"{API}/rules/{rid}", headers=h["admin"]).status_code == 204
    assert c.get(f"{API}/rules/{rid}").status_code == 404
    r = c.post(f"{API}/rules", json={"name": "x", "rule": {"kind": "aqi", "category": "awful"}}, headers=h["admin"])
    assert r.status_code == 422 and r.json()["field"] == "rule.category"


def worker_drained(app) -> None:
    """Wait for the app's alert worker to finish the queued batches (it is the store's write listener)."""
    listeners = app.state.store.__dict__.get("_write_listeners", [])
    workers = [fn.__self__ for fn in listeners if getattr(fn, "__name__", "") == "submit"]
    assert workers, "the app's lifespan registered no alert worker"
    for w in workers:
        w.drain()


def test_cli_rules_endpoint_history(tmp_path):
    db = tmp_path / "cli.duckdb"
    s = DuckDBStore(db)
    s.upsert_city(DHAKA)
    s.close()
    f = tmp_path / "rule.json"
    f.write_text('{"name": "AQI above 200 for 3 hours", "rule": {"kind": "aqi", "threshold": 200, "duration": 3}}')
    r = runner.invoke(cli.app, ["rules", "--city", "dhaka", "--add", str(f), "--db", str(db)])
    assert r.exit_code == 0 and "rule 1 added" in r.output, r.output
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x", "rule": {"kind": "aqi"}}')
    r = runner.invoke(cli.app, ["rules", "--city", "dhaka", "--add", str(bad), "--db", str(db)])
    assert r.exit_code == 2 and "threshold or category" in r.output and "Traceback" not in r.output
    r = runner.invoke(cli.app, ["endpoint", "--city", "dhaka", "--url", "https://example.org/h", "--db", str(db)])
    assert r.exit_code == 0 and "whsec_" in r.output
    r = runner.invoke(cli.app, ["history", "--city", "dhaka", "--db", str(db)])
    assert r.exit_code == 0
    r = runner.invoke(cli.app, ["deliver", "--db", str(db)])
    assert r.exit_code == 0 and "delivered 0" in r.output


def test_cli_errors_name_the_field_and_the_file(tmp_path):
    db = tmp_path / "cli.duckdb"
    s = DuckDBStore(db)
    s.upsert_city(DHAKA)
    s.close()
    r = runner.invoke(cli.app, ["endpoint", "--city", "dhaka", "--url", "ftp://x", "--db", str(db)])
    assert r.exit_code == 2 and "error (url)" in r.output and "http(s) URL required" in r.output
    assert "(rule)" not in r.output and "at least 8 characters" not in r.output
    bad = tmp_path / "broken.json"
    bad.write_text('{"name": "x",\n "rule": {"kind": "aqi", }}')
    r = runner.invoke(cli.app, ["rules", "--city", "dhaka", "--add", str(bad), "--db", str(db)], terminal_width=300)
    assert r.exit_code == 2 and f"error (file): {bad}: Invalid JSON" in r.output, r.output
    assert "line 2 column" in r.output and ": :" not in r.output
    bad.write_text('{"name": "x", "rule": {"kind": "aqi"}}')
    r = runner.invoke(cli.app, ["rules", "--city", "dhaka", "--add", str(bad), "--db", str(db)], terminal_width=300)
    assert r.exit_code == 2 and "error (rule):" in r.output and f"{bad}: rule" in r.output
