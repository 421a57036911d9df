"""``nagar requests`` and ``nagar opendata`` on a file-backed store."""

from __future__ import annotations

import io

import pyarrow.parquet as pq
from typer.testing import CliRunner

from nagar.core.settings import Settings
from nagar.opendata import cli as od_cli
from nagar.requests import cli, service
from nagar.requests.demo import load_requests_demo
from nagar.store.duckdb import DuckDBStore
from tests.conftest import DHAKA

runner = CliRunner()


def test_requests_and_opendata_commands(tmp_path):
    db = tmp_path / "cli.duckdb"
    s = DuckDBStore(db)
    s.upsert_city({**DHAKA, "open_data": True})
    load_requests_demo(s, settings=Settings(db=db))
    s.close()
    r = runner.invoke(cli.app, ["list", "--city", "dhaka", "--db", str(db)])
    assert r.exit_code == 0 and "EWASTE" in r.output and "resolved" in r.output
    r = runner.invoke(cli.app, ["breaches", "--city", "dhaka", "--db", str(db)])
    assert r.exit_code == 0 and "SLA breaches in dhaka: 1" in r.output
    r = runner.invoke(cli.app, ["key", "--city", "dhaka", "--name", "Field app", "--db", str(db)])
    assert r.exit_code == 0
    key = r.stdout.strip().splitlines()[-1]
    s = DuckDBStore(db)
    assert service.check_client_key(s, api_key=key, city="dhaka")["name"] == "Field app"
    s.close()
    r = runner.invoke(cli.app, ["list", "--city", "nowhere", "--db", str(db)])
    assert r.exit_code == 2 and "no city 'nowhere'" in r.output
    out = tmp_path / "sr.parquet"
    r = runner.invoke(od_cli.app, ["export", "--city", "dhaka", "--dataset", "service-requests", "--format", "parquet",
                                   "--out", str(out), "--db", str(db)])
    assert r.exit_code == 0, r.output
    assert pq.read_table(io.BytesIO(out.read_bytes())).num_rows == 8
    r = runner.invoke(od_cli.app, ["publish", "--city", "dhaka", "--dataset", "service-requests", "--withdraw",
                                   "--db", str(db)])
    assert r.exit_code == 0 and "withdrawn" in r.output
    r = runner.invoke(od_cli.app, ["export", "--city", "dhaka", "--dataset", "service-requests", "--format", "csv",
                                   "--out", str(tmp_path / "x.csv"), "--db", str(db)])
    assert r.exit_code == 2 and "does not publish" in r.output and not (tmp_path / "x.csv").exists()
