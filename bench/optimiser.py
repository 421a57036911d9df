"""Benchmark: the fund's portfolio optimiser at scale, against the spreadsheet (greedy) method.

26 cities x 1,000 candidate projects x 3 instruments (the demo fund's JOIN equity, government grant and
JBIC loan, 250 bn JPY), drawn by nagar.funding.demo.generate_pipeline; rules: floor 1 bn JPY per city,
ceiling 10 % of the fund per city, sector limit 30 % for waste-to-energy, loan coverage DSCR 1.2
(``--tight``: the harder rules below).

Prints one table: model size, build + solve time, optimality gap (target <= 0.1 % in < 10 s on 2 cores),
abatement of the exact and greedy portfolios, and peak memory (max RSS of this process, which includes
HiGHS's own allocations, and the Python-level peak from tracemalloc in a separate, untimed run since
tracing slows Python down several-fold). The exact solve is started from the greedy portfolio (which
the plan computes anyway for its comparison); ``--cold`` also times it without.

Usage: .venv/bin/python bench/optimiser.py [--cities 26] [--per-city 1000] [--gap 0.001] [--threads 2]
       [--seed 7] [--cold] [--tight]   (--tight: floor 3 bn, ceiling 5 %, landfill gas 5 %, WtE 10 %, DSCR 1.3)
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cities", type=int, default=26)
    ap.add_argument("--per-city", type=int, default=1000)
    ap.add_argument("--gap", type=float, default=1e-3, help="relative MIP gap at which HiGHS stops")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--cold", action="store_true", help="also solve without the greedy portfolio as a start")
    ap.add_argument("--tight", action="store_true", help="tighter rules (where greedy falls well short)")
    args = ap.parse_args()

    from rich.console import Console
    from rich.table import Table

    from nagar.funding import optimiser
    from nagar.funding.demo import DEMO_FUND, DEMO_INSTRUMENTS, demo_cities, generate_pipeline
    from nagar.funding.inputs import instruments_for, projects_frame

    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    asean = [c for c in demo_cities() if c["country"] != "BD"][: args.cities]
    rows = generate_pipeline(args.seed, cities=asean, per_city=args.per_city)
    frame = projects_frame(DEMO_FUND, rows)
    instruments = instruments_for(DEMO_FUND, DEMO_INSTRUMENTS)
    t_gen = time.perf_counter() - t0
    if args.tight:
        rules = dict(city_floor=3e9, city_ceiling_share=0.05, min_dscr=1.3,
                     sector_max_share={"landfill_gas": 0.05, "waste_to_energy": 0.1})
    else:
        rules = dict(city_floor=1e9, city_ceiling_share=0.10, sector_max_share={"waste_to_energy": 0.3}, min_dscr=1.2)
    cons = optimiser.Constraints(**rules, mip_rel_gap=args.gap, time_limit=args.time_limit, threads=args.threads)

    t1 = time.perf_counter()
    gr = optimiser.greedy(frame, instruments, cons)
    t_greedy = time.perf_counter() - t1
    t2 = time.perf_counter()
    exact = optimiser.solve(frame, instruments, cons, start=gr)
    t_exact = time.perf_counter() - t2
    rss_exact = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cold = None
    if args.cold:
        t3 = time.perf_counter()
        cold = optimiser.solve(frame, instruments, cons)
        t_cold = time.perf_counter() - t3
    cmp = optimiser.compare(exact, gr)
    tracemalloc.start()
    optimiser.solve(frame, instruments, cons, start=gr)
    py_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    t = Table(title=f"Portfolio optimiser: {len(asean)} cities x {args.per_city:,} projects x {len(instruments)} "
                    f"instruments (HiGHS, {args.threads} threads, gap target {args.gap:.2%})")
    t.add_column("measure")
    t.add_column("value", justify="right")
    size = exact.size
    t.add_row("projects / selectable / (project, instrument) pairs",
              f"{size['projects']:,} / {size['selectable']:,} / {size['pairs']:,}")
    t.add_row("constraint rows", f"{size['rows']:,}")
    t.add_row("pipeline generation", f"{t_gen:.2f} s")
    t.add_row("exact: status", exact.message)
    t.add_row("exact: build + solve time (started from the greedy portfolio)", f"{t_exact:.2f} s")
    if cold is not None:
        t.add_row("exact: build + solve time, cold start", f"{t_cold:.2f} s (gap {cold.gap:.4%})")
    t.add_row("exact: LP bound / fixed by reduced cost / core size",
              f"{size.get('lp_bound', float('nan')) / 1e6:,.2f} Mt-eq / {size.get('fixed_by_reduced_cost', 0):,} / "
              f"{size.get('core', '-')}")
    t.add_row("exact: optimality gap", f"{exact.gap:.4%}" if exact.gap is not None else "-")
    t.add_row("exact: projects chosen", f"{len(exact.chosen):,}")
    t.add_row("exact: committed", f"{exact.committed / 1e9:,.1f} bn JPY")
    t.add_row("exact: lifetime abatement", f"{exact.abatement_t / 1e6:,.2f} MtCO2e")
    t.add_row("greedy: time", f"{t_greedy:.2f} s")
    t.add_row("greedy: lifetime abatement", f"{gr.abatement_t / 1e6:,.2f} MtCO2e")
    t.add_row("greedy: committed", f"{gr.committed / 1e9:,.1f} bn JPY")
    t.add_row("greedy: rules missed", "; ".join(gr.violations[:3]) + (" ..." if len(gr.violations) > 3 else "")
              if gr.violations else "none")
    t.add_row("exact - greedy", f"{cmp['extra_abatement_t'] / 1e6:+,.2f} MtCO2e "
              f"({cmp['extra_pct']:+.2f} %)" if cmp["extra_pct"] is not None else "-")
    t.add_row("peak memory: process max RSS", f"{rss_exact / 1024:,.0f} MiB (at start {rss0 / 1024:,.0f} MiB)")
    t.add_row("peak memory: Python allocations in the exact solve (tracemalloc, separate run)",
              f"{py_peak / 2**20:,.0f} MiB")
    Console().print(t)


if __name__ == "__main__":
    main()
