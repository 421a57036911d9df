"""``nagar lake``: export the store to the Parquet lake, run the AQI job on Spark or DuckDB, show the lake.

Mounted by :mod:`nagar.cli` (``app.add_typer(lake_app, name="lake")``); it must not import
:mod:`nagar.cli` (circular import), so it keeps its own consoles and ``--db`` option.
Exit codes: 0 ok, 2 the command could not run.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from nagar.core.errors import NagarError
from nagar.core.settings import Settings

app = typer.Typer(help="Parquet lake: incremental export, and the AQI job on Spark or DuckDB",
                  no_args_is_help=True, add_completion=False)
console = Console()
err = Console(stderr=True)

DbOpt = typer.Option(None, "--db", help="DuckDB file (default: $NAGAR_DB or data/nagar.duckdb)")


def _fail(exc: Exception) -> None:
    msg = exc.message if isinstance(exc, NagarError) else str(exc)
    field = f" ({exc.field})" if isinstance(exc, NagarError) and exc.field else ""
    err.print(f"[bold red]error{field}:[/] {escape(msg)}", soft_wrap=True)
    raise typer.Exit(code=2)


def open_lake_store(db: Path):
    """The DuckDB store, read-only, with the lake export methods (mixed in here until the store has them)."""
    from nagar.store.duckdb import DuckDBStore
    from nagar.store.lake_tables import LakeTables

    cls = DuckDBStore if issubclass(DuckDBStore, LakeTables) else type("LakeDuckDBStore", (LakeTables, DuckDBStore), {})
    return cls(db, read_only=True)


@app.command()
def export(
    out: Path = typer.Option(..., "--out", help="Lake folder (created if absent)"),
    db: Optional[Path] = DbOpt,
    city: Optional[list[str]] = typer.Option(None, "--city", help="Only this city (repeatable)"),
    full: bool = typer.Option(False, "--full", help="Rewrite every partition, changed or not"),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON"),
) -> None:
    """Write observations as Parquet (city=<id>/date=<UTC date>/), only the partitions that changed."""
    from nagar.lake.export import export_lake

    settings = Settings.from_env(db=db)
    path = Path(str(settings.db))
    try:
        if not path.exists():
            raise NagarError(f"no database at {path}", field="db")
        store = open_lake_store(path)
        try:
            r = export_lake(store, out=out, cities=city or None, full=full)
        finally:
            store.close()
    except NagarError as exc:
        _fail(exc)
    if as_json:
        console.print_json(json.dumps({
            "lake": r.lake, "partitions": r.partitions, "written": len(r.written), "unchanged": r.unchanged,
            "removed": len(r.removed), "rows_written": r.rows_written, "rows": r.rows, "seconds": round(r.seconds, 3),
            "written_partitions": [f"{c}/{d}" for c, d in r.written],
        }))
        return
    console.print(f"Lake {escape(r.lake)}: {len(r.written)} partition(s) written ({r.rows_written:,} rows), "
                  f"{r.unchanged} unchanged, {len(r.removed)} removed; {r.partitions} partitions, {r.rows:,} rows "
                  f"in {r.seconds:.1f} s.", soft_wrap=True)


@app.command()
def aqi(
    lake: str = typer.Option(..., "--lake", help="Lake folder (spark also takes file://, s3a:// ... URIs)"),
    out: Path = typer.Option(..., "--out", help="Result file: .parquet, .csv or .jsonl"),
    engine: str = typer.Option("duckdb", "--engine", help="spark or duckdb"),
    standard: Optional[str] = typer.Option(None, "--standard", help="Standard id (default: each city's own)"),
    city: Optional[list[str]] = typer.Option(None, "--city", help="Only this city (repeatable)"),
    start: Optional[str] = typer.Option(None, "--from", help="ISO date/time, UTC unless an offset is given"),
    end: Optional[str] = typer.Option(None, "--to", help="ISO date/time (exclusive)"),
    resolution: str = typer.Option("both", "--resolution", help="hour, day or both"),
    master: str = typer.Option("local[*]", "--master", help="Spark master (spark engine)"),
) -> None:
    """Hourly and daily AQI per station and per city (worst station) from the lake."""
    from nagar.lake.aqi import lake_aqi, parse_time, write_table

    try:
        res = ("hour", "day") if resolution == "both" else (resolution,)
        t0 = time.perf_counter()
        table = lake_aqi(lake=lake, engine=engine, settings=Settings.from_env(), standard=standard,
                         cities=city or None, start=parse_time(start, "from"), end=parse_time(end, "to"),
                         resolutions=res, master=master)
        write_table(table, out)
    except NagarError as exc:
        _fail(exc)
    secs = time.perf_counter() - t0
    levels = table.group_by(["resolution", "level"]).aggregate([([], "count_all")]).to_pylist()
    summary = ", ".join(f"{r['count_all']:,} {r['level']}-{r['resolution']}" for r in
                        sorted(levels, key=lambda r: (r["resolution"], r["level"])))
    console.print(f"{table.num_rows:,} rows ({summary or 'none'}) written to {escape(str(out))} "
                  f"by {engine} in {secs:.1f} s.", soft_wrap=True)


@app.command()
def status(lake: Path = typer.Option(..., "--lake", help="Lake folder")) -> None:
    """Partitions, rows and time span per city, and the last export."""
    from nagar.lake.layout import meta_path, read_manifest

    m = read_manifest(lake)
    info = meta_path(lake, "lake.json")
    if not info.exists():
        _fail(NagarError(f"no lake at {lake} (run `nagar lake export` first)", field="lake"))
    meta = json.loads(info.read_text())
    t = Table(title=f"{lake}: last export {meta.get('last_export')}")
    for col in ("city", "partitions", "rows", "first", "last"):
        t.add_column(col, justify="right" if col in ("partitions", "rows") else "left")
    if m.num_rows:
        g = m.group_by("city").aggregate([("date", "count"), ("rows", "sum"), ("min_time", "min"),
                                           ("max_time", "max")]).sort_by("city")
        for r in g.to_pylist():
            t.add_row(r["city"], f"{r['date_count']:,}", f"{r['rows_sum']:,}", f"{r['min_time_min']:%Y-%m-%d %H:%M}",
                      f"{r['max_time_max']:%Y-%m-%d %H:%M}")
    console.print(t)
