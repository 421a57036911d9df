"""The ``nagar`` command: demo, serve, ingest, aqi, cities, stations. Calls the same services as the API."""

from __future__ import annotations

import json
import math
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TransferSpeedColumn
from rich.table import Table
from typer.core import TyperGroup

from nagar.core.errors import NagarError
from nagar.core.settings import Settings
from nagar.ingest.report import EXIT_STATUS_HELP, exit_status, rejected_table

CREATES_DATABASE = frozenset({("init",), ("demo",), ("serve",)})
"""Commands that may create a missing DuckDB file: ``init`` (its job), ``demo`` (builds demo data into it) and
``serve`` (says so when it starts on a new, empty file). Every other command that takes ``--db`` reads or
writes existing data and refuses a missing file (:func:`_refuse_missing_database`)."""


class _GuardedGroup(TyperGroup):
    """A command group that, before running one of its commands, refuses a DuckDB file that does not exist
    (opening it would silently create an empty database, typically ``data/nagar.duckdb`` in whatever folder
    the command was run from). Used for ``nagar`` and every group mounted on it."""

    def resolve_command(self, ctx: typer.Context, args: list[str]):
        name, cmd, rest = super().resolve_command(ctx, args)
        if cmd is not None and not isinstance(cmd, TyperGroup) and not ctx.resilient_parsing:
            _refuse_missing_database(ctx, cmd, name, rest)
        return name, cmd, rest


def _command_path(ctx: typer.Context, name: str) -> tuple[str, ...]:
    parts = []
    while ctx.parent is not None:  # the root context's name is the program's, not a command
        parts.append(ctx.info_name)
        ctx = ctx.parent
    return (*reversed(parts), name)


def _refuse_missing_database(ctx: typer.Context, cmd, name: str, args: list[str]) -> None:
    """Fail (exit 2, one message) when ``cmd`` would open a DuckDB file that does not exist, unless it is one
    of :data:`CREATES_DATABASE`. Commands without a ``--db`` option, ``--help`` and PostgreSQL
    (``NAGAR_DATABASE_URL``) are left alone."""
    if not any(p.name == "db" for p in cmd.params):
        return
    if set(cmd.get_help_option_names(ctx)) & set(args):
        return
    if _command_path(ctx, name) in CREATES_DATABASE:
        return
    parsed = cmd.make_context(name, list(args), parent=ctx, resilient_parsing=True)  # no prompts, no callbacks
    db = parsed.params.get("db") or ctx.params.get("db")
    settings = _from_env(db=db)
    if not settings.database_url and not Path(settings.db).exists():
        _fail(_no_database(settings, db))


def _from_env(**overrides) -> Settings:
    """``Settings.from_env``, with a bad NAGAR_* value as one message (the variable and why), not a traceback."""
    try:
        return Settings.from_env(**overrides)
    except ValidationError as exc:
        _fail(NagarError("; ".join(f"NAGAR_{'.'.join(map(str, e['loc'])).upper()}: "
                                   f"{e['msg'].removeprefix('Value error, ')}" for e in exc.errors()),
                         field="settings"))


def _no_database(settings: Settings, db: Optional[Path]) -> NagarError:
    """The error for a DuckDB file that is not there: its full path, and how to point at the right one."""
    default = ("" if db is not None or os.environ.get("NAGAR_DB") else
               f" (the default {settings.db} is relative to the current folder, {Path.cwd()})")
    return NagarError(f"no Nagar database at {Path(settings.db).resolve()}{default}. Point at yours with --db PATH "
                      "or NAGAR_DB=PATH; or create a new, empty one with `nagar init` (or demo data with "
                      "`nagar demo`)", field="db")


app = typer.Typer(help="Nagar: open urban environment platform.", no_args_is_help=True, add_completion=False,
                  cls=_GuardedGroup)
admin_app = typer.Typer(help="Accounts and roles (run on the server, with the database closed)",
                        no_args_is_help=True, add_completion=False)
console = Console()
err = Console(stderr=True)


def _settings(db: Optional[Path], *, must_exist: bool = False) -> Settings:
    settings = _from_env(db=db)
    path = Path(str(settings.db))
    if path.suffix.lower() not in (".duckdb", ".db", ".ddb"):
        _fail(NagarError(f"{path} does not look like a Nagar database: use a .duckdb file", field="db"))
    if must_exist and not settings.database_url and not path.exists():
        _fail(_no_database(settings, db))
    return settings


