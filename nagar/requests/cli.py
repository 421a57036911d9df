"""``nagar requests``: citizen service requests (Open311) from the command line.

Mounted by :mod:`nagar.cli`; it keeps its own consoles and ``--db`` option. It calls the same service
functions as the API; writes are audited with actor ``cli``. Exit codes: 0 ok, 2 the command could not run.
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

app = typer.Typer(help="Citizen service requests (Open311 GeoReport v2): list, SLA breaches, app keys",
                  no_args_is_help=True, add_completion=False)
console = Console()
err = Console(stderr=True)

DbOpt = typer.Option(None, "--db", help="DuckDB file (default: $NAGAR_DB or data/nagar.duckdb)")
CityOpt = typer.Option(..., "--city", help="City id (= Open311 jurisdiction_id), e.g. dhaka")


def _fail(exc: Exception) -> None:
    msg = exc.message if isinstance(exc, NagarError) else str(exc)
    field = f" ({exc.field})" if isinstance(exc, NagarError) and exc.field else ""
    err.print(f"[bold red]error{field}:[/] {escape(msg)}", soft_wrap=True)
    raise typer.Exit(code=2)


def _open(db: Optional[Path]):
    from nagar.store import open_store

    return open_store(Settings.from_env(db=db))


@app.command("list")
def list_(city: str = CityOpt, status: Optional[str] = typer.Option(None, help="new, acknowledged, in_progress, "
                                                                              "resolved, rejected, duplicate"),
          limit: int = typer.Option(50, min=1, max=5000), db: Optional[Path] = DbOpt) -> None:
    """A city's requests, newest first (no personal data printed)."""
    try:
        store = _open(db)
        from nagar.registry.service import get_city

        get_city(store, city_id=city)
        rows = store.service_requests(city=city, statuses=[status] if status else None, limit=limit)
        t = Table(title=f"Service requests of {city}")
        for col in ("id", "service", "status", "department", "requested (UTC)", "expected (UTC)", "notes"):
            t.add_column(col)
        for r in rows:
            t.add_row(str(r["id"]), r["service_code"], r["status"], r["department"] or "",
                      f"{r['requested_at']:%Y-%m-%d %H:%M}",
                      f"{r['expected_at']:%Y-%m-%d %H:%M}" if r["expected_at"] else "", escape(r["status_notes"] or ""))
        console.print(t)
        store.close()
    except NagarError as exc:
        _fail(exc)


@app.command()
def breaches(city: str = CityOpt, db: Optional[Path] = DbOpt) -> None:
    """Open requests past their service-level target."""
    from nagar.requests import service

    try:
        store = _open(db)
        from nagar.registry.service import get_city

        get_city(store, city_id=city)
        items = service.sla_breaches(store, city=city)
        t = Table(title=f"SLA breaches in {city}: {len(items)}")
        for col in ("id", "service", "status", "department", "expected", "hours overdue"):
            t.add_column(col)
        for b in items:
            t.add_row(str(b["service_request_id"]), b["service_name"], b["status"], b["department"] or "",
                      b["expected_datetime"], f"{b['hours_overdue']:.1f}")
        console.print(t)
        store.close()
    except NagarError as exc:
        _fail(exc)


@app.command()
def key(city: str = CityOpt, name: str = typer.Option(..., help="The client app the key is for"),
        db: Optional[Path] = DbOpt) -> None:
    """Issue an Open311 app key for a city (printed once; only its hash is kept)."""
    from nagar.requests import service

    try:
        store = _open(db)
        from nagar.registry.service import get_city

        get_city(store, city_id=city)
        out = service.issue_client_key(store, city=city, name=name, actor="cli")
        console.print(f"Open311 api_key for {escape(name)} ({city}), shown once:")
        print(out["key"])
        store.close()
    except NagarError as exc:
        _fail(exc)
