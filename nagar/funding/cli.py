"""``nagar plan``: solve the fund's portfolio, sweep the efficient frontier, load the demo fund, adopt a
plan, report MRV. Calls the same service functions as the API.

    nagar plan [--fund jp-decarb] [--city-floor 1e9] [--ceiling 0.12] [--sector waste_to_energy=0.3] [--json]
    nagar plan frontier [--points 10] [--svg frontier.svg]
    nagar plan demo | adopt PLAN_ID | mrv [--city dhaka]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nagar.core.errors import NagarError
from nagar.core.settings import Settings

app = typer.Typer(help="Fund portfolio: choose and finance projects, frontier, demo fund, MRV.",
                  invoke_without_command=True, add_completion=False)
console = Console()
err = Console(stderr=True)

DbOpt = typer.Option(None, "--db", help="DuckDB file (default: $NAGAR_DB or data/nagar.duckdb)")
FundOpt = typer.Option("jp-decarb", "--fund", help="Fund id")


def _fail(exc: Exception) -> None:
    msg = exc.message if isinstance(exc, NagarError) else str(exc)
    field = f" ({exc.field})" if isinstance(exc, NagarError) and exc.field else ""
    err.print(f"[bold red]error{field}:[/] {msg}")
    details = getattr(exc, "details", None)
    if isinstance(details, dict) and details.get("binding"):
        for b in details["binding"][:8]:
            err.print(f"  - {b['constraint']}: {b['detail']}")
    raise typer.Exit(code=2)


def _store(db: Optional[Path]):
    """The configured store, with the funding tables (a local composition until the app's store has them)."""
    from nagar.store import open_store

    settings = Settings.from_env(db=db)
    store = open_store(settings)
    if hasattr(store, "list_funds"):
        return store
    from nagar.store.duckdb import DuckDBStore
    from nagar.store.funding_tables import FundingTables

    store.close()

    class _Store(FundingTables, DuckDBStore):
        pass

    return _Store(settings.db)


def _shares(items: list[str], what: str) -> dict[str, float]:
    out = {}
    for item in items:
        key, sep, val = item.partition("=")
        try:
            out[key.strip()] = float(val)
        except ValueError:
            sep = ""
        if not sep:
            raise typer.BadParameter(f"expected {what} as name=number, got {item!r}")
    return out


def _money(x: float | None, cur: str) -> str:
    if x is None:
        return "-"
    return f"{x / 1e9:,.2f} bn {cur}" if abs(x) >= 1e8 else f"{x:,.0f} {cur}"


@app.callback(invoke_without_command=True)
def plan(
    ctx: typer.Context,
    db: Optional[Path] = DbOpt,
    fund: str = FundOpt,
    budget: Optional[float] = typer.Option(
        None, help="Total to commit, in the fund's base currency (default: the caps together)"),
    city_floor: float = typer.Option(0.0, help="Every city with an eligible project gets at least this"),
    city: list[str] = typer.Option([], "--city", help="Only these cities (repeat)"),
    floor: list[str] = typer.Option([], "--floor", help="Per-city floor city=amount (repeat)"),
    ceiling: Optional[float] = typer.Option(None, help="No city more than this share of the budget (0-1)"),
    sector: list[str] = typer.Option([], "--sector", help="Sector limit as a share of the budget, e.g. brt=0.2"),
    min_dscr: float = typer.Option(1.0, help="Loans: annual saving >= DSCR x debt service"),
    pm25_weight: float = typer.Option(0.0, help="tCO2e-equivalent per t PM2.5 avoided"),
    water_weight: float = typer.Option(0.0, help="tCO2e-equivalent per t water pollutants avoided"),
    horizon: Optional[int] = typer.Option(None, help="Count abatement up to this year"),
    gap: float = typer.Option(1e-4, help="Relative optimality gap at which to stop"),
    time_limit: float = typer.Option(60.0, help="Solver time limit, seconds"),
    rank_by: str = typer.Option("cost_per_tonne", help="Greedy ranking: cost_per_tonne or mac"),
    save: bool = typer.Option(True, "--save/--no-save", help="Keep the plan (to adopt it later)"),
    top: int = typer.Option(20, help="Portfolio rows to print"),
    as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON"),
) -> None:
    """Choose the portfolio (exact MILP), compare with the greedy spreadsheet method, print the gap."""
    if ctx.invoked_subcommand is not None:
        return
    from nagar.security import audit

    from . import service
    from .models import PlanRequest

    try:
        req = PlanRequest(fund=fund, budget=budget, city_floor=city_floor, cities=city or None,
                          city_floors=_shares(floor, "--floor"), city_ceiling_share=ceiling,
                          sector_max_share=_shares(sector, "--sector"), min_dscr=min_dscr, pm25_weight=pm25_weight,
                          water_weight=water_weight, horizon_year=horizon, mip_rel_gap=gap, time_limit=time_limit,
                          rank_by=rank_by, save=save)
    except ValueError as exc:  # pydantic
        err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(code=2)
    try:
        store = _store(db)
        with err.status(f"Solving the portfolio of fund {fund} (HiGHS MILP, gap {gap:.3%}, limit {time_limit:g} s)...",
                        spinner="dots") if not as_json else _Null():
            result = service.make_plan(store, request=req, actor="cli")
        audit.record(store, actor="cli", action="funding.plan", target=f"plan:{result['id']}" if result["id"] else None,
                     details={"fund": fund, "status": result["status"], "objective": result["portfolio"]["objective"],
                              "saved": result["id"] is not None})
        store.close()
    except NagarError as exc:
        _fail(exc)
    if as_json:
        console.print_json(json.dumps(result, default=str))
        return
    _print_plan(result, top)


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def _print_plan(plan: dict, top: int) -> None:
    cur = plan["base_currency"]
    p = plan["portfolio"]
    c = plan["comparison"]
    s = Table(title=f"Plan {plan['id'] or '(not saved)'} for fund {plan['fund']}", show_header=False)
    s.add_row("status", f"{p['status']}: {p['message']}")
    s.add_row("optimality gap", f"{p['gap']:.4%}" if p["gap"] is not None else "-")
    s.add_row("solve time", f"{p['seconds']:.2f} s")
    s.add_row("projects chosen", f"{len(p['chosen']):,} of {p['size'].get('projects', 0):,} candidates"
              f" ({len(p['excluded']):,} cannot be chosen)")
    s.add_row("committed", _money(p["committed"], cur))
    s.add_row("lifetime abatement", f"{p['abatement_t']:,.0f} tCO2e ({p['annual_abatement_t']:,.0f} t/yr)")
    s.add_row("co-benefits (lifetime)", f"PM2.5 {p['pm25_t']:,.0f} t, water pollutants {p['water_t']:,.0f} t")
    if p["requires_cycles"]:
        s.add_row("requires-cycles (all or none)", "; ".join(", ".join(g) for g in p["requires_cycles"][:5]))
    console.print(s)
    t = Table(title="By instrument")
    t.add_column("instrument")
    t.add_column("available", justify="right")
    t.add_column("used", justify="right")
    for i in plan["instruments"]:
        t.add_row(i["id"], _money(i["available_base"], cur), _money(p["by_instrument"].get(i["id"], 0.0), cur))
    console.print(t)
    items = sorted(p["items"], key=lambda it: -it["lifetime_abatement"])
    t = Table(title=f"Portfolio (top {min(top, len(items))} of {len(items)} by lifetime abatement)")
    for col, just in (("project", "left"), ("city", "left"), ("sector", "left"), ("cost", "right"),
                      ("lifetime tCO2e", "right"), ("split", "left"), ("DSCR", "right")):
        t.add_column(col, justify=just)
    for it in items[:top]:
        split = ", ".join(f"{x['instrument']} {x['amount_base'] / it['cost_base']:.0%}" for x in it["split"])
        t.add_row(it["project"], it["city"], it["sector"], _money(it["cost_base"], cur),
                  f"{it['lifetime_abatement']:,.0f}", split, f"{it['dscr']:.2f}" if it["dscr"] else "-")
    console.print(t)
    g = Table(title=f"Exact against the spreadsheet method (greedy by {plan['greedy']['rank_by']})")
    g.add_column("")
    g.add_column("exact", justify="right")
    g.add_column("greedy", justify="right")
    g.add_row("objective", f"{c['exact_objective']:,.0f}", f"{c['greedy_objective']:,.0f}")
    g.add_row("lifetime abatement [tCO2e]", f"{c['exact_abatement_t']:,.0f}", f"{c['greedy_abatement_t']:,.0f}")
    g.add_row("committed", _money(c["exact_committed"], cur), _money(c["greedy_committed"], cur))
    g.add_row("projects only in this one", f"{c['only_exact']}", f"{c['only_greedy']}")
    console.print(g)
    extra = f"{c['extra_abatement_t']:+,.0f} tCO2e"
    if c["extra_pct"] is not None:
        extra += f" ({c['extra_pct']:+.2f} %)"
    console.print(f"The exact portfolio buys [bold]{extra}[/] over the greedy one under the same rules.")
    if c["greedy_violations"]:
        console.print("Greedy misses: " + "; ".join(c["greedy_violations"][:5]))


@app.command()
def frontier(
    db: Optional[Path] = DbOpt,
    fund: str = FundOpt,
    points: int = typer.Option(10, help="Budgets in the sweep"),
    city_floor: float = typer.Option(0.0),
    ceiling: Optional[float] = typer.Option(None, help="City ceiling share of each budget"),
    min_dscr: float = typer.Option(1.0),
    svg: Optional[Path] = typer.Option(None, help="Write the frontier drawing (SVG) here"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Efficient frontier: best abatement (and greedy's) at each budget of a sweep."""
    from . import service
    from .models import PlanRules

    try:
        store = _store(db)
        rules = PlanRules(city_floor=city_floor, city_ceiling_share=ceiling, min_dscr=min_dscr, mip_rel_gap=1e-3,
                          time_limit=30)
        with Progress(TextColumn("[bold]frontier"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err, disable=as_json, transient=True) as progress:
            task = progress.add_task("sweep", total=points)
            out = service.frontier(store, fund_id=fund, rules=rules, points=points,
                                   on_point=lambda k, n: progress.update(task, completed=k))
        store.close()
    except NagarError as exc:
        _fail(exc)
    if svg is not None:
        svg.write_text(out["svg"], encoding="utf-8")
    if as_json:
        console.print_json(json.dumps({k: v for k, v in out.items() if k != "svg"}, default=str))
        return
    cur = out["base_currency"]
    t = Table(title=f"Efficient frontier of fund {fund}")
    for col in ("budget", "status", "exact tCO2e", "greedy tCO2e", "exact - greedy", "gap", "time"):
        t.add_column(col, justify="right")
    missed = 0
    for r in out["items"]:
        ex, gr = r["exact_abatement_t"], r["greedy_abatement_t"]
        missed += gr is None and r["greedy_violations"] > 0
        t.add_row(_money(r["budget"], cur), r["status"], "-" if ex is None else f"{ex:,.0f}",
                  f"misses {r['greedy_violations']} rule(s)" if gr is None else f"{gr:,.0f}",
                  "-" if ex is None or gr is None else f"{ex - gr:+,.0f}",
                  f"{r['gap']:.3%}" if r["gap"] is not None else "-", f"{r['seconds']:.2f} s")
    console.print(t)
    if missed:
        console.print("greedy 'misses': the walk down the cost-per-tonne curve cannot meet every rule there "
                      "(usually city floors), so it has no comparable portfolio; '-': no portfolio meets the rules.")
    if svg is not None:
        console.print(f"Drawing written to {svg}")


@app.command()
def demo(
    db: Optional[Path] = DbOpt,
    seed: int = typer.Option(7, help="Seed of the pipeline generator"),
    per_city: Optional[int] = typer.Option(None, help="Projects per city (default: 12 to 20, drawn)"),
    adopt: bool = typer.Option(True, "--adopt/--no-adopt", help="Solve, adopt a first plan and add MRV data"),
) -> None:
    """Load the demo fund (three instruments) and a pipeline for the 26 ASCN cities, Dhaka and Chattogram."""
    from nagar.security import audit

    from .demo import load_funding_demo

    try:
        store = _store(db)
        with err.status("Generating the demo pipeline and solving a first plan..."):
            out = load_funding_demo(store, seed=seed, adopt=adopt, per_city=per_city or (12, 20))
        audit.record(store, actor="cli", action="funding.demo", details={k: v for k, v in out.items()})
        store.close()
    except NagarError as exc:
        _fail(exc)
    console.print(f"Demo fund loaded: {out['projects']} candidate projects, {out['cities_created']} cities created"
                  + (f", plan {out['plan']} adopted ({out['funded']} projects funded, {out['mrv_records']} MRV records)"
                     if out["plan"] else "") + ".")


@app.command()
def adopt(plan_id: str = typer.Argument(...), db: Optional[Path] = DbOpt) -> None:
    """Commit a saved plan: record its allocations and mark its projects funded."""
    from nagar.security import audit

    from . import service

    try:
        store = _store(db)
        out = service.adopt_plan(store, plan_id=plan_id, actor="cli")
        audit.record(store, actor="cli", action="funding.adopt", target=f"plan:{plan_id}",
                     details={k: v for k, v in out.items() if k != "actor"})
        store.close()
    except NagarError as exc:
        _fail(exc)
    console.print(f"Plan {plan_id} adopted: {out['projects']} projects funded.")


@app.command()
def mrv(db: Optional[Path] = DbOpt, city: Optional[str] = typer.Option(None),
        as_json: bool = typer.Option(False, "--json")) -> None:
    """Realised against planned abatement of funded projects, to date."""
    from . import service

    try:
        store = _store(db)
        out = service.mrv_summary(store, city=city)
        store.close()
    except NagarError as exc:
        _fail(exc)
    if as_json:
        console.print_json(json.dumps(out, default=str))
        return
    t = Table(title="MRV: planned against realised abatement to date [tCO2e]")
    for col in ("project", "city", "years", "planned", "realised", "realised / planned"):
        t.add_column(col, justify="right" if col not in ("project", "city") else "left")
    for i in out["items"]:
        t.add_row(i["project"], i["city"], str(i["years_reported"]), f"{i['planned_to_date_t']:,.0f}",
                  f"{i['realised_to_date_t']:,.0f}", f"{i['ratio']:.1%}" if i["ratio"] is not None else "-")
    t.add_row("total", "", "", f"{out['planned_to_date_t']:,.0f}", f"{out['realised_to_date_t']:,.0f}",
              f"{out['ratio']:.1%}" if out["ratio"] is not None else "-")
    console.print(t)
