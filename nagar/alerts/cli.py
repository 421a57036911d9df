"""``nagar alerts``: rules (JSON files), webhook endpoints, the alert history, and sending due webhook
deliveries. Mounted by :mod:`nagar.cli`; calls the same service functions as the API; writes are audited
with actor ``cli``. Exit codes: 0 ok, 2 the command could not run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from nagar.core.errors import InvalidInput, NagarError
from nagar.core.settings import Settings

app = typer.Typer(help="Alerts: rules, webhook endpoints, history, deliveries", no_args_is_help=True,
                  add_completion=False)
console = Console()
err = Console(stderr=True)

DbOpt = typer.Option(None, "--db", help="DuckDB file (default: $NAGAR_DB or data/nagar.duckdb)")
CityOpt = typer.Option(..., "--city", help="City id, e.g. dhaka")


def _fail(exc: Exception, *, source: str | None = None) -> None:
    """One message. A validation error is labelled with the field at fault (or ``source``, the file read,
    for JSON that does not parse, with pydantic's line and column)."""
    if isinstance(exc, ValidationError):
        e = exc.errors()[0]
        loc = [str(x) for x in e["loc"]]
        msg = e["msg"].removeprefix("Value error, ")
        where = ".".join(loc)
        text = f"{where}: {msg}" if len(loc) > 1 or (loc and source) else msg  # "(url): url:" says it twice
        exc = InvalidInput(f"{source}: {text}" if source else text, field=loc[0] if loc else "file")
    msg = exc.message if isinstance(exc, NagarError) else str(exc)
    field = f" ({exc.field})" if isinstance(exc, NagarError) and exc.field else ""
    err.print(f"[bold red]error{field}:[/] {escape(msg)}", soft_wrap=True)
    raise typer.Exit(code=2)


def _open(db: Optional[Path]):
    from nagar.store import open_store

    settings = Settings.from_env(db=db)
    return open_store(settings), settings


@app.command("rules")
def rules(city: str = CityOpt, add: Optional[Path] = typer.Option(None, "--add", help="JSON file: "
                                                                   '{"name": ..., "rule": {...}} (see README)'),
          delete: Optional[int] = typer.Option(None, "--delete", help="Rule id to delete"),
          db: Optional[Path] = DbOpt) -> None:
    """List a city's alert rules; add one from a JSON file, or delete one."""
    from .models import RuleIn
    from . import service

    try:
        store, settings = _open(db)
        if add is not None:
            try:
                body = RuleIn.model_validate_json(add.read_text(encoding="utf-8"))
            except OSError as exc:
                raise InvalidInput(f"cannot read {add}: {exc}", field="file") from None
            row = service.add_rule(store, city=city, body=body, actor="cli", settings=settings)
            console.print(f"rule {row['id']} added: {escape(row['description'])}")
        if delete is not None:
            service.delete_rule(store, city=city, rule_id=delete, actor="cli")
            console.print(f"rule {delete} deleted")
        items = service.list_rules(store, city=city)
        store.close()
    except (NagarError, ValidationError) as exc:
        _fail(exc, source=str(add) if add is not None else None)
    t = Table(title=f"Alert rules of {city}")
    for c in ("id", "name", "rule", "scope", "enabled"):
        t.add_column(c)
    for r in items:
        t.add_row(str(r["id"]), escape(r["name"]), escape(r["description"]), r["spec"].get("station") or "city",
                  "yes" if r["enabled"] else "no")
    console.print(t)


@app.command("endpoint")
def endpoint(city: str = CityOpt, url: str = typer.Option(..., help="http(s) URL of the receiver"),
             name: str = typer.Option("webhook"), max_attempts: int = typer.Option(6, min=1, max=20),
             db: Optional[Path] = DbOpt) -> None:
    """Add a webhook endpoint; prints its signing secret (shown once)."""
    from .models import EndpointIn
    from . import service

    try:
        store, settings = _open(db)
        row = service.add_endpoint(store, city=city, body=EndpointIn(name=name, url=url, max_attempts=max_attempts),
                                   actor="cli", allow_private=settings.egress_allow_private)
        store.close()
    except (NagarError, ValidationError) as exc:
        _fail(exc)
    console.print(f"endpoint {row['id']} -> {escape(row['url'])}\nsigning secret (shown once): {row['secret']}")


@app.command("history")
def history(city: str = CityOpt, limit: int = typer.Option(50, min=1, max=1000),
            as_json: bool = typer.Option(False, "--json"), db: Optional[Path] = DbOpt) -> None:
    """The city's alert history, newest first."""
    from . import service

    try:
        store, _ = _open(db)
        items = service.history(store, city=city, limit=limit)
        store.close()
    except NagarError as exc:
        _fail(exc)
    if as_json:
        console.print_json(json.dumps(items, default=str))
        return
    t = Table(title=f"Alerts in {city}")
    for c in ("id", "time (UTC)", "kind", "scope", "notified", "message"):
        t.add_column(c)
    for e in items:
        t.add_row(str(e["id"]), f"{e['time']:%Y-%m-%d %H:%M}", e["kind"], e["scope_key"],
                  "no (quiet hours)" if e["suppressed"] else "yes", escape(e["message"]))
    console.print(t)


@app.command("deliver")
def deliver(db: Optional[Path] = DbOpt) -> None:
    """Send the webhook deliveries that are due now (the server does this continuously)."""
    from .webhooks import Dispatcher

    try:
        store, settings = _open(db)
        counts = Dispatcher(store, allow_private=settings.egress_allow_private).process_due(limit=500)
        store.close()
    except NagarError as exc:
        _fail(exc)
    console.print(f"delivered {counts['delivered']}, to retry {counts['retry']}, dead letters {counts['dead']}")
