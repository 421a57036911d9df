"""Benchmark: the UNU sales-lifespan model on every UNU-KEY, and the custody ledger's write path.

1. ``unu.estimate`` on all 54 keys with POM for ``--years`` consecutive years (one figure per key and
   year), best of ``--repeat`` runs; and the plain Python double loop over (key, t, p) it replaces, once,
   with the largest absolute difference between the two.
2. ``--transfers`` transfers through ``service.transfer`` into a DuckDB file (each one: licence and
   registration checks, the holding check inside the write transaction, the audit record).

Usage: .venv/bin/python bench/ewaste.py [--years 60] [--repeat 5] [--transfers 200]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def loop_model(rows, keys, first, n):
    """The textbook double loop, for comparison: W[k][t] = sum_p POM[k][p] * (F(t-p+0.5) - F(t-p-0.5))."""
    def F(x, a, b):
        return 1 - math.exp(-((x / b) ** a)) if x > 0 else 0.0
    pom = {}
    for r in rows:
        pom[(r["unu_key"], r["year"] - first)] = r["kg"]
    total = [0.0] * n
    for k in keys:
        a, b = keys[k].shape, keys[k].scale
        for t in range(n):
            for p in range(t + 1):
                total[t] += pom.get((k, p), 0.0) * (F(t - p + 0.5, a, b) - F(t - p - 0.5, a, b))
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--years", type=int, default=60)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--transfers", type=int, default=200)
    args = ap.parse_args()

    from nagar.waste import unu

    keys = unu.load_keys()
    first = 2024 - args.years + 1
    rows = [{"year": first + i, "unu_key": k, "kg": 1000.0 * (1 + (j % 7)) * (1.05 ** i)}
            for j, k in enumerate(keys) for i in range(args.years)]
    best = float("inf")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        out = unu.estimate(rows)
        best = min(best, time.perf_counter() - t0)
    t0 = time.perf_counter()
    ref = loop_model(rows, keys, first, args.years)
    loop_s = time.perf_counter() - t0
    diff = max(abs(a - b) for a, b in zip(out["total"]["generated"], ref))
    print(f"model: 54 keys x {args.years} years: numpy {best * 1000:.1f} ms (best of {args.repeat}), "
          f"python loop {loop_s * 1000:.0f} ms, max |difference| {diff:.2e} kg")

    from nagar.store.duckdb import DuckDBStore
    from nagar.waste import service
    from nagar.waste.models import EventIn, EventItem, HandlerIn, PointIn, TransferIn

    with tempfile.TemporaryDirectory() as tmp:
        s = DuckDBStore(Path(tmp) / "b.duckdb")
        s.upsert_city(dict(id="dhaka", name="Dhaka", country="BD", timezone="Asia/Dhaka", lat=23.8, lon=90.4))
        service.add_point(s, city="dhaka", point=PointIn(id="p", name="P", lat=23.8, lon=90.4), actor="bench")
        for h in (HandlerIn(id="a", name="A", role="collector"),
                  HandlerIn(id="b", name="B", role="transporter", licence_no="L")):
            service.add_handler(s, city="dhaka", handler=h, actor="bench")
        ev = service.add_event(s, city="dhaka", event=EventIn(point_id="p", collector_id="a", day=date(2025, 1, 1),
                                                               items=[EventItem(category=6, kg=1e6)]), actor="bench")
        bid = ev["batches"][0]["id"]
        t0 = time.perf_counter()
        for i in range(args.transfers):
            src, dst = ("a", "b") if i % 2 == 0 else ("b", "a")
            service.transfer(s, city="dhaka", t=TransferIn(batch_id=bid, from_handler=src, to_handler=dst,
                                                            day=date(2025, 1, 2) + timedelta(days=i), kg=10.0),
                             actor="bench")
        dt = time.perf_counter() - t0
        tr_t0 = time.perf_counter()
        tr = service.trace(s, city="dhaka", batch_id=bid)
        tr_s = time.perf_counter() - tr_t0
        s.close()
    print(f"custody: {args.transfers} transfers in {dt:.2f} s ({dt / args.transfers * 1000:.1f} ms each, "
          f"audited); trace of {len(tr['steps'])} steps {tr_s * 1000:.0f} ms, balanced={tr['balance']['balanced']}")


if __name__ == "__main__":
    main()
