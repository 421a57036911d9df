"""``nagar water``: stations, lab samples (CSV), the CCME WQI per station and period, exceedances and
objective sets. Mounted by :mod:`nagar.cli`; calls the same service functions as the API; writes are
audited with actor ``cli``. Exit codes: 0 ok, 2 the command could not run; ``load`` also 3 when some rows
were rejected (the others stored) and 1 when every row was (:mod:`nagar.ingest.report`).
"""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from nagar.core.errors import InvalidInput, NagarError
from nagar.core.settings import Settings
from nagar.ingest.files import read_text
from nagar.ingest.report import EXIT_STATUS_HELP, exit_status, rejected_table

app = typer.Typer(help="Water quality: stations, lab samples, CCME WQI, exceedances, objective sets",
                  no_args_is_help=True, add_completion=False)
console = Console()
err = Console(stderr=True)

DbOpt = typer.Option(None, "--db", help="DuckDB file (default: $NAGAR_DB or data/nagar.duckdb)")
CityOpt = typer.Option(..., "--city", help="City id, e.g. dhaka")
SetOpt = typer.Option(None, "--objectives", help="Objective set id (default bd-ecr1997-fisheries)")


def _fail(exc: Exception) -> None:
    msg = exc.message if isinstance(exc, NagarError) else str(exc)
    field = f" ({exc.field})" if isinstance(exc, NagarError) and exc.field else ""
    err.print(f"[bold red]error{field}:[/] {escape(msg)}", soft_wrap=True)
    raise typer.Exit(code=2)


def _open_store(db: Optional[Path]):
    from nagar.store import open_store

    return open_store(Settings.from_env(db=db))


def _read(path: Path) -> str:
    """The file as UTF-8 text; a byte that is not UTF-8 is an error naming its line (ingest's reader)."""
    return read_text(path)


def _time(v: Optional[str], name: str) -> Optional[datetime]:
    if v is None:
        return None
    try:
        t = datetime.fromisoformat(v if len(v) > 10 else v + "T00:00:00+00:00")
    except ValueError:
        raise InvalidInput(f"--{name}: not an ISO 8601 time: {v!r}", field=name) from None
    if t.tzinfo is None:
        raise InvalidInput(f"--{name}: give a UTC offset", field=name)
    return t


@app.command("stations")
def stations(file: Optional[Path] = typer.Argument(None, help="CSV (id,name,water_body,lat,lon,source) or JSON "
                                                            "list to add or replace; omit to list"),
             city: str = CityOpt, db: Optional[Path] = DbOpt) -> None:
    """List a city's water stations, or load them from a CSV/JSON file."""
    from . import service

    try:
        store = _open_store(db)
        if file is not None:
            text = _read(file)
            if file.suffix.lower() == ".json":
                rows = json.loads(text)
            else:
                rows = [{k: (v or None) for k, v in r.items()} for r in csv.DictReader(io.StringIO(text))]
                for r in rows:
                    for k in ("lat", "lon"):
                        r[k] = float(r[k]) if r.get(k) else None
            out = service.put_stations(store, city=city, stations=rows, actor="cli")
            console.print(f"{out['inserted']} added, {out['updated']} replaced")
        items = service.list_stations(store, city=city)
        store.close()
    except (NagarError, ValueError) as exc:
        _fail(exc)
    t = Table(title=f"Water stations of {city}")
    for c in ("id", "name", "water body", "lat", "lon"):
        t.add_column(c)
    for s in items:
        t.add_row(s["id"], s["name"], s["water_body"], str(s["lat"] or ""), str(s["lon"] or ""))
    console.print(t)


@app.command("load", epilog=EXIT_STATUS_HELP)
def load(file: Path = typer.Argument(..., help="CSV (.csv, .csv.gz) with station,parameter,time,value,unit"
                                               "[,qualifier,source]; UTF-8"),
         city: str = CityOpt, db: Optional[Path] = DbOpt,
         show_errors: int = typer.Option(20, help="How many rejected rows to list"),
         as_json: bool = typer.Option(False, "--json", help="Print the report as JSON")) -> None:
    """Load lab samples from CSV, like `nagar ingest`: good rows are stored (units converted to each
    parameter's canonical unit), every bad row is listed with its file line (the header is line 1)."""
    from . import service

    try:
        store = _open_store(db)
        out = service.load_samples_file(store, city=city, path=file, actor="cli", settings=Settings.from_env())
        store.close()
    except NagarError as exc:
        _fail(exc)
    if as_json:
        sys.stdout.write(json.dumps(out) + "\n")
    else:
        console.print(f"{out['received']} samples read: {out['inserted']} new, {out['updated']} replaced, "
                      f"{out['rejected']} rejected")
        table = rejected_table(out["errors"], total=out["rejected"], limit=show_errors)
        if table is not None:
            console.print(table)
    code = exit_status(received=out["received"], rejected=out["rejected"])
    if code:
        raise typer.Exit(code=code)


