"""``nagar forecast``: train the stations' PM2.5 models, show the newest forecasts and their skill.

Mounted by :mod:`nagar.cli` (it must not import it: circular). Same service functions as the API.
Exit codes: 0 ok, 2 the command could not run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from nagar.core.errors import NagarError
from nagar.core.settings import Settings

app = typer.Typer(help="PM2.5 forecasts: train per station, show, skill vs persistence", no_args_is_help=True,
                  add_completion=False)
console = Console()
err = Console(stderr=True)

DbOpt = typer.Option(None, "--db", help="DuckDB file (default: $NAGAR_DB or data/nagar.duckdb)")
CityOpt = typer.Option(..., "--city", help="City id, e.g. dhaka")


def _fail(exc: Exception) -> None:
    msg = exc.message if isinstance(exc, NagarError) else str(exc)
    field = f" ({exc.field})" if isinstance(exc, NagarError) and exc.field else ""
    err.print(f"[bold red]error{field}:[/] {escape(msg)}", soft_wrap=True)
    raise typer.Exit(code=2)


def _open(db: Optional[Path]):
    from nagar.store import open_store

    settings = Settings.from_env(db=db)
    return open_store(settings), settings


def _f(v, digits=1) -> str:
    return "" if v is None else f"{v:.{digits}f}"


def print_skill(rep: dict) -> None:
    t = Table(title=f"Forecast skill in {rep['city']} (rolling origin; MAE µg/m³, category hit rate)")
    for col in ("station", "n", "MAE model", "MAE persistence", "MAE yesterday", "hit model", "hit persistence",
                "hit yesterday", "train s"):
        t.add_column(col, justify="left" if col == "station" else "right")
    rows = rep["items"] + ([{"station": "city (pooled)", **rep["city_pooled"], "seconds": None}]
                           if rep["city_pooled"]["n"] else [])
    for i in rows:
        mae, hit = i.get("mae", {}), i.get("category_hit_rate", {})
        t.add_row(i["station"], str(i.get("n", 0)), _f(mae.get("model")), _f(mae.get("persistence")),
                  _f(mae.get("yesterday")), _f(hit.get("model"), 3), _f(hit.get("persistence"), 3),
                  _f(hit.get("yesterday"), 3), _f(i.get("seconds"), 2))
    console.print(t)


@app.command()
def train(
    city: str = CityOpt,
    days: int = typer.Option(120, min=12, max=730, help="Days of history to train on"),
    folds: int = typer.Option(3, min=1, max=12, help="Rolling-origin evaluation folds"),
    fold_days: int = typer.Option(7, min=1, max=60, help="Days per fold"),
    db: Optional[Path] = DbOpt,
) -> None:
    """Train each PM2.5 station's model, measure its skill, issue and store its 24-hour forecast."""
    from . import service

    try:
        store, settings = _open(db)
        with console.status(f"Training {city}'s stations...") as status:
            res = service.train_city(store, city=city, settings=settings, days=days, folds=folds, fold_days=fold_days,
                                     progress=lambda sid: status.update(f"trained {sid}"))
        rep = service.skill_report(store, city=city)
        store.close()
    except NagarError as exc:
        _fail(exc)
    for s in res["skipped"]:
        err.print(f"skipped {s['station']}: {escape(s['reason'])}")
    print_skill(rep)
    for e in res["alerts"]:
        console.print(f"forecast alert {e['kind']}: {escape(e['message'])}", soft_wrap=True)


@app.command()
def show(
    city: str = CityOpt,
    station: Optional[str] = typer.Option(None, help="Only this station"),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON"),
    db: Optional[Path] = DbOpt,
) -> None:
    """Show the newest 24-hour forecast of each station (PM2.5 and its AQI category)."""
    from . import service

    try:
        store, settings = _open(db)
        out = service.latest_forecast(store, city=city, settings=settings, station=station)
        store.close()
    except NagarError as exc:
        _fail(exc)
    if as_json:
        console.print_json(json.dumps(out, default=str))
        return
    if not out["items"]:
        console.print(f"No forecasts for {city} yet: run `nagar forecast train --city {city}`.")
    for item in out["items"]:
        t = Table(title=f"{item['station']}: issued {item['issued_at']:%Y-%m-%d %H:%M} UTC ({item['standard']})")
        for col in ("time (UTC)", "+h", "PM2.5 µg/m³", "category"):
            t.add_column(col)
        for it in item["items"]:
            t.add_row(f"{it['time']:%Y-%m-%d %H:%M}", str(it["horizon"]), f"{it['pm25']:.1f}", it["category"] or "")
        console.print(t)


@app.command()
def skill(city: str = CityOpt, as_json: bool = typer.Option(False, "--json"), db: Optional[Path] = DbOpt) -> None:
    """Skill of each station's newest model against persistence (MAE per band, category hit rate)."""
    from . import service

    try:
        store, _ = _open(db)
        rep = service.skill_report(store, city=city)
        store.close()
    except NagarError as exc:
        _fail(exc)
    if as_json:
        console.print_json(json.dumps(rep, default=str))
    else:
        print_skill(rep)
