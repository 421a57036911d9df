"""``nagar ingest-mqtt``: subscribe to an MQTT broker and store readings; list dead letters.

Mounted by :mod:`nagar.cli` as a sub-command; it must not import :mod:`nagar.cli` (circular import), so
it keeps its own consoles and ``--db`` option with the same meaning. Also runnable on its own:
``python -m nagar.ingest.mqtt_cli run ...``.

With the embedded DuckDB store the subscriber is the file's only writer: run it instead of, not
beside, another process writing the same file (``nagar serve`` included). With PostgreSQL
(``NAGAR_DATABASE_URL``) it runs beside the API.
Exit codes: 0 stopped cleanly (SIGINT/SIGTERM or ``--idle-exit``), 2 the command could not run.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from nagar.core.errors import NagarError
from nagar.core.settings import Settings

app = typer.Typer(help="MQTT ingestion (QoS 1, acknowledged after the readings are durable)",
                  no_args_is_help=True, add_completion=False)
console = Console()
err = Console(stderr=True)

DbOpt = typer.Option(None, "--db", help="DuckDB file (default: $NAGAR_DB or data/nagar.duckdb)")


def _fail(exc: Exception) -> None:
    msg = exc.message if isinstance(exc, NagarError) else str(exc)
    field = f" ({exc.field})" if isinstance(exc, NagarError) and exc.field else ""
    err.print(f"[bold red]error{field}:[/] {escape(msg)}", soft_wrap=True)
    raise typer.Exit(code=2)


def open_mqtt_store(settings: Settings):
    """The store :func:`nagar.store.open_store` opens, with the MQTT tables' methods: a store class without
    the :class:`~nagar.store.mqtt_tables.MqttTables` mixin gets it here."""
    from nagar.store import open_store
    from nagar.store.mqtt_tables import MqttTables

    store = open_store(settings)
    if isinstance(store, MqttTables):
        return store
    cls = type(store)
    store.close()
    mixed = type(f"Mqtt{cls.__name__}", (MqttTables, cls), {})
    url = getattr(settings, "database_url", None)
    return mixed(url) if url else mixed(settings.db)


@app.command()
def run(
    db: Optional[Path] = DbOpt,
    host: Optional[str] = typer.Option(None, help="Broker address (default $NAGAR_MQTT_HOST or 127.0.0.1)"),
    port: Optional[int] = typer.Option(None, help="Broker port (default 1883)"),
    client_id: Optional[str] = typer.Option(None, help="Fixed client id: the broker keeps its session and "
                                                       "unacknowledged messages (default nagar-ingest)"),
    prefix: Optional[str] = typer.Option(None, help="First topic level (default nagar)"),
    city: Optional[List[str]] = typer.Option(None, help="Subscribe to this city's topics only (repeatable)"),
    username: Optional[str] = typer.Option(None, help="Broker user"),
    password: Optional[str] = typer.Option(None, envvar="NAGAR_MQTT_PASSWORD",
                                           help="Broker password (better: $NAGAR_MQTT_PASSWORD)"),
    tls: bool = typer.Option(False, "--tls", help="Connect with TLS"),
    tls_ca: Optional[Path] = typer.Option(None, help="CA file for TLS (default: the system's)"),
    mqtt5: bool = typer.Option(False, "--mqtt5", help="Speak MQTT 5 (user-property signatures); default 3.1.1"),
    batch_messages: Optional[int] = typer.Option(None, help="Most messages per store write (default 10000)"),
    batch_ms: Optional[int] = typer.Option(None, help="Longest wait before a write, in ms (default 500)"),
    require_signature: bool = typer.Option(False, "--require-signature",
                                           help="Dead-letter messages not signed with a device key"),
    signature_max_age: Optional[int] = typer.Option(None, help="Oldest signed message accepted, in s "
                                                                "(default: the HTTP skew, 300)"),
    idle_exit: Optional[float] = typer.Option(None, help="Stop once no message arrived for this many s "
                                                         "(drain the broker's queue and exit)"),
    json_lines: bool = typer.Option(False, "--json-lines", help="Print each write's counts as a JSON line"),
    stats_every: float = typer.Option(10.0, help="Print running totals every this many s (stderr)"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log connection events"),
) -> None:
    """Subscribe with QoS 1 and store readings, acknowledging each message after it is durable.

    Topics: <prefix>/<city>/<station>/<parameter> (a number or {"time","value","unit"}),
    <prefix>/<city>/batch (Nagar rows or FIWARE AirQualityObserved entities) and
    <prefix>/<city>/<station>/AirQualityObserved. Refused messages and rows go to the dead-letter table
    (`nagar ingest-mqtt dead-letters`).
    """
    from nagar.ingest.mqtt import MqttConfig, MqttIngestor
    from nagar.security.tokens import resolve_secret

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env(db=db)
    try:
        cfg = MqttConfig.from_env(
            host=host, port=port, client_id=client_id, prefix=prefix, cities=tuple(city) if city else None,
            username=username, password=password, tls=tls or None, tls_ca=str(tls_ca) if tls_ca else None,
            protocol="5" if mqtt5 else None, batch_messages=batch_messages, batch_ms=batch_ms,
            require_signature=require_signature or None, signature_max_age_s=signature_max_age)
        store = open_mqtt_store(settings)
        secret = resolve_secret(settings)
    except (NagarError, ValueError, TypeError) as exc:
        _fail(exc)

    def on_flush(counts: dict) -> None:
        if json_lines:
            sys.stdout.write(json.dumps(counts) + "\n")
            sys.stdout.flush()

    from nagar.reactions import Reactions  # the composition root wires alerts and fault detection, not ingest

    reactions = Reactions(store, settings)  # alert rules and fault detection as the messages are written
    ing = MqttIngestor(store, settings=settings, config=cfg, secret_key=secret, on_flush=on_flush, actor="cli")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    def report() -> None:
        last = time.monotonic()
        while not stop.wait(0.5):
            if time.monotonic() - last >= stats_every:
                last = time.monotonic()
                s = ing.stats
                err.print(f"messages {s.messages:,} (duplicates {s.duplicates:,}), observations inserted "
                          f"{s.inserted:,} updated {s.updated:,} rejected {s.rejected:,}, dead letters "
                          f"{s.dead_letters:,}, {'connected' if ing.connected.is_set() else 'reconnecting'}")

    if not json_lines:
        err.print(f"Subscribing to {', '.join(cfg.topics())} on {cfg.host}:{cfg.port} as {cfg.client_id}; "
                  f"store {settings.db}. Ctrl-C stops.")
    threading.Thread(target=report, daemon=True).start()
    t0 = time.monotonic()
    try:
        stats = ing.run(until=stop, idle_exit_s=idle_exit)
    finally:
        stop.set()
        reactions.stop()
        store.close()
    if json_lines:
        return
    secs = time.monotonic() - t0
    t = Table(title="MQTT ingestion", show_header=False)
    for k, v in (("messages", stats.messages), ("duplicates (redelivered, already stored)", stats.duplicates),
                 ("observations", stats.observations), ("inserted", stats.inserted), ("updated", stats.updated),
                 ("rejected", stats.rejected), ("dead letters", stats.dead_letters),
                 ("store writes", stats.flushes), ("connections", stats.connects)):
        t.add_row(k, f"{v:,}")
    t.add_row("time", f"{secs:.1f} s ({stats.messages / secs if secs else 0:,.0f} messages/s)")
    console.print(t)


@app.command("dead-letters")
def dead_letters(
    db: Optional[Path] = DbOpt,
    limit: int = typer.Option(50, help="How many (newest first)"),
    hours: Optional[float] = typer.Option(None, help="Only those of the last HOURS"),
    topic: Optional[str] = typer.Option(None, help="Only topics starting with this"),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON"),
) -> None:
    """List messages and rows the subscriber could not store, with the reason."""
    settings = Settings.from_env(db=db)
    if not Path(str(settings.db)).exists():
        _fail(NagarError(f"no database at {settings.db}", field="db"))
    try:
        store = open_mqtt_store(settings)
        since = datetime.now(timezone.utc) - timedelta(hours=hours) if hours else None
        rows = store.mqtt_dead_letters(limit=limit, since=since, topic_prefix=topic)
        total = store.mqtt_dead_letter_count(since=since)
        store.close()
    except NagarError as exc:
        _fail(exc)
    if as_json:
        console.print_json(json.dumps({"total": total, "items": rows}, default=str))
        return
    t = Table(title=f"Dead letters: {len(rows)} of {total:,}")
    for c in ("time (UTC)", "topic", "item", "field", "reason", "payload"):
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(f"{r['time']:%Y-%m-%d %H:%M:%S}", escape(r["topic"]), "" if r["item"] is None else str(r["item"]),
                  r["field"] or "", escape(r["reason"]), escape(r["payload"][:120]))
    console.print(t)


if __name__ == "__main__":  # pragma: no cover
    app()
