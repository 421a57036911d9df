"""``nagar ewaste``: the UNU generation model on a POM file, loading POM into a city, and tracing a batch's
custody chain.

Mounted by :mod:`nagar.cli` as a sub-command (it must not import :mod:`nagar.cli`), with its own consoles
and ``--db`` option of the same meaning. It calls the same service functions as the API; writes are
audited with actor ``cli``. Exit codes: 0 ok, 2 the command could not run (one clear message, no traceback).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from nagar.core.errors import InvalidInput, NagarError
from nagar.core.settings import Settings

app = typer.Typer(help="E-waste: UNU generation model, POM data, custody chain of collected batches",
                  no_args_is_help=True, add_completion=False)
console = Console()
err = Console(stderr=True)

DbOpt = typer.Option(None, "--db", help="DuckDB file (default: $NAGAR_DB or data/nagar.duckdb)")


def _fail(exc: Exception) -> None:
    msg = exc.message if isinstance(exc, NagarError) else str(exc)
    field = f" ({exc.field})" if isinstance(exc, NagarError) and exc.field else ""
    err.print(f"[bold red]error{field}:[/] {escape(msg)}", soft_wrap=True)
    raise typer.Exit(code=2)


def _open_store(db: Optional[Path]):
    from nagar.store import open_store

    return open_store(Settings.from_env(db=db))


def _read_pom(path: Path) -> list[dict]:
    from . import service

    from nagar.ingest.files import read_text

    text = read_text(path, field="pom")  # not UTF-8: names the line and how to save as UTF-8
    try:
        return service.parse_pom_csv(text)
    except InvalidInput as exc:
        raise InvalidInput(f"{path}: {exc.message}", field=exc.field) from None


def _t(v) -> str:
    return "" if v is None else f"{v / 1000:,.1f}"


@app.command()
def estimate(
    pom: Path = typer.Option(..., "--pom", help="CSV: year, unu_key, kg or units [, avg_weight_kg, source]"),
    population: Optional[float] = typer.Option(None, "--population", min=1, help="Inhabitants (for kg/inh)"),
    from_: Optional[int] = typer.Option(None, "--from", help="First year to show (default: first POM year)"),
    to: Optional[int] = typer.Option(None, "--to", help="Last year to model (default: last POM year)"),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON"),
) -> None:
    """E-waste generated and stock in use per EEE category and year (UNU sales-lifespan model, tonnes)."""
    from . import unu

    try:
        rows = _read_pom(pom)
        out = unu.estimate(rows, start=from_, end=to, population=population)
    except NagarError as exc:
        _fail(exc)
    except ValueError as exc:
        _fail(InvalidInput(str(exc), field="to"))
    if as_json:
        sys.stdout.write(json.dumps(out) + "\n")
        return
    table = Table(title=f"E-waste generated (t) — UNU sales-lifespan model, {pom.name}", title_justify="left")
    table.add_column("Year", justify="right")
    cats = sorted(out["categories"])
    for c in cats:
        table.add_column(f"{c} {unu.CATEGORIES[c]}", justify="right")
    table.add_column("Total", justify="right", style="bold")
    table.add_column("Stock in use", justify="right")
    if population:
        table.add_column("kg/inh", justify="right")
    for i, y in enumerate(out["years"]):
        cells = [str(y)] + [_t(out["categories"][c]["generated"][i]) for c in cats]
        cells += [_t(out["total"]["generated"][i]), _t(out["total"]["stock"][i])]
        if population:
            cells.append(f"{out['kg_per_inhabitant'][i]:.2f}")
        table.add_row(*cells)
    console.print(table)
    keys = unu.load_keys()
    assumed = sorted(k for k in out["keys"] if keys[k].weibull_source == "assumed")
    if assumed:
        err.print(f"note: lifespans of {len(assumed)} of {len(out['keys'])} keys are assumed values "
                  "(see nagar/waste/README.md)")


@app.command("load-pom")
def load_pom(
    pom: Path = typer.Argument(..., help="CSV: year, unu_key, kg or units [, avg_weight_kg, source]"),
    city: str = typer.Option(..., "--city", help="City id, e.g. dhaka"),
    db: Optional[Path] = DbOpt,
) -> None:
    """Store a POM file as a city's put-on-market data (replaces the same year and key)."""
    from . import service

    try:
        rows = _read_pom(pom)
        store = _open_store(db)
        try:
            out = service.put_pom(store, city=city, rows=rows, actor="cli")
        finally:
            store.close()
    except NagarError as exc:
        _fail(exc)
    console.print(f"{city}: {out['inserted']} POM rows added, {out['updated']} replaced")


