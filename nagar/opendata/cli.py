"""``nagar opendata``: a city's open-data catalogue, publishing datasets and exporting them to files.

Mounted by :mod:`nagar.cli`; same service functions as the API; writes audited with actor ``cli``.
Exit codes: 0 ok, 2 the command could not run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from nagar.core.errors import NagarError
from nagar.core.settings import Settings

app = typer.Typer(help="Open data: catalogue, publish / withdraw datasets, export", no_args_is_help=True,
                  add_completion=False)
console = Console()
err = Console(stderr=True)

DbOpt = typer.Option(None, "--db", help="DuckDB file (default: $NAGAR_DB or data/nagar.duckdb)")
CityOpt = typer.Option(..., "--city", help="City id, e.g. dhaka")


def _fail(exc: Exception) -> None:
    msg = exc.message if isinstance(exc, NagarError) else str(exc)
    err.print(f"[bold red]error:[/] {escape(msg)}", soft_wrap=True)
    raise typer.Exit(code=2)


def _open(db: Optional[Path]):
    from nagar.store import open_store

    settings = Settings.from_env(db=db)
    return open_store(settings), settings


@app.command("list")
def list_(city: str = CityOpt, db: Optional[Path] = DbOpt) -> None:
    """Every registered dataset and whether the city publishes it."""
    from nagar.opendata import service

    try:
        store, _ = _open(db)
        t = Table(title=f"Open data of {city}")
        for col in ("dataset", "published", "licence", "frequency", "formats"):
            t.add_column(col)
        for d in service.catalogue(store, city=city, include_unpublished=True):
            t.add_row(d["id"], "yes" if d["published"] else "no", d["license"] or "", d["frequency"],
                      ", ".join(d["formats"]))
        console.print(t)
        store.close()
    except NagarError as exc:
        _fail(exc)


@app.command()
def publish(city: str = CityOpt, dataset: str = typer.Option(..., help="Dataset id (see `nagar opendata list`)"),
            license: str = typer.Option("CC-BY-4.0", help="CC-BY-4.0, CC-BY-SA-4.0, CC0-1.0, ODbL-1.0, PDDL-1.0"),
            frequency: Optional[str] = typer.Option(None, help="EU frequency code, any case, e.g. daily or HOURLY"),
            withdraw: bool = typer.Option(False, "--withdraw", help="Stop publishing it"),
            db: Optional[Path] = DbOpt) -> None:
    """Publish (or withdraw) a dataset for a city."""
    from nagar.opendata import service

    try:
        store, _ = _open(db)
        from nagar.registry.service import get_city

        get_city(store, city_id=city)
        d = service.set_dataset(store, city=city, dataset=dataset, enabled=not withdraw, license=license,
                                frequency=frequency, description=None, actor="cli")
        console.print(f"{dataset}: {'published' if d['published'] else 'withdrawn'} ({d['license']}, {d['frequency']})")
        store.close()
    except NagarError as exc:
        _fail(exc)


@app.command()
def export(city: str = CityOpt, dataset: str = typer.Option(...),
           fmt: str = typer.Option("parquet", "--format", help="csv, geojson or parquet"),
           out: Path = typer.Option(..., "--out", help="File to write"), db: Optional[Path] = DbOpt) -> None:
    """Write a published dataset to a file, streamed batch by batch."""
    from nagar.opendata import service

    try:
        store, settings = _open(db)
        body, _ = service.download(store, settings=settings, city=city, dataset=dataset, fmt=fmt)
        tmp = out.with_name(out.name + ".part")
        n = 0
        with open(tmp, "wb") as f:
            for chunk in body:
                f.write(chunk)
                n += len(chunk)
        tmp.replace(out)
        console.print(f"{out}: {n:,} bytes")
        store.close()
    except NagarError as exc:
        _fail(exc)