def _fail(exc: Exception) -> None:
    msg = exc.message if isinstance(exc, NagarError) else str(exc)
    field = f" ({exc.field})" if isinstance(exc, NagarError) and exc.field else ""
    err.print(f"[bold red]error{field}:[/] {msg}")
    raise typer.Exit(code=2)


DbOpt = typer.Option(None, "--db", help="DuckDB file (default: $NAGAR_DB or data/nagar.duckdb)")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("nagar")
        except PackageNotFoundError:  # run from a source tree that was never installed
            import nagar

            v = f"{nagar.__version__} (not installed)"
        console.print(f"nagar {v}", highlight=False)
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                      help="Print Nagar's version (from the installed package) and exit")) -> None:
    """Nagar: open urban environment platform."""


def _check_port(host: str, port: int) -> None:
    """Fail with one clear message when ``host:port`` cannot be listened on (before anything is announced).

    Binds a throw-away socket with SO_REUSEADDR as uvicorn does, so a port left in TIME_WAIT by a server
    just stopped counts as free while one another process listens on does not."""
    import errno
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        _fail(NagarError(f"cannot listen on {host!r}: {exc.strerror}", field="host"))
    family, kind, proto, _name, addr = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(addr)
        except OSError as exc:
            what = ("is already in use (another `nagar serve` or demo?)" if exc.errno == errno.EADDRINUSE
                    else f"cannot be used ({exc.strerror})")
            _fail(NagarError(f"port {port} on {host} {what}: choose another with --port, "
                             f"e.g. `nagar serve --port {port + 1}` or `bash dev.sh demo --port {port + 1}`",
                             field="port"))


@app.command()
def serve(
    db: Optional[Path] = DbOpt,
    host: Optional[str] = typer.Option(None, help="Listen address (default 127.0.0.1)"),
    port: Optional[int] = typer.Option(None, help="Port (default 8000)"),
    access_log: bool = typer.Option(True, "--access-log/--no-access-log",
                                    help="Log every request (one line each; off for load tests)"),
    server: str = typer.Option("uvicorn", help="HTTP server: uvicorn (in this process) or granian (Rust I/O, "
                                              "a worker process: the fast one for NGSI-LD loads)"),
) -> None:
    """Serve the API (/docs) and the dashboard (/)."""
    from nagar.api import server as http_server
    from nagar.api.app import create_app

    if server not in http_server.SERVERS:
        _fail(NagarError(f"--server must be one of {', '.join(http_server.SERVERS)}, not {server!r}", field="server"))
    settings = _from_env(db=db, host=host, port=port)
    fresh = not settings.database_url and not Path(settings.db).exists()
    try:
        application = create_app(settings)
    except NagarError as exc:
        _fail(exc)
    _check_port(settings.host, settings.port)
    store_note = f"store {settings.db}"
    if fresh:  # not silently: a server started in the wrong folder would otherwise look merely empty
        store_note = (f"store {Path(settings.db).resolve()} [bold yellow](new and empty: there was no database "
                      "there; stop and pass --db or NAGAR_DB if yours is elsewhere)[/]")
    console.print(f"Nagar on [bold]http://{settings.host}:{settings.port}/[/] (API docs at /docs), {store_note}")
    http_server.run(application, settings, server=server, access_log=access_log)


