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
