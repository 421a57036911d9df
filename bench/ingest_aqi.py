"""Benchmark: bulk file ingest (Parquet, CSV), HTTP batch ingest, and AQI against python-aqi.

Prints one table. Each ingest stage runs in its own process so its peak memory (max RSS) is its own.
Usage: .venv/bin/python bench/ingest_aqi.py [--rows 10000000] [--http-rows 1000000] [--aqi-rows 10000000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STATIONS = 100


def make_table(n: int) -> pa.Table:
    """n rows: STATIONS stations x consecutive minutes of PM2.5, ending well in the past."""
    rng = np.random.default_rng(7)
    i = np.arange(n)
    t0 = np.datetime64("2024-01-01T00:00", "us")
    return pa.table({
        "station": pa.DictionaryArray.from_arrays(pa.array(i % STATIONS, pa.int32()),
                                                  pa.array([f"b{k:03d}" for k in range(STATIONS)])).cast(pa.string()),
        "parameter": pa.array(np.full(n, "pm25")),
        "time": pa.array(t0 + (i // STATIONS).astype("timedelta64[m]"), pa.timestamp("us", tz="UTC")),
        "value": pa.array(np.round(rng.gamma(2.0, 30.0, n), 1)),
        "unit": pa.array(np.full(n, "µg/m³")),
    })


def setup_store(db: Path):
    from nagar.store.duckdb import DuckDBStore

    s = DuckDBStore(db)
    s.upsert_city(dict(id="bench", name="Bench", country="BD", timezone="Asia/Dhaka", lat=23.8, lon=90.4))
    s.upsert_stations([dict(id=f"b{k:03d}", city="bench", name=f"B{k}", lat=23.8, lon=90.4, parameters=["pm25"])
                       for k in range(STATIONS)])
    return s


def stage_file(path: str, db: str) -> dict:
    from nagar.core.settings import Settings
    from nagar.ingest.service import ingest_file

    s = setup_store(Path(db))
    t = time.perf_counter()
    r = ingest_file(s, path=path, settings=Settings(), batch_rows=1_000_000)
    secs = time.perf_counter() - t
    s.close()
    return {"rows": r.received, "inserted": r.inserted, "rejected": r.rejected, "seconds": secs,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def free_port() -> int:
    with socket.socket() as sk:
        sk.bind(("127.0.0.1", 0))
        return sk.getsockname()[1]


def _peak_rss_mb(pid: int) -> float:
    """High-water mark of a process's resident memory (Linux VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def stage_http(n: int, db: str) -> dict:
    import httpx

    from datetime import datetime, timedelta, timezone

    from nagar.security.passwords import hash_password
    from nagar.security.tokens import issue_token

    s = setup_store(Path(db))
    user = s.create_user(username="bench", password_hash=hash_password("bench-password-1"), now=datetime.now(timezone.utc))
    s.set_grant(user_id=user["id"], city="bench", role="operator")
    s.close()
    secret = "b" * 48
    token, _, _ = issue_token(secret, sub=str(user["id"]), typ="access", lifetime=timedelta(hours=1))
    port = free_port()
    env = {**os.environ, "NAGAR_DB": db, "NAGAR_SECRET_KEY": secret}
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "nagar.api.app:create_app", "--factory", "--port",
                               str(port), "--log-level", "warning"], env=env, cwd=ROOT)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(url + "/api/v1/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        tbl = make_table(n)
        batch = 50_000
        bodies = []
        for i in range(0, n, batch):
            rows = tbl.slice(i, batch).to_pylist()
            for r in rows:
                r["time"] = r["time"].isoformat()
            bodies.append(json.dumps(rows).encode())
        with httpx.Client(timeout=120) as c:
            t = time.perf_counter()
            lat = []
            ins = 0
            for b in bodies:
                t1 = time.perf_counter()
                r = c.post(url + "/api/v1/observations", content=b,
                           headers={"content-type": "application/json", "authorization": f"Bearer {token}"})
                lat.append(time.perf_counter() - t1)
                r.raise_for_status()
                ins += r.json()["inserted"]
            secs = time.perf_counter() - t
        peak = _peak_rss_mb(server.pid)
        return {"rows": n, "inserted": ins, "seconds": secs, "p50_batch_ms": 1000 * float(np.median(lat)),
                "server_rss_mb": peak}
    finally:
        server.terminate()
        server.wait(10)


def stage_aqi(n: int, sample: int) -> dict:
    from aqi import to_iaqi, POLLUTANT_PM25, POLLUTANT_PM10, ALGO_EPA

    from nagar.air.aqi import compute_aqi, sub_index
    from nagar.air.standards import load_standard

    rng = np.random.default_rng(1)
    out = {}
    std12 = load_standard("us-epa-2012")
    std24 = load_standard("us-epa-2024")
    pm25 = np.round(rng.uniform(0, 500.4, n), 1)
    pm10 = np.round(rng.uniform(0, 424, n), 0)
    t = time.perf_counter()
    ours = sub_index(pm25, "pm25_24h", std12)
    out["nagar_pm25_s"] = time.perf_counter() - t
    t = time.perf_counter()
    res = compute_aqi({"pm25_24h": pm25, "pm10_24h": pm10}, std24)
    out["nagar_aqi2_s"] = time.perf_counter() - t
    # python-aqi on a sample (it takes ~tens of µs per value), extrapolated to n
    idx = rng.choice(n, sample, replace=False)
    t = time.perf_counter()
    theirs = np.array([float(to_iaqi(POLLUTANT_PM25, str(v), algo=ALGO_EPA)) for v in pm25[idx]])
    their_s = (time.perf_counter() - t) * n / sample
    out["python_aqi_pm25_s_extrapolated"] = their_s
    # python-aqi rounds with Decimal's default ROUND_HALF_EVEN; EPA's TAD rounds to the nearest integer
    # (halves up), so exact .5 interpolation results may differ by one: count those apart
    diff = theirs != ours[idx]
    bp = np.array([[0.0, 12.0, 0, 50], [12.1, 35.4, 51, 100], [35.5, 55.4, 101, 150], [55.5, 150.4, 151, 200],
                   [150.5, 250.4, 201, 300], [250.5, 350.4, 301, 400], [350.5, 500.4, 401, 500]])
    c = pm25[idx]
    seg = np.clip(np.searchsorted(bp[:, 0], c, side="right") - 1, 0, len(bp) - 1)
    raw = (bp[seg, 3] - bp[seg, 2]) / (bp[seg, 1] - bp[seg, 0]) * (c - bp[seg, 0]) + bp[seg, 2]
    tie = np.isclose(raw - np.floor(raw), 0.5, atol=1e-9)
    out["pm25_mismatches"] = int(np.sum(diff & ~tie))
    out["pm25_tie_differences"] = int(np.sum(diff & tie))
    theirs10 = np.array([float(to_iaqi(POLLUTANT_PM10, str(int(v)), algo=ALGO_EPA)) for v in pm10[idx]])
    ours10 = sub_index(pm10[idx], "pm10_24h", std24)
    out["pm10_mismatches"] = int(np.sum(theirs10 != ours10))
    out["sample"] = sample
    out["n"] = n
    del res
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--http-rows", type=int, default=1_000_000)
    ap.add_argument("--aqi-rows", type=int, default=10_000_000)
    ap.add_argument("--aqi-sample", type=int, default=100_000)
    ap.add_argument("--stage", help=argparse.SUPPRESS)
    ap.add_argument("--args", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.stage:  # child process
        kw = json.loads(a.args)
        fn = {"file": stage_file, "http": stage_http, "aqi": stage_aqi}[a.stage]
        print(json.dumps(fn(**kw)))
        return

    def child(stage: str, **kw) -> dict:
        r = subprocess.run([sys.executable, __file__, "--stage", stage, "--args", json.dumps(kw)],
                           capture_output=True, text=True, cwd=ROOT)
        if r.returncode:
            sys.stderr.write(r.stderr)
            raise SystemExit(f"stage {stage} failed")
        return json.loads(r.stdout.strip().splitlines()[-1])

    results = []
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        tbl = make_table(a.rows)
        pq.write_table(tbl, d / "obs.parquet", row_group_size=1_000_000)
        pacsv.write_csv(tbl, d / "obs.csv")
        del tbl
        for kind in ("parquet", "csv"):
            r = child("file", path=str(d / f"obs.{kind}"), db=str(d / f"{kind}.duckdb"))
            results.append((f"bulk ingest {kind} ({r['rows']:,} rows)", f"{r['rows'] / r['seconds']:,.0f} obs/s",
                            f"{r['seconds']:.1f} s", f"peak RSS {r['peak_mb']:,.0f} MB"))
        r = child("http", n=a.http_rows, db=str(d / "http.duckdb"))
        results.append((f"HTTP batch ingest ({r['rows']:,} rows, 50k/request)", f"{r['rows'] / r['seconds']:,.0f} obs/s",
                        f"p50 {r['p50_batch_ms']:.0f} ms/batch", f"server peak RSS {r['server_rss_mb']:,.0f} MB"))
    r = child("aqi", n=a.aqi_rows, sample=a.aqi_sample)
    ours = r["nagar_pm25_s"]
    theirs = r["python_aqi_pm25_s_extrapolated"]
    results.append((f"AQI PM2.5 sub-index, {r['n']:,} values: Nagar", f"{r['n'] / ours:,.0f} values/s", f"{ours:.2f} s", ""))
    results.append((f"  python-aqi (measured on {r['sample']:,}, extrapolated)", f"{r['n'] / theirs:,.0f} values/s",
                    f"{theirs:.0f} s", f"speed-up {theirs / ours:,.0f}x"))
    results.append(("  Nagar overall AQI (PM2.5 + PM10, EPA 2024)", f"{r['n'] / r['nagar_aqi2_s']:,.0f} values/s",
                    f"{r['nagar_aqi2_s']:.2f} s", ""))
    results.append(("  values differing from python-aqi (EPA 2012 PM2.5, PM10 <= 424)",
                    f"{r['pm25_mismatches']} + {r['pm10_mismatches']}", f"of {r['sample']:,} each",
                    f"+ {r['pm25_tie_differences']} exact .5 ties: python-aqi rounds half to even"))
    from rich.console import Console
    from rich.table import Table

    t = Table(title="Nagar ingest and AQI benchmark")
    for c in ("what", "rate", "time", "memory / note"):
        t.add_column(c)
    for row in results:
        t.add_row(*row)
    Console(width=150).print(t)


if __name__ == "__main__":
    main()
