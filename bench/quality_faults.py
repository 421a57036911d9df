"""Benchmark: precision and recall of the sensor-fault detectors on injected faults.

Clean generated demo data (``nagar.demo.generator.generate``; its own faulty Dhaka PM2.5 sensor is kept
and labelled from ``DemoData.faults``), with faults of each kind injected at random, with known labels:

- stuck: a value frozen at the previous reading for 8-48 h (PM2.5, PM10, NO2 or O3 at a random station);
- spike: one reading multiplied by 3-8 (or PM +300-900 µg/m³);
- out_of_range: a negative value, a value above the instrument range, or PM2.5 set to 1.3-2x PM10 (both
  readings labelled: the pair is what is inconsistent);
- drift: a station's PM2.5 or NO2 multiplied by a ramp to x1.6-2.0 (or x0.45-0.6) over 21 days, then held
  14 days (labelled where the factor is 15 % or more away from 1);
- timestamp: extra readings off the hourly clock (+17-43 min), bursts (+30 s re-sends), readings in the
  future (+2-48 h), and late device pushes (5-20 days behind the device's newest push, seen by the
  write listener).

Everything is loaded into an in-memory store through the one write path and scanned city by city with
``nagar.quality.service.scan`` (the late pushes go through a ``QualityWatcher``). Per kind it prints:
labelled readings, flagged readings, recall (labelled readings of the kind flagged *as that kind*),
precision (flagged readings of the kind that carry any injected label: a spike that also breaks
PM2.5 <= PM10 is a true fault whichever detector names it), and the false alarms. Usage::

    .venv/bin/python bench/quality_faults.py [--seed 42] [--days 90]
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl
import pyarrow as pa

from nagar.demo.generator import generate
from nagar.quality import detect, service
from nagar.store.base import OBSERVATION_SCHEMA
from nagar.store.duckdb import DuckDBStore

H = 3_600_000_000


def inject(df: pl.DataFrame, stations: list[dict], rng: np.random.Generator, end_us: int):
    """Returns (modified frame, extra rows, labels {kind: set of (station, parameter, us)})."""
    labels: dict[str, set] = {k: set() for k in detect.KINDS}
    vals = df.get_column("value").to_numpy().copy()
    st = df.get_column("station").to_numpy()
    par = df.get_column("parameter").to_numpy()
    us = df.get_column("us").to_numpy()
    index = {(s, p): np.flatnonzero((st == s) & (par == p)) for s, p in set(zip(st, par))}
    keys = sorted(index)
    pos = {(s, p, int(u)): i for i, (s, p, u) in enumerate(zip(st, par, us))}
    used = np.zeros(len(vals), dtype=bool)

    def pick(params, min_len=1):
        while True:
            s, p = keys[int(rng.integers(len(keys)))]
            if p in params and len(index[(s, p)]) > min_len + 48:
                return s, p, index[(s, p)]

    for _ in range(12):  # stuck
        s, p, idx = pick(("pm25", "pm10", "no2", "o3"))
        L = int(rng.integers(8, 49))
        a = int(rng.integers(30, len(idx) - L - 30))
        run = idx[a:a + L]
        if used[idx[a - 3:a + L + 3]].any() or vals[idx[a - 1]] <= detect.limits_for(p).floor:
            continue
        vals[run] = vals[idx[a - 1]]
        used[run] = True
        labels["stuck"].update((s, p, int(us[i])) for i in run)
    for _ in range(40):  # spike
        s, p, idx = pick(("pm25", "pm10", "no2", "o3"))
        i = idx[int(rng.integers(10, len(idx) - 10))]
        if used[max(0, i - 8):i + 8].any():
            continue
        if p.startswith("pm") and rng.random() < 0.5:
            vals[i] = vals[i] + rng.uniform(300, 900)
        else:
            vals[i] = vals[i] * rng.uniform(3, 8) + 30
        used[i] = True
        labels["spike"].add((s, p, int(us[i])))
    for k in range(30):  # out of range
        if k < 10:
            s, p, idx = pick(("pm25", "pm10", "no2", "o3"))
            i = idx[int(rng.integers(len(idx)))]
            vals[i] = -rng.uniform(1, 50)
        elif k < 20:
            s, p, idx = pick(("pm25",))
            i = idx[int(rng.integers(len(idx)))]
            vals[i] = rng.uniform(1001, 3000)
        else:
            s, p, idx = pick(("pm25",))
            i = idx[int(rng.integers(len(idx)))]
            j = pos.get((s, "pm10", int(us[i])))
            if j is None or used[i] or used[j]:
                continue
            vals[i] = round(vals[j] * rng.uniform(1.3, 2.0), 1)
            used[j] = True
            labels["out_of_range"].add((s, "pm10", int(us[j])))
        if used[i]:
            continue
        used[i] = True
        labels["out_of_range"].add((s, p if k < 20 else "pm25", int(us[i])))
    by_city = {}
    for s in stations:
        by_city.setdefault(s["city"], []).append(s["id"])
    drifted = 0
    for _ in range(40):  # drift: cities with 4+ stations measuring the parameter (itself + 3 neighbours)
        if drifted >= 4:
            break
        s, p, idx = pick(("pm25", "no2"))
        city = next(x["city"] for x in stations if x["id"] == s)
        if sum((o, p) in index for o in by_city[city]) < 4:
            continue
        n = len(idx)
        a = int(rng.integers(n // 4, n - 35 * 24))
        up = rng.random() < 0.5
        top = rng.uniform(1.6, 2.0) if up else rng.uniform(0.45, 0.6)
        seg = idx[a:a + 35 * 24]
        if used[seg].any():
            continue
        ramp = np.minimum((us[seg] - us[seg[0]]) / (21 * 24 * H), 1.0)
        factor = 1 + (top - 1) * ramp
        vals[seg] = np.round(vals[seg] * factor, 1)
        used[seg] = True
        labels["drift"].update((s, p, int(us[i])) for i, f in zip(seg, factor) if abs(f - 1) >= 0.15)
        drifted += 1
    out = df.with_columns(pl.Series("value", vals))
    extra = []
    for k in range(25):  # time stamps: off the clock, bursts, future
        s, p, idx = pick(("pm25", "pm10", "no2", "o3"))
        i = idx[int(rng.integers(10, len(idx) - 10))]
        if used[max(0, i - 3):i + 3].any():
            continue
        if k < 10:
            t = int(us[i]) + int(rng.integers(17, 44)) * 60_000_000
        elif k < 20:
            t = int(us[i]) + 30_000_000
        else:
            t = end_us + int(rng.integers(2, 49)) * H
        extra.append((s, p, t, float(max(vals[i], 0.0))))
        labels["timestamp"].add((s, p, t))
    return out, extra, labels


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--days", type=int, default=90)
    args = ap.parse_args()
    end = datetime(2026, 3, 1, tzinfo=timezone.utc)
    data = generate(seed=args.seed, days=args.days, end=end)
    rng = np.random.default_rng([args.seed, 77])
    df = pl.from_arrow(data.observations).with_columns(pl.col("time").dt.epoch("us").alias("us"))
    end_us = int(end.timestamp() * 1_000_000)
    df, extra, labels = inject(df, data.stations, rng, end_us)
    for f in data.faults:  # the generator's own faulty sensor
        t = f["start"]
        while t <= f["end"]:
            labels[f["kind"]].add((f["station"], f["parameter"], int(t.timestamp() * 1_000_000)))
            t += timedelta(hours=1)
    store = DuckDBStore(":memory:")
    for c in data.cities:
        store.upsert_city(c)
    store.upsert_stations(data.stations)

    def table(rows_df: pl.DataFrame) -> pa.Table:
        return pa.table({
            "station": rows_df.get_column("station").to_arrow(), "parameter": rows_df.get_column("parameter").to_arrow(),
            "time": pa.array(rows_df.get_column("us").to_numpy(), pa.timestamp("us", tz="UTC")),
            "value": rows_df.get_column("value").to_arrow(), "unit": rows_df.get_column("unit").to_arrow(),
            "flag": pa.array(["valid"] * rows_df.height)}).cast(OBSERVATION_SCHEMA)

    units = dict(zip(df.get_column("parameter").to_list(), df.get_column("unit").to_list()))
    ex = pl.DataFrame({"station": [e[0] for e in extra], "parameter": [e[1] for e in extra],
                       "us": [e[2] for e in extra], "value": [e[3] for e in extra],
                       "unit": [units[e[1]] for e in extra]})
    store.write_observations(table(df.select("station", "parameter", "us", "value", "unit")))
    store.write_observations(table(ex))
    t0 = time.perf_counter()
    readings = 0
    for c in sorted({s["city"] for s in data.stations}):
        res = service.scan(store, city=c, now=end)
        readings += res.readings
    scan_s = time.perf_counter() - t0
    # late device pushes, through the write listener (one push per station: old readings re-sent)
    watcher = service.attach(store, background=False)
    pm = df.filter(pl.col("parameter") == "pm25")
    for s in sorted(set(pm.get_column("station").to_list()))[:6]:
        newest = pm.filter(pl.col("station") == s).get_column("us").max()
        store.write_observations(table(pl.DataFrame({"station": [s], "parameter": ["pm25"], "us": [newest],
                                                     "value": [50.0], "unit": ["µg/m³"]})))
        back = newest - int(rng.integers(5, 21)) * 24 * H
        store.write_observations(table(pl.DataFrame({"station": [s], "parameter": ["pm25"], "us": [back],
                                                     "value": [51.0], "unit": ["µg/m³"]})))
        labels["timestamp"].add((s, "pm25", back))
    t1 = time.perf_counter()
    watcher.drain()
    listen_s = time.perf_counter() - t1
    flagged: dict[str, set] = {k: set() for k in detect.KINDS}
    for c in sorted({s["city"] for s in data.stations}):
        for r in store.quality_faults(city=c, limit=10_000_000):
            flagged[r["kind"]].add((r["station"], r["parameter"], int(r["time"].timestamp() * 1_000_000)))
    any_label = set().union(*labels.values())
    print(f"seed {args.seed}, {args.days} days, {len(data.stations)} stations, {readings:,} readings scanned "
          f"in {scan_s:.2f} s (all cities, all kinds); listener drain {listen_s:.2f} s")
    print(f"{'kind':<14}{'labelled':>10}{'flagged':>10}{'recall':>9}{'precision':>11}{'false alarms':>14}")
    for k in detect.KINDS:
        lab, fl = labels[k], flagged[k]
        rec = len(lab & fl) / len(lab) if lab else float("nan")
        tp_any = len(fl & any_label)
        prec = tp_any / len(fl) if fl else float("nan")
        print(f"{k:<14}{len(lab):>10}{len(fl):>10}{rec:>9.3f}{prec:>11.3f}{len(fl) - tp_any:>14}")
    store.close()


if __name__ == "__main__":
    main()
