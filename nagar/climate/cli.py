"""``nagar inventory``: the GPC inventory, activity data, factors, renewable share and pathways.

Mounted by :mod:`nagar.cli` as a sub-command (it must not import :mod:`nagar.cli`: that would be a
circular import), so it keeps its own consoles and ``--db`` option with the same meaning. It calls the
same service functions as the API; writes are audited with actor ``cli``.
Exit codes: 0 ok, 2 the command could not run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from nagar.core.errors import NagarError
from nagar.core.settings import Settings

app = typer.Typer(help="Climate: GPC inventory, activity data, factors, renewable share, pathways",
                  no_args_is_help=True, add_completion=False)
console = Console()
err = Console(stderr=True)

DbOpt = typer.Option(None, "--db", help="DuckDB file (default: $NAGAR_DB or data/nagar.duckdb)")
CityOpt = typer.Option(..., "--city", help="City id, e.g. dhaka")


def _fail(exc: Exception) -> None:
    msg = exc.message if isinstance(exc, NagarError) else str(exc)
    field = f" ({exc.field})" if isinstance(exc, NagarError) and exc.field else ""
    err.print(f"[bold red]error{field}:[/] {escape(msg)}", soft_wrap=True)
    raise typer.Exit(code=2)


def _open_store(db: Optional[Path]):
    from nagar.store import open_store

    return open_store(Settings.from_env(db=db))


def _num(v) -> str:
    return "" if v is None else f"{v:,.1f}"


@app.command()
def show(
    city: str = CityOpt,
    year: Optional[int] = typer.Option(None, help="Inventory year (default: latest with data)"),
    gwp: str = typer.Option("ar5", help="GWP100 set: ar5, ar6 or ar4"),
    grid_region: Optional[str] = typer.Option(None, help="Grid region for countries with several grids"),
    as_csv: bool = typer.Option(False, "--csv", help="Print the GPC reporting table as CSV"),
    as_json: bool = typer.Option(False, "--json", help="Print the inventory as JSON"),
    all_rows: bool = typer.Option(False, "--all", help="Also list rows reported with a notation key"),
    save: bool = typer.Option(False, "--save", help="Keep this inventory as a saved run"),
    db: Optional[Path] = DbOpt,
) -> None:
    """Show a city's GPC inventory (BASIC and BASIC+ totals, sub-sectors, factors used)."""
    from . import service
    from .inventory import to_csv, to_json

    try:
        store = _open_store(db)
        inv = service.inventory(store, city=city, year=year, gwp=gwp, grid_region=grid_region)
        if save:
            run = service.save_inventory_run(store, city=city, year=inv.year, gwp=gwp, grid_region=grid_region,
                                             actor="cli")
            err.print(f"saved as inventory run {run['id']}")
        store.close()
    except NagarError as exc:
        _fail(exc)
    if as_csv:
        sys.stdout.write(to_csv(inv))
        return
    if as_json:
        sys.stdout.write(json.dumps(to_json(inv), default=str) + "\n")
        return
    t = Table(title=f"GPC inventory, {city} {inv.year} (t, CO2e with {gwp.upper()})")
    for c, j in (("ref", "left"), ("scope", "right"), ("sub-sector", "left"), ("CO2", "right"), ("CH4", "right"),
                 ("N2O", "right"), ("CO2e", "right"), ("key", "left")):
        t.add_column(c, justify=j)
    for r in inv.table.iter_rows(named=True):
        if r["notation"] and not all_rows:
            continue
        t.add_row(r["ref"], str(r["scope"]), r["subsector_name"], _num(r["co2_t"]), _num(r["ch4_t"]),
                  _num(r["n2o_t"]), _num(r["co2e_t"]), r["notation"] or "")
    console.print(t)
    tot = inv.totals
    console.print(f"BASIC [bold]{tot['basic_t']:,.0f}[/] t CO2e   BASIC+ [bold]{tot['basic_plus_t']:,.0f}[/] t CO2e   "
                  f"territorial (scope 1) {tot['territorial_scope1_t']:,.0f}   biogenic CO2 (memo) "
                  f"{tot['co2_biogenic_t']:,.0f} t")
    notes = inv.table.filter(inv.table["notation"].is_not_null()).height
    console.print(f"{notes} reference numbers reported with a notation key (--all lists them); "
                  f"{len(inv.factors)} factors used (--json lists them with sources).")
    for w in inv.warnings:
        err.print(f"[yellow]warning:[/] {escape(w)}")