@app.command()
def demo(
    db: Optional[Path] = DbOpt,
    seed: int = typer.Option(42, help="Seed of the demo data generator"),
    days: int = typer.Option(90, help="Days of hourly data to generate"),
    serve_after: bool = typer.Option(True, "--serve/--no-serve", help="Start the server after loading"),
    port: Optional[int] = typer.Option(None, help="Port (default 8000)"),
) -> None:
    """Build the demo cities and data if absent, then serve the dashboard."""
    from nagar.demo.service import has_demo, load_demo
    from nagar.store import open_store

    settings = _from_env(db=db, port=port)
    if serve_after:
        _check_port(settings.host, settings.port)  # before minutes of data generation, not after
    hints = ["nagar cities", "nagar inventory show --city dhaka --year 2023", "nagar plan --help",
             "nagar quality faults --city dhaka", "nagar ewaste trace 1", "nagar water wqi --city dhaka"]
    try:
        store = open_store(settings)
        generated = solar = 0
        if not has_demo(store):
            with console.status(f"Generating {days} days of demo data (seed {seed})..."):
                counts = load_demo(store, seed=seed, days=days)
            generated = counts.inserted
            console.print(f"Demo data written to {settings.db}: {generated:,} generated sensor observations.")
            from nagar.climate.demo import load_climate_demo

            climate = load_climate_demo(store)
            solar = climate["solar_readings"]
            console.print(f"Dhaka's demonstration GHG inventory loaded ({solar} monthly rooftop-solar meter "
                          "readings with it; page /climate).")
            from nagar.funding.demo import load_funding_demo

            with console.status("Building the fund's demo pipeline and solving its first tranche..."):
                fund = load_funding_demo(store)
            console.print(f"Fund demo: {fund['projects']} candidate projects in 28 cities, "
                          f"{fund['funded']} funded in the first tranche (page /fund).")
            from nagar.quality.service import data_cities, scan as quality_scan

            scans = [quality_scan(store, city=c) for c in data_cities(store)]
            console.print(_quality_summary(scans))
        else:
            console.print(f"Demo data already in {settings.db}.")
        from nagar.waste.demo import load_ewaste_demo, publish_ewaste_open_data

        if load_ewaste_demo(store):
            console.print("Dhaka's illustrative e-waste data loaded (page /ewaste).")
        publish_ewaste_open_data(store)  # its e-waste open data, once (additive)
        from nagar.water.demo import load_water_demo

        water = load_water_demo(store, settings=settings)
        if water["stations"]:
            console.print(f"Dhaka river water-quality demo (illustrative values): {water['stations']} stations, "
                          f"{water['samples']} samples, {water['alerts']} demo alerts.")
        from nagar.requests.demo import load_requests_demo

        done = load_requests_demo(store, settings=settings)  # additive: only if Dhaka has no requests yet
        if done["requests"]:
            console.print(f"{done['requests']} demo service requests for Dhaka "
                          "(/api/v1/open311/v2/requests.json?jurisdiction_id=dhaka); its open data is published.")
        from nagar.demo.service import accounts_file, ensure_demo_accounts

        accounts = ensure_demo_accounts(store, settings=settings)
        if accounts:
            t = Table(title="Demo accounts (written to " + str(accounts[0]["file"]) + ", mode 0600)")
            for col in ("username", "password", "rights"):
                t.add_column(col)
            for a in accounts:
                t.add_row(a["username"], a["password"], a["rights"])
            console.print(t)
        else:
            path = accounts_file(settings)
            console.print(f"Demo accounts and their passwords: {path}" if path.exists() else
                          f"Demo accounts exist; their passwords file {path} is gone (reset one with "
                          "`nagar admin` after stopping the server).")
        st = store.stats()
        made = (f" ({generated:,} generated sensor observations + {solar} rooftop-solar readings)"
                if generated and solar else "")
        console.print(f"{st.cities} cities, {st.stations} stations, {st.observations:,} observations in the "
                      f"store{made}, from {st.first:%Y-%m-%d} to {st.last:%Y-%m-%d %H:%M} UTC.")
        store.close()
    except NagarError as exc:
        _fail(exc)
    # printed together: while the server runs it holds the database file and these would fail
    when = "after stopping the server (Ctrl-C): it holds the database file while it runs" if serve_after else "now"
    extra = f" --db {settings.db}" if db is not None else ""
    console.print(f"CLI commands to try {when}:\n"
                  + "\n".join(f"  .venv/bin/{h}{'' if h.endswith('--help') else extra}" for h in hints))
    if serve_after:
        _open_browser_later(f"http://{settings.host}:{settings.port}/")
        serve(db=settings.db, host=None, port=port, access_log=True, server="uvicorn")


def _quality_summary(scans) -> Table:
    """One table for the demo's first quality scan of every city (not one paragraph per city)."""
    t = Table(title="Quality scan (sensor faults found, readings flagged)")
    for col, j in (("city", "left"), ("readings", "right"), ("faults", "right"), ("kinds", "left"),
                   ("flagged", "right")):
        t.add_column(col, justify=j)
    for r in scans:
        kinds = ", ".join(f"{k} {n:,}" for k, n in sorted(r.by_kind.items())) or "-"
        t.add_row(r.city, f"{r.readings:,}", f"{r.faults:,}", kinds, f"{r.flagged:,}")
    return t