@app.command()
def trace(
    batch: int = typer.Argument(..., help="Batch id"),
    city: Optional[str] = typer.Option(None, "--city", help="City id (default: the batch's own city)"),
    as_json: bool = typer.Option(False, "--json", help="Print the trace as JSON"),
    db: Optional[Path] = DbOpt,
) -> None:
    """A batch's custody chain back to its collection point, with its mass balance."""
    from nagar.core.errors import NotFound

    from . import service

    try:
        store = _open_store(db)
        try:
            if city is None:
                found = store.ewaste_batch(batch)
                if found is None:
                    raise NotFound(f"no batch {batch}", field="batch")
                city = found["city"]
            tr = service.trace(store, city=city, batch_id=batch)
        finally:
            store.close()
    except NagarError as exc:
        _fail(exc)
    if as_json:
        sys.stdout.write(json.dumps(tr, default=str) + "\n")
        return
    b, p = tr["batch"], tr["point"] or {}
    console.print(f"[bold]Batch {b['id']}[/] — {escape(tr['category_name'])} (category {b['category']}), "
                  f"{b['kg']:g} kg collected {b['day']} at {escape(p.get('name', b['point_id']))} "
                  f"({b['point_id']}, {p.get('lat', 0):.4f}, {p.get('lon', 0):.4f})")
    table = Table(title="Custody chain", title_justify="left")
    for col, just in (("#", "right"), ("Day", "left"), ("Step", "left"), ("From", "left"), ("To", "left"),
                      ("Sent kg", "right"), ("Received / output kg", "right"), ("Loss", "right"), ("", "left")):
        table.add_column(col, justify=just)
    for s in tr["steps"]:
        loss = "" if s["kind"] == "collect" else f"{s['loss_kg']:g} kg ({s['loss_share']:.1%})"
        extra = ""
        if s["kind"] == "process":
            mats = s["details"].get("materials", {})
            extra = ", ".join(f"{k} {v:g}" for k, v in mats.items()) + f"; residues {s['details'].get('residues_kg', 0):g}"
        table.add_row(str(s["id"]), str(s["day"]), s["kind"], s["from_handler"] or "—",
                      s["to_handler"] or "—", f"{s['kg_out']:g}", f"{s['kg_in']:g}", loss,
                      ("[bold red]FLAGGED[/] " if s.get("flagged") else "") + escape(extra))
    console.print(table)
    bal = tr["balance"]
    console.print(f"Mass balance: collected {bal['collected_kg']:g} kg = held {bal['held_kg']:g} + lost in transit "
                  f"{bal['transit_loss_kg']:g} + processed {bal['processed_input_kg']:g} "
                  f"({'balanced' if bal['balanced'] else '[bold red]NOT balanced[/]'})")
    if bal["processed_input_kg"]:
        console.print(f"Processing: {bal['processed_input_kg']:g} kg in = recovered {bal['recovered_kg']:g} + residues "
                      f"{bal['residues_kg']:g} + unaccounted {bal['processing_loss_kg']:g}")
    held = ", ".join(f"{h} {kg:g} kg" for h, kg in tr["holdings"].items()) or "nobody"
    console.print(f"Held now by: {held}. Loss tolerance {tr['loss_tolerance']:.0%}; "
                  f"{len(tr['flagged'])} step(s) flagged.")
