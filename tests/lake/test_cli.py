"""``nagar lake`` commands and the spark-submit entry point."""

from __future__ import annotations

import json
import shutil

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from nagar.lake.aqi import SORT_KEYS, lake_aqi
from nagar.lake.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def copied(lake_store, tmp_path_factory):
    """A copy of the session's store file (the CLI opens its own) and its lake."""
    store, lake = lake_store
    d = tmp_path_factory.mktemp("cli")
    store._con.execute("CHECKPOINT")
    shutil.copy(store.path, d / "nagar.duckdb")
    return d / "nagar.duckdb", lake


def test_export_twice_then_status(copied, tmp_path):
    db, _ = copied
    out = tmp_path / "lake"
    r = runner.invoke(app, ["export", "--db", str(db), "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    first = json.loads(r.output)
    assert first["written"] == first["partitions"] == 21 and first["rows"] > 10_000
    r = runner.invoke(app, ["export", "--db", str(db), "--out", str(out)])
    assert r.exit_code == 0 and "0 partition(s) written" in r.output and "21 unchanged" in r.output
    r = runner.invoke(app, ["status", "--lake", str(out)])
    assert r.exit_code == 0 and "kolkata" in r.output and "2025-03-26" in r.output


def test_export_errors_exit_2(tmp_path):
    r = runner.invoke(app, ["export", "--db", str(tmp_path / "none.duckdb"), "--out", str(tmp_path / "l")])
    assert r.exit_code == 2 and "no database" in r.output


def test_aqi_duckdb_writes_the_table(copied, tmp_path):
    _, lake = copied
    out = tmp_path / "aqi.parquet"
    r = runner.invoke(app, ["aqi", "--engine", "duckdb", "--lake", str(lake), "--city", "dhaka", "--from",
                            "2025-03-28", "--to", "2025-03-30", "--out", str(out)])
    assert r.exit_code == 0, r.output
    t = pq.read_table(out)
    assert set(t.column("city").to_pylist()) == {"dhaka"} and set(t.column("resolution").to_pylist()) == {"hour", "day"}
    hours = [x for x in t.to_pylist() if x["resolution"] == "hour" and x["level"] == "city"]
    assert len(hours) == 48 and hours[0]["time"].isoformat() == "2025-03-28T00:00:00+00:00"
    r = runner.invoke(app, ["aqi", "--engine", "flink", "--lake", str(lake), "--out", str(tmp_path / "x.csv")])
    assert r.exit_code == 2 and "spark or duckdb" in r.output
    r = runner.invoke(app, ["aqi", "--lake", str(tmp_path / "nolake"), "--out", str(tmp_path / "x.csv")])
    assert r.exit_code == 2 and "no lake" in r.output


@pytest.mark.slow
def test_aqi_spark_from_the_cli(copied, tmp_path, spark):
    _, lake = copied
    out = tmp_path / "aqi.csv"
    args = ["--lake", str(lake), "--city", "london", "--resolution", "hour", "--from", "2025-03-30T00:00:00+01:00",
            "--to", "2025-03-31"]
    r = runner.invoke(app, ["aqi", "--engine", "spark", *args, "--out", str(out)])  # reuses the session
    assert r.exit_code == 0, r.output
    ref = tmp_path / "ref.csv"
    assert runner.invoke(app, ["aqi", "--engine", "duckdb", *args, "--out", str(ref)]).exit_code == 0
    a, b = pacsv.read_csv(out).to_pylist(), pacsv.read_csv(ref).to_pylist()
    assert len(a) == len(b) == 25 * 3  # 23:00 UTC to midnight: 25 hours, 2 stations + the city, all with an index
    for x, y in zip(a, b):  # the same rows; concentrations may differ in the last bit of a sum
        assert {k: v for k, v in x.items() if not k.startswith("c_")} == {k: v for k, v in y.items()
                                                                          if not k.startswith("c_")}
        assert all(v == pytest.approx(y[k], rel=1e-9) for k, v in x.items() if k.startswith("c_") and v is not None)


@pytest.mark.slow
def test_spark_submit_entry_point_writes_with_spark(copied, tmp_path, spark):
    from nagar.lake.spark_job import main

    _, lake = copied
    out = tmp_path / "aqi_dir"
    assert main(["--lake", f"file://{lake}", "--out", f"file://{out}", "--city", "kolkata", "--resolution", "day"]) == 0
    got = pq.read_table(out).to_pylist()  # Spark's folder, partitioned by resolution and level
    ref = lake_aqi(lake=str(lake), engine="duckdb", cities=["kolkata"], resolutions=("day",)).to_pylist()
    key = [k for k, _ in SORT_KEYS]
    norm = sorted(({k: v for k, v in r.items() if v is not None} for r in got), key=lambda r: [str(r.get(k)) for k in key])
    want = sorted(({k: v for k, v in r.items() if v is not None} for r in ref), key=lambda r: [str(r.get(k)) for k in key])
    assert len(norm) == len(want) >= 10  # days with a pollutant short of 18 h have no row (nagar.air.service)
    for a, b in zip(norm, want):
        assert {k: a[k] for k in ("city", "station", "date", "aqi", "category", "dominant", "level", "resolution")} == \
               {k: b[k] for k in ("city", "station", "date", "aqi", "category", "dominant", "level", "resolution")}