def _open_browser_later(url: str) -> None:
    """Open the dashboard in the desktop's browser once the server is up (no-op without a display)."""
    import os
    import threading
    import webbrowser

    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform in ("darwin", "win32")):
        return
    threading.Timer(1.5, lambda: webbrowser.open(url)).start()


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True}, epilog=EXIT_STATUS_HELP)
def ingest(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="CSV (.csv, .csv.gz) or Parquet file, Nagar or OpenAQ layout; "
                                          "or `mqtt` to subscribe to a broker (options: `nagar ingest-mqtt run --help`)"),
    db: Optional[Path] = DbOpt,
    city: Optional[str] = typer.Option(None, help="City for stations the file creates (default: nearest city)"),
    batch_rows: int = typer.Option(1_000_000, help="Rows per committed batch (bounds memory)"),
    show_errors: int = typer.Option(20, help="How many rejected rows to list"),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON"),
) -> None:
    """Load observations from a file, streaming, with a progress bar and a summary (or `nagar ingest mqtt`).

    Good rows are stored; every bad row is counted and listed with its file line (Parquet: row)."""
    if str(file) == "mqtt" and not file.exists():
        from nagar.ingest.mqtt_cli import app as mqtt_app

        extra = list(ctx.args) + (["--db", str(db)] if db else [])
        mqtt_app(["run", *extra], standalone_mode=True)
        return
    if ctx.args:
        _fail(NagarError(f"unexpected argument(s): {' '.join(ctx.args)}", field="arguments"))
    from nagar.ingest.service import ingest_file
    from nagar.store import open_store

    settings = _settings(db)
    reactions = None
    try:
        store = open_store(settings)
        if city is not None and store.get_city(city) is None:
            store.close()
            raise NagarError(f"no city {city!r} in {settings.db}: create it first with `nagar cities add {city} "
                             "--name NAME --country CC --timezone AREA/CITY --lat LAT --lon LON` (see `nagar cities "
                             "add --help`); `nagar cities` lists the cities there are", field="city")
        from nagar.reactions import Reactions

        # alert rules evaluated as the batches are written; faults examined once the file is in (drain below)
        reactions = Reactions(store, settings, background=False)
        unit_col = TransferSpeedColumn() if not file.name.lower().endswith((".parquet", ".pq")) else TextColumn("")
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                      unit_col, TimeElapsedColumn(), console=err, disable=as_json, transient=True) as progress:
            task = progress.add_task(f"ingest {file.name}", total=None)

            def on_progress(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            t0 = datetime.now(timezone.utc)
            result = ingest_file(store, path=file, settings=settings, city=city, batch_rows=batch_rows,
                                 on_progress=on_progress)
            secs = (datetime.now(timezone.utc) - t0).total_seconds()
            # the fault watcher examines the written stations now, synchronously: its results are reported
            quality_scans = reactions.quality.drain() if reactions.quality is not None else None
            reactions.drain()
        from nagar.security import audit

        audit.record(store, actor="cli", action="observations.ingest_file", city=city, target=f"file:{file.name}",
                     details={"received": result.received, "inserted": result.inserted, "updated": result.updated,
                              "rejected": result.rejected, "stations_created": result.stations_created})
        reactions.stop()  # evaluates what is still queued, then sends due webhooks no more
        store.close()
    except NagarError as exc:
        if reactions is not None:
            reactions.stop()
        _fail(exc)
    quality = None
    if quality_scans is not None:
        quality = {"cities": sorted({r.city for r in quality_scans}),
                   "faults": sum(r.faults for r in quality_scans),
                   "new_faults": sum(r.new_faults for r in quality_scans),
                   "notices": sum(r.notices for r in quality_scans),
                   "flagged": sum(r.flagged for r in quality_scans)}
    if as_json:
        console.print_json(json.dumps({**result.model_dump(), "seconds": secs, "quality": quality}))
        _exit_for(result.received, result.rejected)
        return
    t = Table(title=f"Ingested {file.name}", show_header=False)
    t.add_row("rows read", f"{result.received:,}")
    t.add_row("inserted", f"{result.inserted:,}")
    t.add_row("updated (same station, parameter, time)", f"{result.updated:,}")
    t.add_row("rejected", f"{result.rejected:,}")
    t.add_row("stations created", ", ".join(result.stations_created) or "none")
    t.add_row("time", f"{secs:.2f} s ({(result.received / secs if secs else 0):,.0f} rows/s)")
    console.print(t)
    qcity = city or (quality["cities"][0] if quality and len(quality["cities"]) == 1 else "<city>")
    if quality is None:
        console.print(f"Quality checks: not run on this store; `nagar quality scan --city {qcity}` runs them.",
                      markup=False)
    else:  # examined synchronously above (the fault watcher's drain), so the numbers are final
        console.print(f"Quality checks of the written stations (with the 48 h before): {quality['flagged']:,} readings "
                      f"flagged suspect/invalid (left out of the AQI), {quality['new_faults']:,} new findings, "
                      f"{quality['notices']:,} notices (recorded, still counted); see `nagar quality faults --city "
                      f"{qcity}` or /quality.", markup=False)
    parquet = file.name.lower().endswith((".parquet", ".pq"))
    e = rejected_table(result.errors, total=result.rejected, limit=show_errors, label="row" if parquet else "line")
    if e is not None:
        console.print(e)
    _exit_for(result.received, result.rejected)


def _exit_for(received: int, rejected: int) -> None:
    """A loader's exit status (nagar.ingest.report): 0 all stored, 3 some rows rejected, 1 all rejected."""
    code = exit_status(received=received, rejected=rejected)
    if code:
        raise typer.Exit(code=code)


@app.command()
def aqi(
    values: list[str] = typer.Argument(..., help="pollutant=concentration in the standard's unit, e.g. pm25=35.9 o3_8h=0.07"),
    standard: str = typer.Option("us-epa-2024", help="Standard id (see `nagar standards`) or a table file"),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output"),
) -> None:
    """Compute sub-indices, AQI, category and dominant pollutant for given concentrations."""
    import numpy as np

    from nagar.air.aqi import compute_aqi
    from nagar.air.service import get_standard

    settings = Settings.from_env()
    try:
        std = get_standard(settings, standard) if not Path(standard).exists() else __import__(
            "nagar.air.standards", fromlist=["load_standard"]).load_standard(standard)
        conc: dict[str, float] = {}
        for item in values:
            key, sep, val = item.partition("=")
            if not sep:
                raise NagarError(f"expected pollutant=value, got {item!r}", field=item)
            try:
                num = float(val)
            except ValueError:
                raise NagarError(f"{key}: {val!r} is not a number", field=key) from None
            if not math.isfinite(num) or num < 0:
                raise NagarError(f"{key}: a concentration must be a finite number >= 0, got {val}", field=key)
            resolved = std.resolve_key(key.strip().lower())
            if resolved in conc:
                raise NagarError(f"{resolved} given twice", field=key)
            conc[resolved] = num
        res = compute_aqi({k: np.array([v]) for k, v in conc.items()}, std)
    except NagarError as exc:
        _fail(exc)
    units = {p.key: p.unit for p in std.pollutants}
    a = float(res.aqi[0])
    cat = int(res.category[0])
    out = {
        "standard": std.id,
        "aqi": None if np.isnan(a) else a,
        "category": std.categories[cat].name if cat >= 0 else None,
        "colour": std.categories[cat].colour if cat >= 0 else None,
        "dominant": (str(res.dominant[0]) or None),
        # above the scale's top (500): EPA calls it "Beyond the AQI" (nagar.air.service._beyond)
        "beyond_scale": bool(not np.isnan(a) and a > std.scale_max),
        "sub_indices": {k: (None if np.isnan(float(v[0])) else float(v[0])) for k, v in res.sub_indices.items()},
        "concentrations": {k: {"value": v, "unit": units.get(k)} for k, v in conc.items()},
    }
    if as_json:
        sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        return
    t = Table(title=f"AQI under {std.name}")
    t.add_column("pollutant")
    t.add_column("concentration", justify="right")
    t.add_column("sub-index", justify="right")
    for k, v in conc.items():
        si = out["sub_indices"].get(k)
        t.add_row(k, f"{v:g} {units.get(k, '')}", "—" if si is None else f"{si:g}")
    console.print(t)
    if out["aqi"] is None:
        console.print("AQI: not defined for these inputs. " + _why_undefined(std, conc))
    else:
        console.print(f"AQI [bold]{out['aqi']:g}[/] — [bold]{out['category']}[/], dominant pollutant {out['dominant']}")
        if out["beyond_scale"]:
            console.print(f"Beyond the AQI: above the top of the {std.scale_max:g} scale. The number continues the "
                          "table's last row (extrapolated, no breakpoint defines it); follow the advice for "
                          f"{out['category']}.", soft_wrap=True)


def _why_undefined(std, conc: dict) -> str:
    """Explain, from the standard's own rules, why no AQI came out."""
    reasons = []
    if getattr(std, "min_pollutants", 1) > len(conc):
        extra = ""
        if getattr(std, "requires_any", None):
            extra = f", one of them {' or '.join(std.requires_any)}"
        reasons.append(f"{std.name} needs at least {std.min_pollutants} pollutants{extra}")
    for k, v in conc.items():
        pol = std.pollutant(k)
        if pol.breakpoints and v > pol.breakpoints[-1][1] and k == "o3_8h":
            reasons.append("8-hour O3 above the table's top: give the 1-hour value (o3_1h) instead")
        elif pol.breakpoints and v < pol.breakpoints[0][0]:
            reasons.append(f"{k} {v:g} is below the table's first breakpoint ({pol.breakpoints[0][0]:g})")
    return "; ".join(reasons) or "see the standard's rules (`nagar standards`)."


@app.command()
def standards() -> None:
    """List the AQI standards and where their tables come from."""
    from nagar.air.service import standards as list_std

    t = Table()
    t.add_column("id")
    t.add_column("name")
    t.add_column("source")
    for s in list_std(Settings.from_env()):
        t.add_row(s.id, s.name, s.source)
    console.print(t)


@app.command()
def init(db: Optional[Path] = DbOpt) -> None:
    """Create a new, empty database (tables only; nothing if it exists). Then: `nagar admin create-user`."""
    from nagar.store import open_store

    settings = _settings(db)
    if settings.database_url:
        where, existed = "the PostgreSQL database of NAGAR_DATABASE_URL", True
    else:
        where, existed = str(Path(settings.db).resolve()), Path(settings.db).exists()
    try:
        open_store(settings).close()  # creates the file and applies every migration
    except NagarError as exc:
        _fail(exc)
    if existed:
        console.print(f"Database {where} is ready (it existed; pending migrations, if any, are applied).")
    else:
        console.print(f"Created an empty Nagar database at [bold]{where}[/].")
    extra = f" --db {settings.db}" if db is not None else ""
    console.print("Next: a platform admin, then the server:\n"
                  f"  nagar admin create-user admin --platform-admin{extra}\n"
                  f"  nagar serve{extra}\n"
                  f"Cities and stations: `nagar cities add --help`, `nagar stations add --help`, or the API (/docs).")


cities_app = typer.Typer(help="Cities: list them (`nagar cities`) or add one (`nagar cities add`)",
                         add_completion=False)
stations_app = typer.Typer(help="Stations: list them (`nagar stations`) or add one (`nagar stations add`)",
                           add_completion=False)


def _validated(model, **fields):
    """``model(**fields)`` or a clean error naming the option (``--lat``) and the reason, not a traceback."""
    from pydantic import ValidationError

    try:
        return model(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "--" + str(first["loc"][0]).replace("_", "-") if first["loc"] else "input"
        reason = first["msg"].removeprefix("Value error, ")
        raise NagarError(reason, field=name) from None


@cities_app.callback(invoke_without_command=True)
def cities(ctx: typer.Context, db: Optional[Path] = DbOpt) -> None:
    """List registered cities and their stations (or a subcommand: `add`)."""
    if ctx.invoked_subcommand is not None:
        return
    from nagar.store import open_store

    try:
        store = open_store(_settings(db, must_exist=True))
    except NagarError as exc:
        _fail(exc)
    t = Table()
    for c in ("id", "name", "country", "timezone", "standard", "open data", "stations"):
        t.add_column(c)
    for c in store.list_cities():
        t.add_row(c["id"], c["name"], c["country"], c["timezone"], c["standard"] or "",
                  "yes" if c.get("open_data") else "no", str(len(store.list_stations(city=c["id"]))))
    console.print(t)
    if not store.list_cities():
        console.print("No cities yet: add one with `nagar cities add --help`.")
    store.close()


@cities_app.command("add")
def cities_add(
    city_id: str = typer.Argument(..., metavar="ID", help="Short id used in URLs and files, e.g. dhaka-north"),
    name: str = typer.Option(..., help="Display name, e.g. 'Dhaka North'"),
    country: str = typer.Option(..., help="ISO 3166-1 alpha-2 country code, e.g. BD"),
    timezone: str = typer.Option(..., "--timezone", help="IANA time zone, e.g. Asia/Dhaka"),
    lat: float = typer.Option(..., help="Latitude of the centre [degrees]"),
    lon: float = typer.Option(..., help="Longitude of the centre [degrees]"),
    standard: Optional[str] = typer.Option(None, help="AQI standard id (`nagar standards`; default: the server's)"),
    open_data: bool = typer.Option(False, "--open-data/--private",
                                   help="Publish as open data (anyone reads it without signing in)"),
    db: Optional[Path] = DbOpt,
) -> None:
    """Register a city (as `POST /api/v1/cities` does; audited as done by `cli`)."""
    from nagar.registry import service
    from nagar.registry.models import CityCreate
    from nagar.security import audit
    from nagar.store import open_store

    try:
        city = _validated(CityCreate, id=city_id, name=name, country=country, timezone=timezone, lat=lat, lon=lon,
                          standard=standard, open_data=open_data)
        settings = _settings(db)
        store = open_store(settings)
        try:
            row = service.create_city(store, city=city, settings=settings)
            audit.record(store, actor="cli", action="city.create", city=city.id, target=f"city:{city.id}",
                         details=city.model_dump())
        finally:
            store.close()
    except NagarError as exc:
        _fail(exc)
    console.print(f"Created city [bold]{row['id']}[/] ({row['name']}, {row['country']}, {row['timezone']}, "
                  f"AQI standard {row['standard']}, {'open data' if row.get('open_data') else 'private'}). "
                  f"Next: `nagar stations add STATION-ID --city {row['id']} ...`")


@stations_app.callback(invoke_without_command=True)
def stations(ctx: typer.Context, city: Optional[str] = typer.Option(None, help="Only this city's stations"),
             db: Optional[Path] = DbOpt) -> None:
    """List stations (or a subcommand: `add`)."""
    if ctx.invoked_subcommand is not None:
        return
    from nagar.registry import service
    from nagar.store import open_store

    try:
        store = open_store(_settings(db, must_exist=True))
        try:
            rows = service.list_stations(store, city=city)
        finally:
            store.close()
    except NagarError as exc:
        _fail(exc)
    t = Table()
    for c in ("id", "city", "name", "lat", "lon", "parameters"):
        t.add_column(c)
    for r in rows:
        t.add_row(r["id"], r["city"], r["name"], f"{r['lat']:.5f}", f"{r['lon']:.5f}", ", ".join(r["parameters"]))
    console.print(t)
    if not rows:
        console.print("No stations yet: add one with `nagar stations add --help`.")


@stations_app.command("add")
def stations_add(
    station_id: str = typer.Argument(..., metavar="ID", help="Station id, unique across cities, e.g. dn-mirpur-10"),
    city: str = typer.Option(..., help="Id of the city it belongs to (`nagar cities`)"),
    name: str = typer.Option(..., help="Display name"),
    lat: float = typer.Option(..., help="Latitude [degrees]"),
    lon: float = typer.Option(..., help="Longitude [degrees]"),
    parameters: str = typer.Option("", help="What it measures, comma-separated, e.g. pm25,pm10,no2"),
    source: Optional[str] = typer.Option(None, help="Where its metadata came from"),
    db: Optional[Path] = DbOpt,
) -> None:
    """Register a station (as `POST /api/v1/stations` does; audited as done by `cli`)."""
    from nagar.registry import service
    from nagar.registry.models import StationCreate
    from nagar.security import audit
    from nagar.store import open_store

    try:
        station = _validated(StationCreate, id=station_id, city=city, name=name, lat=lat, lon=lon,
                             parameters=[p.strip() for p in parameters.split(",") if p.strip()], source=source)
        store = open_store(_settings(db))
        try:
            if store.get_city(station.city) is None:
                raise NagarError(f"no city {station.city!r}: `nagar cities` lists them, `nagar cities add` "
                                 "creates one", field="city")
            row = service.create_station(store, station=station)
            audit.record(store, actor="cli", action="station.create", city=station.city,
                         target=f"station:{station.id}", details=station.model_dump())
        finally:
            store.close()
    except NagarError as exc:
        _fail(exc)
    params = ", ".join(row["parameters"]) or "no parameters listed"
    console.print(f"Created station [bold]{row['id']}[/] in {row['city']} ({row['name']}, {row['lat']:g}, "
                  f"{row['lon']:g}; {params}).")


@admin_app.command("create-user")
def create_user(
    username: str = typer.Argument(..., help="Login name"),
    db: Optional[Path] = DbOpt,
    platform_admin: bool = typer.Option(False, "--platform-admin", help="Every right in every city"),
    password: Optional[str] = typer.Option(None, help="Password (default: asked for, not echoed; or from stdin)"),
    password_stdin: bool = typer.Option(False, "--password-stdin",
                                        help="Read the password from the first line of standard input (the "
                                             "default when standard input is not a terminal)"),
) -> None:
    """Create an account (the first platform admin is bootstrapped this way)."""
    from nagar.security.service import check_username, create_user as _create
    from nagar.store import open_store

    try:
        check_username(username)
        if password is None and (password_stdin or not sys.stdin.isatty()):
            password = sys.stdin.readline().rstrip("\r\n")
            if not password:
                raise NagarError("no password on standard input: pipe one in (e.g. `nagar admin create-user "
                                 f"{username} --password-stdin < file`), or run the command in a terminal to be "
                                 "asked for it", field="password")
        elif password is None:
            password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        store = open_store(_settings(db))
        user = _create(store, username=username, password=password, platform_admin=platform_admin, actor="cli")
        store.close()
    except NagarError as exc:
        _fail(exc)
    console.print(f"Created user [bold]{user['username']}[/]" + (" (platform admin)" if platform_admin else ""))


@admin_app.command("grant")
def grant(
    username: str = typer.Argument(...),
    city: str = typer.Argument(...),
    role: str = typer.Argument(..., help="analyst, operator, city_admin, or none to remove"),
    db: Optional[Path] = DbOpt,
) -> None:
    """Give a user a role in a city (or remove it with `none`)."""
    from nagar.security import audit
    from nagar.security.permissions import Role
    from nagar.store import open_store

    try:
        r = None if role == "none" else Role(role)
    except ValueError:
        _fail(NagarError(f"role must be one of analyst, operator, city_admin, none; got {role!r}", field="role"))
    try:
        store = open_store(_settings(db))
        user = store.get_user(username=username)
        if user is None:
            raise NagarError(f"no user {username!r}", field="username")
        if store.get_city(city) is None:
            raise NagarError(f"no city {city!r}", field="city")
        store.set_grant(user_id=user["id"], city=city, role=r.value if r else None)
        audit.record(store, actor="cli", action="role.grant" if r else "role.revoke", city=city,
                     target=f"user:{username}", details={"role": r.value if r else None})
        store.close()
    except NagarError as exc:
        _fail(exc)
    console.print(f"{username}: {r.value if r else 'no role'} in {city}")


def _mount_subcommands() -> None:
    from nagar.security.audit_cli import app as audit_app

    from nagar.climate.cli import app as climate_app
    from nagar.funding.cli import app as funding_app
    from nagar.lake.cli import app as lake_app
    from nagar.waste.cli import app as ewaste_app
    from nagar.opendata.cli import app as opendata_app
    from nagar.requests.cli import app as requests_app
    from nagar.ingest.mqtt_cli import app as mqtt_app
    from nagar.water.cli import app as water_app
    from nagar.alerts.cli import app as alerts_app
    from nagar.ngsild.cli import app as ngsild_app

    app.add_typer(cities_app, name="cities", cls=_GuardedGroup)
    app.add_typer(stations_app, name="stations", cls=_GuardedGroup)
    app.add_typer(admin_app, name="admin", cls=_GuardedGroup)
    app.add_typer(audit_app, name="audit", cls=_GuardedGroup)
    app.add_typer(climate_app, name="inventory", cls=_GuardedGroup)
    app.add_typer(mqtt_app, name="ingest-mqtt", cls=_GuardedGroup)
    app.add_typer(funding_app, name="plan", cls=_GuardedGroup)
    app.add_typer(lake_app, name="lake", cls=_GuardedGroup)
    app.add_typer(ewaste_app, name="ewaste", cls=_GuardedGroup)
    app.add_typer(water_app, name="water", cls=_GuardedGroup)
    app.add_typer(alerts_app, name="alerts", cls=_GuardedGroup)
    from nagar.quality.cli import app as quality_app

    app.add_typer(quality_app, name="quality", cls=_GuardedGroup)
    from nagar.forecast.cli import app as forecast_app

    app.add_typer(forecast_app, name="forecast", cls=_GuardedGroup)
    app.add_typer(requests_app, name="requests", cls=_GuardedGroup)
    app.add_typer(opendata_app, name="opendata", cls=_GuardedGroup)
    app.add_typer(ngsild_app, name="ngsild", cls=_GuardedGroup)


_mount_subcommands()


if __name__ == "__main__":  # pragma: no cover
    app()
