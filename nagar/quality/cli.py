"""``nagar quality``: scan a city's readings for sensor faults, list them, override a verdict.

Mounted by :mod:`nagar.cli` (it must not import it: circular). Same service functions as the API;
writes are audited with actor ``cli``. Exit codes: 0 ok, 2 the command could not run.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from nagar.core.errors import InvalidInput, NagarError
from nagar.core.settings import Settings

app = typer.Typer(help="Data quality: sensor-fault and tamper detection", no_args_is_help=True,
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


def _time(s: Optional[str], name: str) -> Optional[datetime]:
    if s is None:
        return None
    try:
        t = datetime.fromisoformat(s.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{s!r} is not an ISO 8601 time", field=name) from None
    if t.tzinfo is None:
        raise InvalidInput(f"{name} must include a UTC offset (e.g. 2025-01-01T00:00Z)", field=name)
    return t


def _open_store(db: Optional[Path]):
    from nagar.store import open_store

    return open_store(Settings.from_env(db=db))


def print_scan(res) -> None:
    t = Table(title=f"Quality scan of {res.city}", show_header=False)
    t.add_row("readings examined", f"{res.readings:,}")
    t.add_row("faults (readings × kinds)", f"{res.faults:,} ({res.new_faults:,} new)")
    for k, n in sorted(res.by_kind.items()):
        t.add_row(f"  {k}", f"{n:,}")
    t.add_row("  of which notices (flag left alone, still counted)", f"{res.notices:,}")
    t.add_row("readings flagged now", f"{res.flagged:,}")
    t.add_row("left alone (overridden)", f"{res.skipped_overridden:,}")
    t.add_row("time", f"{res.seconds:.2f} s")
    console.print(t)


def scan_line(res) -> str:
    kinds = ", ".join(f"{k} {n:,}" for k, n in sorted(res.by_kind.items())) or "none"
    return (f"Quality scan of {res.city}: {res.readings:,} readings, {res.faults:,} faults ({kinds}; "
            f"{res.notices:,} of them notices, still counted), {res.flagged:,} readings flagged, {res.seconds:.2f} s")


@app.command()
def scan(
    city: str = CityOpt,
    start: Optional[str] = typer.Option(None, "--from", help="ISO 8601 with offset (default: all stored)"),
    end: Optional[str] = typer.Option(None, "--to", help="ISO 8601 with offset (default: all stored)"),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON"),
    db: Optional[Path] = DbOpt,
) -> None:
    """Examine a city's readings in a period, record faults and flag the readings (suspect/invalid;
    notices such as off-clock readings are recorded without a flag)."""
    from nagar.security import audit

    from . import service

    try:
        s, e = _time(start, "from"), _time(end, "to")
        store = _open_store(db)
        res = service.scan(store, city=city, start=s, end=e)
        audit.record(store, actor="cli", action="quality.scan", city=city, target=f"city:{city}",
                     details={"start": res.start, "end": res.end, "faults": res.faults, "flagged": res.flagged})
        store.close()
    except NagarError as exc:
        _fail(exc)
    if as_json:
        console.print_json(json.dumps(res.to_dict()))
    else:
        print_scan(res)


@app.command()
def faults(
    city: str = CityOpt,
    station: Optional[str] = typer.Option(None, help="Only this station"),
    kind: Optional[str] = typer.Option(None, help="stuck, spike, out_of_range, drift or timestamp"),
    limit: int = typer.Option(50, help="How many (newest first)"),
    db: Optional[Path] = DbOpt,
) -> None:
    """List detected faults, newest first, with counts per station and kind (notices: recorded, the
    reading's flag left alone)."""
    from . import service

    try:
        store = _open_store(db)
        summ = service.summary(store, city=city)
        rows = service.faults(store, city=city, station=station, kind=kind, limit=limit)
        store.close()
    except NagarError as exc:
        _fail(exc)
    t = Table(title=f"Faults per station in {city}")
    t.add_column("station")
    for k in summ["kinds"]:
        t.add_column(k, justify="right")
    t.add_column("of which notices", justify="right")
    t.add_column("overridden", justify="right")
    for it in summ["items"]:
        t.add_row(it["station"], *[str(it["by_kind"][k]) for k in summ["kinds"]], str(it["notices"]),
                  str(it["overridden"]))
    console.print(t)
    f = Table(title=f"Newest {len(rows)} faults")
    for col in ("time (UTC)", "station", "parameter", "kind", "severity / flag", "value", "detail"):
        f.add_column(col)
    for r in rows:
        sev = ("valid (overridden)" if r["overridden"] else
               "notice (still counted)" if r["severity"] == "notice" else r["severity"])
        f.add_row(f"{r['time']:%Y-%m-%d %H:%M}", r["station"], r["parameter"], r["kind"], sev, f"{r['value']:g}",
                  escape(r["detail"]))
    console.print(f)


@app.command()
def override(
    station: str = typer.Option(..., help="Station id"),
    parameter: str = typer.Option(..., help="Parameter, e.g. pm25"),
    time: str = typer.Option(..., "--time", help="The reading's time, ISO 8601 with offset"),
    reason: str = typer.Option(..., help="Why the reading is valid (kept in the audit log)"),
    db: Optional[Path] = DbOpt,
) -> None:
    """Mark a flagged reading valid again; re-detection will leave it alone."""
    from . import service

    try:
        t = _time(time, "time")
        store = _open_store(db)
        out = service.override(store, station=station, parameter=parameter, time=t, reason=reason, actor="cli")
        store.close()
    except NagarError as exc:
        _fail(exc)
    console.print(f"{station} {parameter} at {out['time']:%Y-%m-%d %H:%M} UTC: {out['previous_flag']} -> valid")
