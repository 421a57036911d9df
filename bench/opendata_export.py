"""Benchmark: a streamed open-data download stays flat in memory as the dataset grows.

Synthetic, deterministic observations (``--stations`` stations x PM2.5 every 10 minutes) for 1 and for
12 months are written through the store's write path into a DuckDB file; then, in a fresh process each,
``observations-hourly`` is exported with the same code as the HTTP download (``nagar.opendata.service
.download``: one record batch per month, encoded as it comes) to Parquet and to CSV. Reported: rows out,
bytes, wall time and the exporting process's peak resident set size (``ru_maxrss``, which includes the
~190 MB of imported libraries). Usage::

    .venv/bin/python bench/opendata_export.py                  # 20 stations: 0.9 M and 10.5 M readings
    .venv/bin/python bench/opendata_export.py --stations 5
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path


def build(path: Path, stations: int, months: int) -> int:
    import numpy as np
    import pyarrow as pa

    from nagar.opendata.service import ensure_published
    from nagar.store.duckdb import DuckDBStore

    s = DuckDBStore(path)
    s.upsert_city(dict(id="dhaka", name="Dhaka", country="BD", timezone="Asia/Dhaka", lat=23.81, lon=90.41,
                       standard="us-epa-2024", open_data=True))
    ids = [f"st{i:03d}" for i in range(stations)]
    s.upsert_stations([dict(id=i, city="dhaka", name=i, lat=23.7 + k * 0.01, lon=90.35 + k * 0.01,
                            parameters=["pm25"]) for k, i in enumerate(ids)])
    t0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
    steps = int((t0.replace(year=2025 + months // 12, month=1 + months % 12) if months < 12
                 else t0.replace(year=2026)) .timestamp() - t0.timestamp()) // 600
    rng = np.random.default_rng(7)
    n = 0
    for k, st in enumerate(ids):
        times = np.datetime64(t0.replace(tzinfo=None), "us") + np.arange(steps) * np.timedelta64(10, "m")
        vals = 40 + 20 * rng.random(steps)
        s.write_observations(pa.table({"station": [st] * steps, "parameter": ["pm25"] * steps,
                                       "time": pa.array(times, pa.timestamp("us", tz="UTC")),
                                       "value": vals, "unit": ["µg/m³"] * steps, "flag": ["valid"] * steps}))
        n += steps
    ensure_published(s, city="dhaka", datasets=["observations-hourly"], actor="bench")
    s.close()
    return n


def export(path: str, fmt: str) -> None:
    from nagar.core.settings import Settings
    from nagar.opendata.service import download
    from nagar.store.duckdb import DuckDBStore

    s = DuckDBStore(path, read_only=True)
    t = time.perf_counter()
    body, _ = download(s, settings=Settings(db=path), city="dhaka", dataset="observations-hourly", fmt=fmt)
    size = 0
    with open(path + "." + fmt, "wb") as f:
        for chunk in body:
            f.write(chunk)
            size += len(chunk)
    print(json.dumps({"fmt": fmt, "bytes": size, "seconds": round(time.perf_counter() - t, 2),
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stations", type=int, default=20)
    ap.add_argument("--export", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.export:
        export(*a.export)
        return
    with tempfile.TemporaryDirectory() as tmp:
        for months in (1, 12):
            db = Path(tmp) / f"m{months}.duckdb"
            t = time.perf_counter()
            n = build(db, a.stations, months)
            print(f"{months:>2} month(s): {n:,} readings ({a.stations} stations, 10-min) -> "
                  f"{n // 6:,} hourly rows; built in {time.perf_counter() - t:.1f} s")
            for fmt in ("parquet", "csv"):
                out = subprocess.run([sys.executable, __file__, "--export", str(db), fmt], capture_output=True,
                                     text=True, check=True).stdout
                r = json.loads(out)
                print(f"   {fmt:8s} {r['bytes'] / 1e6:8.1f} MB  {r['seconds']:6.2f} s  peak RSS {r['peak_rss_mb']} MB")


if __name__ == "__main__":
    main()
