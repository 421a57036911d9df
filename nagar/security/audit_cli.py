"""``nagar audit``: verify the tamper-evident audit log and show its entries.

Mounted by :mod:`nagar.cli` as a sub-command; it must not import :mod:`nagar.cli` (that would be a
circular import), so it keeps its own consoles and ``--db`` option with the same meaning.
Exit codes: 0 ok, 1 the log fails verification, 2 the command could not run (no database, bad anchor).
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

from nagar.core.errors import NagarError
from nagar.core.settings import Settings

app = typer.Typer(help="Tamper-evident audit log", no_args_is_help=True, add_completion=False)
console = Console()
err = Console(stderr=True)

DbOpt = typer.Option(None, "--db", help="DuckDB file (default: $NAGAR_DB or data/nagar.duckdb)")


def _fail(exc: Exception) -> None:
    msg = exc.message if isinstance(exc, NagarError) else str(exc)
    field = f" ({exc.field})" if isinstance(exc, NagarError) and exc.field else ""
    err.print(f"[bold red]error{field}:[/] {escape(msg)}", soft_wrap=True)
    raise typer.Exit(code=2)


def _open(db: Optional[Path]):
    """Open an existing store; a missing file is an error here, not a new empty (and "intact") log."""
    from nagar.store import open_store

    settings = Settings.from_env(db=db)
    if str(settings.db) != ":memory:" and not Path(settings.db).exists():
        raise NagarError(f"no database at {settings.db}", field="db")
    return open_store(settings)


@app.command()
def verify(
    db: Optional[Path] = DbOpt,
    anchor: Optional[str] = typer.Option(None, "--anchor", metavar="SEQ:HASH",
                                         help="A head printed earlier: that entry must still be in the log, unchanged"),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON"),
) -> None:
    """Check the hash chain; print the head to keep as an anchor, or the first bad entry (exit 1).

    A cut-off tail, or entries rewritten with recomputed hashes, show only against an --anchor.
    Keep the printed heads where the database's writers cannot change them (print, mail, commit).
    """
    from nagar.security.audit import parse_anchor, verify_store

    try:
        parsed = parse_anchor(anchor) if anchor is not None else None
        store = _open(db)
        try:
            result = verify_store(store, anchor=parsed)
        finally:
            store.close()
    except NagarError as exc:
        _fail(exc)
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
    elif result.ok:
        seq, h = result.head
        console.print(f"[bold green]OK[/]: audit log intact, {result.checked} entries, head {seq}:{h}"
                      + (f" (anchor {parsed[0]} present)" if parsed else ""), soft_wrap=True, highlight=False)
    else:
        err.print(f"[bold red]TAMPERED[/]: entry {result.first_bad_seq} {result.problem} — {escape(result.message)}",
                  soft_wrap=True, highlight=False)
    if not result.ok:
        raise typer.Exit(code=1)


@app.command()
def show(
    db: Optional[Path] = DbOpt,
    city: Optional[str] = typer.Option(None, help="Only this city's entries"),
    limit: int = typer.Option(20, min=1, help="How many of the newest entries"),
    as_json: bool = typer.Option(False, "--json", help="Print the entries as JSON"),
) -> None:
    """List the newest audit entries (oldest first)."""
    from nagar.security.audit import format_time, head

    try:
        store = _open(db)
        try:
            if city is None:  # seqs are contiguous in an intact log: read only the tail
                rows = store.audit_entries(after_seq=max(0, head(store)[0] - limit))[-limit:]
            else:
                rows = store.audit_entries(city=city)[-limit:]
        finally:
            store.close()
    except NagarError as exc:
        _fail(exc)
    for r in rows:
        r["time"] = format_time(r["time"])
    if as_json:
        for r in rows:
            try:
                r["details"] = json.loads(r["details"])
            except ValueError:  # a tampered row: show what is stored
                pass
        sys.stdout.write(json.dumps(rows, ensure_ascii=False) + "\n")
        return
    title = f"Audit log{f' of {city}' if city else ''}: {len(rows)} newest entries"
    t = Table(title=title)
    t.add_column("seq", justify="right", no_wrap=True)
    t.add_column("time (UTC)", no_wrap=True)
    for c in ("actor", "action", "city", "target", "details"):
        t.add_column(c, overflow="fold")  # never cut an audit field short with an ellipsis
    t.add_column("hash", no_wrap=True)
    for r in rows:
        t.add_row(str(r["seq"]), r["time"][:19].replace("T", " "), escape(r["actor"]), escape(r["action"]),
                  escape(r["city"] or ""), escape(r["target"] or ""),
                  escape(r["details"] if r["details"] != "{}" else ""), r["hash"][:8])
    console.print(t)
