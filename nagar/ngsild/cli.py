"""``nagar ngsild``: load NGSI-LD entities from a file (e.g. Smart Data Models examples or an export of
another broker), read one entity, query a tenant. Calls the same broker as the API; a tenant is a city.

    nagar ngsild load entities.json --tenant dhaka [--update]
    nagar ngsild get urn:ngsi-ld:AirQualityObserved:dhaka-agargaon --tenant dhaka [--key-values]
    nagar ngsild query --tenant dhaka --type AirQualityObserved [--q 'pm25>35'] [--key-values]
"""

from __future__ import annotations

import json
import getpass
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from nagar.core.errors import NagarError
from nagar.core.settings import Settings

app = typer.Typer(help="NGSI-LD context broker: load, read and query entities (tenant = city).",
                  no_args_is_help=True, add_completion=False)
out = Console()
err = Console(stderr=True)
DbOpt = typer.Option(None, "--db", help="DuckDB file (default: $NAGAR_DB or data/nagar.duckdb)")
TenantOpt = typer.Option(..., "--tenant", help="Tenant: a Nagar city id")


def _fail(exc: Exception) -> None:
    msg = exc.message if isinstance(exc, NagarError) else str(exc)
    field = f" ({exc.field})" if isinstance(exc, NagarError) and exc.field else ""
    err.print(f"[bold red]error{field}:[/] {msg}")
    raise typer.Exit(code=2)


def _open(db: Optional[Path], tenant: str):
    from nagar.store import open_store

    from .errors import NonexistentTenant
    from .service import broker_of

    settings = Settings.from_env(db=db)
    store = open_store(settings)
    if store.get_city(tenant) is None:
        store.close()
        raise NonexistentTenant(f"no city {tenant!r}", field="tenant")
    return store, broker_of(store, settings)


def _close(store) -> None:
    from .service import shutdown

    shutdown(store)
    store.close()


@app.command()
def load(path: Path = typer.Argument(..., help="JSON file: one entity or a list (normalized or concise)"),
         tenant: str = TenantOpt,
         update: bool = typer.Option(False, "--update", help="Merge into existing entities instead of replacing"),
         db: Optional[Path] = DbOpt) -> None:
    """Upsert the entities of a file (batch upsert, clause 5.6.8); mapped types write observations."""
    try:
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise NagarError(f"cannot read {path}: {exc}", field="path") from None
        items = body if isinstance(body, list) else [body]
        from .context import resolve

        store, b = _open(db, tenant)
        try:
            from .service import Broker

            def ctx_of(item):
                return resolve(item.get("@context") if isinstance(item, dict) else None)

            res = Broker.batch.submit(b, tenant, "upsert", items, ctx_of, mode="update" if update else "replace",
                                      audit=(f"cli:{getpass.getuser()}", "ngsild.batch.upsert", tenant,
                                             f"{len(items)} entities from {path.name}",
                                             lambda r: {"success": len(r["success"]), "errors": len(r["errors"])})
                                      ).result()
        finally:
            _close(store)
    except NagarError as exc:
        _fail(exc)
    out.print(f"{len(res['success'])} entities written, {len(res['errors'])} refused")
    for e in res["errors"][:20]:
        err.print(f"  {e['entityId']}: {e['error']['detail']}")
    if res["errors"]:
        raise typer.Exit(code=1)


@app.command()
def get(entity_id: str = typer.Argument(...), tenant: str = TenantOpt,
        key_values: bool = typer.Option(False, "--key-values", help="Simplified (keyValues) representation"),
        db: Optional[Path] = DbOpt) -> None:
    """Print one entity (clause 5.7.1)."""
    from .context import CORE
    from .entities import render

    try:
        store, b = _open(db, tenant)
        try:
            ent = b.get(tenant, entity_id)
        finally:
            _close(store)
    except NagarError as exc:
        _fail(exc)
    print(json.dumps(render(ent, CORE, fmt="keyValues" if key_values else "normalized"), ensure_ascii=False,
                     indent=2))


@app.command()
def query(tenant: str = TenantOpt, type: Optional[str] = typer.Option(None, "--type"),
          q: Optional[str] = typer.Option(None, "--q", help="NGSI-LD query, e.g. 'pm25>35'"),
          key_values: bool = typer.Option(False, "--key-values"), db: Optional[Path] = DbOpt) -> None:
    """Print the entities matching a type selection and a query (clause 5.7.2)."""
    from .context import CORE
    from .entities import render

    try:
        if not (type or q):
            raise NagarError("give --type or --q", field="type")
        store, b = _open(db, tenant)
        try:
            found = b.query(tenant, types=type, q=q)
        finally:
            _close(store)
    except NagarError as exc:
        _fail(exc)
    print(json.dumps([render(e, CORE, fmt="keyValues" if key_values else "normalized") for e in found],
                     ensure_ascii=False, indent=2))
