"""Benchmark: what alert evaluation costs an ingest, and the vectorised CCME WQI.

1. Live ingest: S stations x H hours of minute PM2.5 readings written one hourly batch at a time
   (S x 60 rows each), three ways: no listener; the app's AlertWorker listener (the write only queues the
   batch; the time to drain the queue is reported apart); the synchronous engine as the listener.
   Rules: city-wide PM2.5 1-h mean > 55 for 3 h, city AQI >= very_unhealthy for 2 h, PM2.5 24-h mean at
   one station.
2. CCME WQI over N tests in G groups (station x period) of 10 variables.

Usage: .venv/bin/python bench/alerts_wqi.py [--stations 50] [--hours 48] [--tests 1000000] [--groups 10000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nagar.alerts.models import RuleIn  # noqa: E402
from nagar.alerts.service import AlertEngine, AlertWorker, add_rule  # noqa: E402
from nagar.core.settings import Settings  # noqa: E402
from nagar.store.duckdb import DuckDBStore  # noqa: E402
from nagar.water.wqi import ccme_wqi  # noqa: E402

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def batch(stations: int, hour: int, rng) -> pa.Table:
    n = stations * 60
    times = [T0 + timedelta(hours=hour, minutes=m) for m in range(60)] * stations
    return pa.table({
        "station": pa.array([f"s{i:03d}" for i in range(stations) for _ in range(60)]),
        "parameter": pa.array(["pm25"] * n),
        "time": pa.array(times, pa.timestamp("us", tz="UTC")),
        "value": pa.array(rng.gamma(2.0, 30.0, n)),
        "unit": pa.array(["µg/m³"] * n),
        "flag": pa.array(["valid"] * n),
    })


def world(path: Path, stations: int, settings: Settings) -> DuckDBStore:
    s = DuckDBStore(path)
    s.upsert_city(dict(id="dhaka", name="Dhaka", country="BD", timezone="Asia/Dhaka", lat=23.8, lon=90.4,
                       standard="us-epa-2024"))
    s.upsert_stations([dict(id=f"s{i:03d}", city="dhaka", name=f"S{i}", lat=23.8, lon=90.4, parameters=["pm25"])
                       for i in range(stations)])
    for name, rule in (("pm", {"kind": "observation", "parameter": "pm25", "threshold": 55, "duration": 3}),
                       ("aqi", {"kind": "aqi", "comparison": "ge", "category": "very_unhealthy", "duration": 2}),
                       ("24h", {"kind": "observation", "parameter": "pm25", "averaging": "24h", "threshold": 35,
                                "station": "s000"})):
        add_rule(s, city="dhaka", body=RuleIn(name=name, rule=rule), actor="bench", settings=settings)
    return s


def run(mode: str, stations: int, hours: int) -> dict:
    rng = np.random.default_rng(1)
    batches = [batch(stations, h, rng) for h in range(hours)]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(db=Path(tmp) / "b.duckdb", secret_key="x" * 32)
        s = world(Path(tmp) / "b.duckdb", stations, settings)
        worker = None
        if mode == "worker":
            worker = AlertWorker(s, settings, tick=0.05).start()
        elif mode == "sync":
            s.on_write(AlertEngine(s, settings).process_batch)
        writes = []
        t_all = time.perf_counter()
        for b in batches:
            t = time.perf_counter()
            s.write_observations(b)
            writes.append(time.perf_counter() - t)
        t_drain = time.perf_counter()
        if worker is not None:
            worker.drain()
            worker.stop()
        drain = time.perf_counter() - t_drain
        total = time.perf_counter() - t_all
        events = len(s.alert_events(city="dhaka", limit=10000))
        s.close()
    return {"mode": mode, "write_ms_median": 1000 * statistics.median(writes), "write_ms_p95":
            1000 * sorted(writes)[int(0.95 * len(writes)) - 1], "drain_s": drain, "total_s": total,
            "events": events}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stations", type=int, default=50)
    ap.add_argument("--hours", type=int, default=48)
    ap.add_argument("--tests", type=int, default=1_000_000)
    ap.add_argument("--groups", type=int, default=10_000)
    a = ap.parse_args()
    print(f"live ingest: {a.stations} stations x {a.hours} hourly batches of {a.stations * 60} rows, 3 rules")
    print(f"{'listener':<10}{'write median ms':>17}{'write p95 ms':>14}{'queue drain s':>15}{'total s':>9}{'events':>8}")
    for mode in ("none", "worker", "sync"):
        r = run(mode, a.stations, a.hours)
        print(f"{r['mode']:<10}{r['write_ms_median']:>17.1f}{r['write_ms_p95']:>14.1f}{r['drain_s']:>15.2f}"
              f"{r['total_s']:>9.2f}{r['events']:>8}")
    rng = np.random.default_rng(2)
    g = rng.integers(0, a.groups, a.tests)
    var = rng.integers(0, 10, a.tests)
    val = rng.gamma(2.0, 1.0, a.tests)
    up = np.where(var % 2 == 0, 3.0, np.nan)
    lo = np.where(var % 2 == 1, 0.5, np.nan)
    t = time.perf_counter()
    r = ccme_wqi(g, var, val, lo, up, n_groups=a.groups)
    dt = time.perf_counter() - t
    print(f"CCME WQI: {a.tests:,} tests in {a.groups:,} groups: {dt * 1000:.0f} ms "
          f"(mean WQI {np.nanmean(r.wqi):.1f})")


if __name__ == "__main__":
    main()