@app.command()
def load(
    file: Path = typer.Argument(..., help="CSV or JSON activity data (see nagar.climate.service.load_activity_file)"),
    city: Optional[str] = typer.Option(None, help="City for rows that name none"),
    db: Optional[Path] = DbOpt,
) -> None:
    """Load activity data rows (added, or replacing rows with the same key)."""
    from . import service

    try:
        store = _open_store(db)
        results = service.load_activity_file(store, path=file, city=city, actor="cli")
        store.close()
    except (NagarError, ValueError, KeyError) as exc:
        _fail(exc if isinstance(exc, NagarError) else NagarError(f"{file.name}: {exc}", field="file"))
    for r in results:
        console.print(f"{r['city']}: {r['inserted']} rows added, {r['updated']} replaced")


@app.command()
def factors(
    city: Optional[str] = typer.Option(None, help="Also list this city's own factors"),
    table: str = typer.Option("grid", help="grid, fuels, combustion, gwp or user"),
    as_json: bool = typer.Option(False, "--json", help="Print every table as JSON"),
    db: Optional[Path] = DbOpt,
) -> None:
    """List emission factors with their sources."""
    from . import service

    try:
        if city is not None:
            store = _open_store(db)
            cat = service.list_factors(store, city=city)
            store.close()
        else:
            from .factors import catalogue

            cat = catalogue()
    except NagarError as exc:
        _fail(exc)
    if as_json:
        sys.stdout.write(json.dumps(cat, default=str) + "\n")
        return
    if table not in cat or table in ("waste", "wastewater"):
        _fail(NagarError(f"table must be grid, fuels, combustion, gwp or user; got {table!r}", field="table"))
    rows = cat[table]
    t = Table(title=f"{table} factors")
    if not rows:
        console.print(f"no {table} factors")
        return
    for c in rows[0]:
        t.add_column(str(c), overflow="fold")
    for r in rows:
        t.add_row(*("" if v is None else str(v) for v in r.values()))
    console.print(t)


@app.command()
def renewables(
    city: str = CityOpt,
    year: Optional[int] = typer.Option(None, help="Year (default: latest with activity data)"),
    grid_fraction: Optional[float] = typer.Option(None, help="Renewable fraction of grid electricity (0-1)"),
    basis: str = typer.Option("auto", help="Consumption from: auto, metered or annual_prorated"),
    as_json: bool = typer.Option(False, "--json"),
    db: Optional[Path] = DbOpt,
) -> None:
    """Renewable share of the city's electricity per month and for the year."""
    from . import service

    try:
        store = _open_store(db)
        out = service.renewable_share(store, city=city, year=year, grid_renewable_fraction=grid_fraction, basis=basis)
        store.close()
    except NagarError as exc:
        _fail(exc)
    if as_json:
        sys.stdout.write(json.dumps(out, default=str) + "\n")
        return
    t = Table(title=f"Renewable share, {city} {out['year']} (kWh)")
    for c in ("period", "generation", "consumption", "basis", "local", "total"):
        t.add_column(c, justify="left" if c in ("period", "basis") else "right")

    def pct(v):
        return "" if v is None else f"{100 * v:.2f} %"

    for r in out["monthly"] + [out["annual"]]:
        t.add_row(r["period"], _num(r["generation_kwh"]), _num(r["consumption_kwh"]), r["consumption_basis"] or "",
                  pct(r["local_share"]), pct(r["total_share"]))
    console.print(t)


