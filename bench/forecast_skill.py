"""Benchmark: PM2.5 forecast skill on the demo data, beside persistence, and training time per station.

For every demo station with PM2.5 (``nagar.demo.generator.generate``, 90 days by default), the hourly
series is built as the store would give it (the demo's faulty readings removed, as the quality scan
flags them), then:

- **held out** — rolling-origin evaluation (``nagar.forecast.model.rolling_origin``): three folds of
  seven days at the end of the record, each model trained only on targets before its fold;
- **in sample** ("on the demo data") — one model fitted on the whole record and scored on forecasts
  issued over that same record (what a leaking evaluation would report; shown for contrast);

each beside two baselines: persistence (the value at the issue hour carried forward) and the same hour
yesterday. MAE [µg/m³] overall and per horizon band, and the AQI category hit rate under each city's
standard. Training time is the fit on the whole record (one thread). Usage::

    .venv/bin/python bench/forecast_skill.py [--seed 42] [--days 90] [--city dhaka]
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timezone

import numpy as np
import polars as pl

from nagar.air.standards import load_standard
from nagar.demo.generator import generate
from nagar.forecast import model as M

H = 3_600_000_000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--city", default=None, help="Only this city (default: every demo city)")
    args = ap.parse_args()
    end = datetime(2026, 3, 1, tzinfo=timezone.utc)
    data = generate(seed=args.seed, days=args.days, end=end)
    cities = {c["id"]: c for c in data.cities}
    df = pl.from_arrow(data.observations).filter(pl.col("parameter") == "pm25").with_columns(
        pl.col("time").dt.epoch("us").alias("us"))
    bad = {(f["station"], int(t)) for f in data.faults
           for t in range(int(f["start"].timestamp() * 1e6), int(f["end"].timestamp() * 1e6) + 1, H)}
    t0 = int(data.start.timestamp() * 1_000_000)
    n = args.days * 24
    rows = []
    pooled = {"held": [], "in": []}
    for st in data.stations:
        if "pm25" not in st["parameters"] or (args.city and st["city"] != args.city):
            continue
        city = cities[st["city"]]
        std = load_standard(city["standard"])
        g = df.filter(pl.col("station") == st["id"])
        y = np.full(n, np.nan)
        for u, v in zip(g.get_column("us").to_numpy(), g.get_column("value").to_numpy()):
            if (st["id"], int(u)) not in bad:
                y[(u - t0) // H] = v
        cal = M.calendar(t0 + np.arange(n + 24) * H, city["timezone"])
        held = M.rolling_origin(y, cal, folds=3, fold_days=7, std=std, stride=2)
        tf = time.perf_counter()
        model = M.fit(y, cal, stride=2)
        fit_s = time.perf_counter() - tf
        issue = np.arange(23, n)
        issue = issue[np.isfinite(y[issue])]
        X, T, Hh = M.design(y, cal, issue)
        keep = T < n
        X, T, Hh = X[keep], T[keep], Hh[keep]
        ins = M.skill(y[T], {"model": M.predict(model, X), "persistence": X[:, M.FEATURES.index("lag_0")],
                             "yesterday": X[:, M.FEATURES.index("same_hour_yesterday")]}, Hh, std)
        rows.append((st["id"], std.id, held.skill, ins, fit_s))
        pooled["held"].append(held)
        pooled["in"].append(ins)

    def line(name, sk, extra=""):
        m, h = sk["mae"], sk["category_hit_rate"]
        return (f"{name:<28}{sk['n']:>7}{m['model']:>8.1f}{m['persistence']:>8.1f}{m['yesterday']:>8.1f}"
                f"{h['model']:>8.3f}{h['persistence']:>8.3f}{h['yesterday']:>8.3f}{extra}")

    head = (f"{'station':<28}{'n':>7}{'MAE':>8}{'pers.':>8}{'yest.':>8}{'hit':>8}{'pers.':>8}{'yest.':>8}")
    print(f"seed {args.seed}, {args.days} days ending {end:%Y-%m-%d}; MAE in µg/m³; hit = AQI category hit rate")
    print("\nHELD OUT (rolling origin, 3 folds x 7 days, trained on earlier targets only)")
    print(head + f"{'fit s':>8}")
    for sid, std_id, h, _, fit_s in rows:
        print(line(f"{sid}", h, f"{fit_s:>8.2f}"))
    ho = [r[2] for r in rows]
    tot = sum(s["n"] for s in ho)

    def pool(sks, key, name):
        return sum(s[key][name] * s["n"] for s in sks) / sum(s["n"] for s in sks)

    pooled_held = {"n": tot, "mae": {k: pool(ho, "mae", k) for k in ("model", "persistence", "yesterday")},
                   "category_hit_rate": {k: pool(ho, "category_hit_rate", k) for k in ("model", "persistence",
                                                                                       "yesterday")}}
    print(line("all stations (pooled)", pooled_held))
    bands = {b: {k: sum(s["mae_by_band"][k][b] * s["n"] for s in ho) / tot for k in ("model", "persistence",
                                                                                    "yesterday")}
             for b in ho[0]["mae_by_band"]["model"]}
    print("  MAE by horizon band (pooled): " + "; ".join(
        f"{b}: model {v['model']:.1f}, persistence {v['persistence']:.1f}, yesterday {v['yesterday']:.1f}"
        for b, v in bands.items()))
    print("\nIN SAMPLE (fitted on the whole record and scored on it; for contrast only)")
    print(head)
    ins = [r[3] for r in rows]
    for sid, _, _, s, _ in rows:
        print(line(sid, s))
    pooled_in = {"n": sum(s["n"] for s in ins),
                 "mae": {k: pool(ins, "mae", k) for k in ("model", "persistence", "yesterday")},
                 "category_hit_rate": {k: pool(ins, "category_hit_rate", k) for k in ("model", "persistence",
                                                                                      "yesterday")}}
    print(line("all stations (pooled)", pooled_in))
    fits = [r[4] for r in rows]
    print(f"\ntraining time per station (whole record, {n} hours): mean {np.mean(fits):.2f} s, "
          f"max {np.max(fits):.2f} s over {len(fits)} stations")


if __name__ == "__main__":
    main()