@app.command("wqi")
def wqi(city: str = CityOpt, objectives: Optional[str] = SetOpt,
        period: str = typer.Option("year", help="all, year, quarter or month (local calendar periods)"),
        station: Optional[str] = typer.Option(None, help="One station only"),
        start: Optional[str] = typer.Option(None, help="ISO 8601 with offset, or a date"),
        end: Optional[str] = typer.Option(None, help="ISO 8601 with offset, or a date (exclusive)"),
        as_json: bool = typer.Option(False, "--json"), db: Optional[Path] = DbOpt) -> None:
    """CCME WQI 1.0 per station and period against an objective set."""
    from . import service

    try:
        store = _open_store(db)
        res = service.wqi(store, city=city, objectives=objectives, period=period, station=station,
                          start=_time(start, "start"), end=_time(end, "end"))
        store.close()
    except NagarError as exc:
        _fail(exc)
    if as_json:
        sys.stdout.write(json.dumps(res, default=str) + "\n")
        return
    t = Table(title=f"CCME WQI 1.0, {city}, objectives {res['objectives']}")
    for c, j in (("station", "left"), ("period", "left"), ("WQI", "right"), ("category", "left"), ("F1", "right"),
                 ("F2", "right"), ("F3", "right"), ("variables", "right"), ("tests", "right"), ("failed", "right")):
        t.add_column(c, justify=j)
    for i in res["items"]:
        t.add_row(i["station"], i["period"], "—" if i["wqi"] is None else f"{i['wqi']:.0f}",
                  i["category"] or "too few data", f"{i['f1']:.1f}", f"{i['f2']:.1f}", f"{i['f3']:.1f}",
                  str(i["variables"]), str(i["tests"]), str(i["failed_tests"]))
    console.print(t)
    console.print(f"Objectives from: {escape(res['objective_source'])}")


@app.command("exceedances")
def exceedances(city: str = CityOpt, objectives: Optional[str] = SetOpt,
                station: Optional[str] = typer.Option(None), start: Optional[str] = typer.Option(None),
                end: Optional[str] = typer.Option(None),
                period: str = typer.Option("year", help="Summary per station and all, year, quarter or month"),
                as_json: bool = typer.Option(False, "--json"), db: Optional[Path] = DbOpt) -> None:
    """Failures per station and period, then the samples that failed their objective, newest first."""
    from . import service

    try:
        store = _open_store(db)
        res = service.exceedances(store, city=city, objectives=objectives, station=station, period=period,
                                  start=_time(start, "start"), end=_time(end, "end"))
        store.close()
    except NagarError as exc:
        _fail(exc)
    if as_json:
        sys.stdout.write(json.dumps(res, default=str) + "\n")
        return
    s = Table(title=f"Failures per station and {period} ({res['objectives']})")
    for c in ("station", "period", "tests", "failed", "parameters failing"):
        s.add_column(c)
    for row in res["summary"]:
        s.add_row(row["station"], row["period"], str(row["tests"]), str(row["failed"]),
                  ", ".join(row["parameters_failed"]))
    console.print(s)
    t = Table(title=f"{res['failed']} of {res['tests']} tests failed ({res['objectives']})")
    for c in ("time", "station", "parameter", "value", "objective", "excursion"):
        t.add_column(c)
    for i in res["items"]:
        bound = ("≥ " if i["side"] == "lower" else "≤ ") + f"{i['objective']:g}"
        t.add_row(i["time"], i["station"], i["parameter"], f"{i['qualifier']}{i['value']:g} {i['unit']}", bound,
                  f"{i['excursion']:.3f}")
    console.print(t)


@app.command("objectives")
def objectives_cmd(city: str = CityOpt,
                   file: Optional[Path] = typer.Option(None, "--load", help="JSON set, or CSV "
                                                       "(parameter,lower,upper,unit) with --id/--name/--use/--source"),
                   set_id: Optional[str] = typer.Option(None, "--id"), name: Optional[str] = typer.Option(None),
                   use: Optional[str] = typer.Option(None), source: Optional[str] = typer.Option(None),
                   db: Optional[Path] = DbOpt) -> None:
    """List objective sets (shipped and the city's own), or load the city's own from JSON or CSV."""
    from . import objectives as objx
    from . import service

    try:
        store = _open_store(db)
        if file is not None:
            text = _read(file)
            if file.suffix.lower() == ".json":
                data = json.loads(text)
            else:
                meta = {"id": set_id, "name": name, "use": use, "source": source}
                s = objx.parse_csv(text, meta=meta, city=city)
                data = {**meta, "objectives": {k: {"lower": o.lower, "upper": o.upper,
                                                   "detection_limit": o.detection_limit, "note": o.note}
                                               for k, o in s.objectives.items()}}
            out = service.put_objective_set(store, city=city, data=data, actor="cli")
            console.print(f"objective set {out['id']} {'added' if out['created'] else 'replaced'}")
        res = service.list_objective_sets(store, city=city)
        store.close()
    except (NagarError, json.JSONDecodeError) as exc:
        _fail(exc)
    t = Table(title=f"Objective sets for {city}")
    for c in ("id", "use", "parameters", "source"):
        t.add_column(c)
    for s in res["items"]:
        t.add_row(s["id"] + ("" if s["shipped"] else " (city)"), s["use"], ", ".join(s["objectives"]),
                  escape(s["source"]))
    console.print(t)