def _project(spec: str) -> dict:
    parts = spec.split(":")
    if len(parts) == 3:
        parts = [""] + parts
    if len(parts) != 4:
        raise NagarError(f"--project wants [NAME:]START_YEAR:T_PER_YEAR:LIFETIME, got {spec!r}", field="project")
    name, start, amount, life = parts
    try:
        return {"name": name or None, "start_year": int(start), "annual_abatement_t": float(amount),
                "lifetime": int(life)}
    except ValueError:
        raise NagarError(f"--project {spec!r}: START_YEAR and LIFETIME are integers, T_PER_YEAR a number",
                         field="project") from None


@app.command()
def pathway(
    city: str = CityOpt,
    base_year: Optional[int] = typer.Option(None, help="Base year (default: latest inventory year)"),
    end_year: int = typer.Option(2050),
    population_growth: Optional[float] = typer.Option(
        None, help="Fraction per year, e.g. 0.02 (default: the city's stored drivers, else 0)"),
    gdp_growth: Optional[float] = typer.Option(None, help="Fraction per year (default: stored drivers, else 0)"),
    intensity_change: Optional[float] = typer.Option(
        None, help="Annual change of emissions per unit of GDP, e.g. -0.01 (default: stored drivers, else 0)"),
    grid_change: Optional[float] = typer.Option(
        None, help="Annual change of the grid emission factor, e.g. -0.03 (default: stored drivers, else 0)"),
    project: list[str] = typer.Option([], "--project", help="[NAME:]START_YEAR:T_PER_YEAR:LIFETIME (repeatable)"),
    funded: bool = typer.Option(True, "--funded/--no-funded",
                                help="Include the city's funded projects (`nagar plan`), as the /climate page does"),
    as_json: bool = typer.Option(False, "--json"),
    db: Optional[Path] = DbOpt,
) -> None:
    """BAU projection and a project portfolio's pathway, with 2030 / 2041 / 2050 milestones."""
    from . import service
    from .models import PathwayIn

    try:
        projects = [_project(p) for p in project]
        store = _open_store(db)
        n_funded = 0
        if funded:
            fund_projects = service.funded_projects(store, city=city)
            n_funded = len(fund_projects)
            projects += fund_projects
        body = PathwayIn(city=city, base_year=base_year, end_year=end_year, population_growth=population_growth,
                         gdp_growth=gdp_growth, intensity_change=intensity_change, grid_change=grid_change,
                         projects=projects)
        out = service.pathway(store, body=body)
        store.close()
    except NagarError as exc:
        _fail(exc)
    except ValidationError as exc:  # an option out of range: name the option, not the model
        e = exc.errors()[0]
        name = str(e["loc"][0]) if e["loc"] else "pathway"
        _fail(NagarError(f"--{name.replace('_', '-')}: {e['msg']}", field=name))
    if as_json:
        sys.stdout.write(json.dumps(out, default=str) + "\n")
        return
    t = Table(title=f"Pathway, {city} (t CO2e; base {out['base_year']}: {out['base_source']})")
    for c in ("year", "BAU", "abatement", "pathway"):
        t.add_column(c, justify="right")
    for m in out["milestones"]:
        t.add_row(str(m["year"]), _num(m["bau_t"]), _num(m["abatement_t"]), _num(m["pathway_t"]))
    console.print(t)
    console.print(f"drivers: {escape(str(out['drivers_source']))}")
    given = f"{len(project)} given" if project else ""
    fund = (f"{n_funded} funded (--no-funded leaves them out)" if funded else "funded projects left out")
    console.print(f"projects: {', '.join(x for x in (given, fund) if x)}")


@app.command()
def demo(db: Optional[Path] = DbOpt) -> None:
    """Load the Dhaka demonstration inventory (sources and 'illustrative' flags in each row)."""
    from .demo import load_climate_demo

    try:
        store = _open_store(db)
        out = load_climate_demo(store)
        store.close()
    except NagarError as exc:
        _fail(exc)
    console.print(f"Dhaka climate demo: {out['inserted']} activity rows added, {out['updated']} replaced; "
                  f"`nagar inventory show --city dhaka --year {out['year']}`")
