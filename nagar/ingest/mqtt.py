"""MQTT ingestion: subscribe to a broker with QoS 1, store observations durably, then acknowledge.

Topics (``prefix`` defaults to ``nagar``)
-----------------------------------------
``nagar/<city>/<station>/<parameter>``
    One reading. Payload: a bare number (``41.5``: the value in the parameter's canonical unit,
    stamped with the time it was received) or a JSON object ``{"time": "2025-01-01T06:00:00Z",
    "value": 41.5, "unit": "µg/m³", "flag": "valid"}`` (``unit`` defaults to the canonical unit,
    ``time`` to the time received, ``flag`` to valid).
``nagar/<city>/batch``
    JSON: a list of Nagar observation rows (``{"station", "parameter", "time", "value", "unit"}``, as
    ``POST /api/v1/observations`` takes), or ``{"observations": [...]}``, or a FIWARE
    ``AirQualityObserved`` entity, or a list mixing rows and entities (an entity names its station by
    ``refDevice``; see :mod:`nagar.ingest.smartdatamodels`).
``nagar/<city>/<station>/AirQualityObserved``
    One AirQualityObserved entity (or a list) for that station (the topic names the station).

The topic's city must be the station's registered city, for every row; rows and messages that break
this, or fail validation, go to the dead-letter table. Nothing stops the subscriber.

Durability and acknowledgement
------------------------------
The client subscribes with QoS 1, a fixed client id and a persistent session (MQTT 3.1.1
``clean_session=False``; MQTT 5 ``clean_start=False`` with a session expiry), and acknowledges
manually (paho ``manual_ack=True``). A writer thread collects up to ``batch_messages`` messages or
``batch_ms`` milliseconds (or stops early when nothing arrives for ``idle_ms``), then:

1. validates all their rows in one :func:`nagar.ingest.service.ingest_rows` call, which writes the good
   rows with the store's single upsert (durable when it returns: DuckDB syncs its WAL on commit);
2. records, in one transaction, the messages' dedup keys, the device nonces they used, the dead
   letters and the write's counts (:meth:`MqttTables.mqtt_record`);
3. only then sends the PUBACKs, in arrival order.

A crash before 3 loses nothing: the broker redelivers every unacknowledged message to the same
client id. A message acknowledged was durable first.

Counting a redelivered message once
-----------------------------------
Each message has a dedup key: ``sig:<key id>:<nonce>`` for a signed message, else the BLAKE2b-128
hash of topic and payload (identical bytes on the same topic are the same message). Keys are
recorded in step 2. A message the broker redelivers carries the MQTT DUP flag; for those the key is
looked up first and, if recorded, the message is acknowledged without being written again and
counted as a duplicate. A crash between steps 1 and 2 leaves no key:
the redelivered message is written again, which the store's upsert turns into updates of the same
rows, and is counted then, once. Hence, over any number of crashes, ``sum(messages)`` in
``mqtt_flushes`` counts each message once, the table holds one row per (station, parameter, time),
and ``sum(inserted) <= rows <= sum(inserted) + sum(updated)``.
Keys are kept ``dedup_window_s`` (default 1 h; at least twice the signature age limit). Messages
written while their connection dropped (a broker restart) are not acknowledged on the new connection;
their (packet id, content) is remembered in memory, and the broker's redelivery (same packet id, DUP)
is acknowledged without a second write.
A bare-number payload (or a JSON reading without ``time``) is stamped with its arrival time and has no
key: after a *crash* of the subscriber its redelivery is stored again, at its new arrival time
(at-least-once). Devices that need exactly-once storage send ``time``.

Reconnection: paho reconnects by itself with exponential back-off (``reconnect_min_s`` doubling up
to ``reconnect_max_s``), also when the broker is not up at start; the persistent session keeps what
was published meanwhile (as far as the broker's queue limit allows).

Device signatures
-----------------
A message may be signed with a device key exactly like an HTTP device push
(:mod:`nagar.security.devices`: hex HMAC-SHA256 over ``timestamp + "\\n" + nonce + "\\n" + body``
with the device secret), carried either

* in a JSON envelope: ``{"key": "<key id>", "timestamp": <unix s>, "nonce": "<8-128 of
  [A-Za-z0-9_-]>", "signature": "<hex>", "body": "<the payload as a string>"}`` (the signed bytes
  are ``body`` encoded as UTF-8; the body is then read as above), or
* with MQTT 5, as user properties ``x-nagar-key``, ``x-nagar-timestamp``, ``x-nagar-nonce`` and
  ``x-nagar-signature`` over the raw payload.

A signed message may only write its device's station (and must be on that station's city's
topics). With ``require_signature`` unsigned messages are dead-lettered. Checks mirror the HTTP path
(unknown/revoked key, timestamp skew, nonce form, signature, replay), with one difference: the nonce
is recorded in step 2, after the observations are durable, so that a crash never turns the broker's
redelivery into a "replay" (a signed message seen before is a duplicate with DUP, a replay without).
A message whose timestamp is older than ``signature_max_age_s`` (default: the HTTP skew, 300 s) is
refused; raise it if the broker may hold messages longer while the subscriber is down (replays are
then also looked up among the dedup keys, which are kept at least twice that long). Nonces go to the
shared ``nonces`` table, so an MQTT message cannot be replayed over HTTP or the other way round.

Throughput
----------
paho handles every packet on its own: three ``recv`` calls, a message object, two locks and a
``select`` each. :class:`_Client` gives paho a buffered socket (the ``recv``/``pending`` interface
paho's own SSL and WebSocket sockets have) and hands the whole MQTT 3.1.1 QoS 0/1 PUBLISH packets
found in the buffer to the subscriber in one call, leaving every other packet to paho (with
``fast_paths=False``, or another paho, only paho's public API is used). With ``coalesce_acks`` the
PUBACKs of a write go out as one buffer instead of one ``client.ack(mid, qos)`` each: the same
packets in the same order. Each ``loop_read`` reads a bounded amount, so PUBACKs are written between
reads however much the broker has queued, and reading pauses while ``max_pending`` messages wait for
the writer (back-pressure through TCP; with MQTT 5 also the Receive Maximum). MQTT 3.1.1 is the
faster protocol here (paho builds a properties object for every MQTT 5 message).

Broker settings that matter: the broker must let about ``batch_messages`` QoS 1 messages be in
flight to this client (mosquitto: ``max_inflight_messages 0``, as the tests use), or each write
carries only that many; and ``max_queued_messages`` must hold what arrives while the subscriber is
down (mosquitto's default, 1000, drops the rest at the broker).

Deployment: with the embedded DuckDB store the subscriber is the file's writer; run it in the process
of ``nagar serve`` (on its store) or on its own, not beside another process writing the same file.
With PostgreSQL (``NAGAR_DATABASE_URL``) it may run as a process of its own beside the API. No audit entry is
written per message (the ``mqtt_flushes`` table is the record); start and stop are audited.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import queue
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from nagar.core.errors import NagarError, StoreError
from nagar.core.settings import Settings
from nagar.core.units import PARAMETERS, normalise_parameter

from .smartdatamodels import airquality_observed_rows, is_air_quality_observed

log = logging.getLogger("nagar.ingest.mqtt")

_NONCE = re.compile(r"^[A-Za-z0-9_-]{8,128}$")


# configuration ------------------------------------------------------------------------------------
@dataclass
class MqttConfig:
    """How the subscriber connects and batches. Every field can be set as ``NAGAR_MQTT_<FIELD>``."""

    host: str = "127.0.0.1"
    """Broker address."""
    port: int = 1883
    """Broker port (8883 is the usual TLS port)."""
    client_id: str = "nagar-ingest"
    """Fixed client id: the broker keeps this id's session (and unacknowledged messages) across restarts."""
    prefix: str = "nagar"
    """First topic level(s)."""
    cities: tuple[str, ...] = ()
    """Subscribe only to these cities' topics; empty: ``<prefix>/#``."""
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    """Connect with TLS (system CA store unless ``tls_ca`` names a CA file)."""
    tls_ca: str | None = None
    protocol: str = "3.1.1"
    """``3.1.1`` (faster with paho) or ``5`` (needed for user-property signatures)."""
    session_expiry_s: int = 7 * 86400
    """MQTT 5 session expiry; MQTT 3.1.1 persistent sessions last until the broker expires them."""
    keepalive_s: int = 30
    batch_messages: int = 10_000
    """Most messages per store write."""
    batch_rows: int = 200_000
    """Most observation rows per store write (batch messages can carry many)."""
    batch_ms: int = 500
    """Longest wait from a write's first message to the write [ms]."""
    idle_ms: int = 20
    """Write early when no message arrived for this long [ms]."""
    reconnect_min_s: float = 0.5
    """First reconnection delay; doubles on each failure up to ``reconnect_max_s``."""
    reconnect_max_s: float = 60.0
    require_signature: bool = False
    signature_max_age_s: int | None = None
    """Oldest signed message accepted [s] (default: ``Settings.device_max_skew_s``)."""
    dedup_window_s: int = 3600
    """How long dedup keys are kept [s]."""
    payload_keep_bytes: int = 2048
    """Bytes of a dead-lettered payload kept."""
    max_pending: int = 30_000
    """Most messages received but not yet taken by the writer; beyond it the network thread stops
    reading (TCP back-pressure to the broker). Also the MQTT 5 Receive Maximum (at most 65535)."""
    coalesce_acks: bool = True
    """Send a write's PUBACKs as one buffer (else one ``client.ack`` each)."""
    fast_paths: bool = True
    """Buffered reads and whole-PUBLISH parsing on paho 2.x (see the module docstring)."""

    @classmethod
    def from_env(cls, **overrides: Any) -> "MqttConfig":
        values: dict[str, Any] = {}
        for name, f in cls.__dataclass_fields__.items():
            env = os.environ.get(f"NAGAR_MQTT_{name.upper()}")
            if env is None or env == "":
                continue
            kind = str(f.type)
            if "tuple" in kind:
                values[name] = tuple(x.strip() for x in env.split(",") if x.strip())
            elif "bool" in kind:
                values[name] = env.strip().lower() in ("1", "true", "yes", "on")
            elif "float" in kind:
                values[name] = float(env)
            elif "int" in kind:
                values[name] = int(env)
            else:
                values[name] = env
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def topics(self) -> list[str]:
        if self.cities:
            return [f"{self.prefix}/{c}/#" for c in self.cities]
        return [f"{self.prefix}/#"]


@dataclass
class MqttStats:
    """Running totals of one subscriber (the durable record is the ``mqtt_flushes`` table)."""

    messages: int = 0
    """Messages handled (stored, partly stored or dead-lettered), each counted once."""
    duplicates: int = 0
    """Redelivered messages already durable: acknowledged, not written again."""
    observations: int = 0
    inserted: int = 0
    updated: int = 0
    rejected: int = 0
    """Observation rows refused (each has a dead letter)."""
    dead_letters: int = 0
    flushes: int = 0
    acked: int = 0
    connects: int = 0
    disconnects: int = 0
    store_retries: int = 0

    def add(self, other: dict) -> None:
        for k, v in other.items():
            if hasattr(self, k) and isinstance(v, int):
                setattr(self, k, getattr(self, k) + v)


# decoding (pure) ----------------------------------------------------------------------------------
@dataclass
class Decoded:
    """One MQTT message turned into Nagar rows (not yet checked against the registry)."""

    topic: str
    payload: bytes
    kind: str = "invalid"
    """``single``, ``batch``, ``entity`` or ``invalid``."""
    city: str | None = None
    station: str | None = None
    """The topic's station (single and entity topics)."""
    rows: list[dict] = field(default_factory=list)
    items: list[int | None] = field(default_factory=list)
    """Per row: its index in the message (None for a single reading)."""
    sources: list[Any] = field(default_factory=list)
    """Per row: the JSON object it came from (kept in its dead letter)."""
    item_sources: dict[int, Any] = field(default_factory=dict)
    """Item index -> the row or entity at that index of a batch message."""
    errors: list[tuple[int | None, str, str]] = field(default_factory=list)
    """(item, field, reason); item None: the whole message is refused."""
    key: str | None = None
    signature: dict | None = None
    """key, timestamp, nonce, signature and body (the signed bytes) of a signed message."""

    @property
    def refused(self) -> bool:
        return any(i is None for i, _, _ in self.errors)

    def fail(self, reason: str, fld: str = "payload") -> "Decoded":
        """Refuse the whole message (one dead letter with the payload, instead of any per-row ones)."""
        self.errors = [e for e in self.errors if e[0] is None] + [(None, fld, reason)]
        self.rows, self.items, self.sources, self.item_sources = [], [], [], {}
        return self


def content_key(topic: str, payload: bytes) -> str:
    """Dedup key of an unsigned message: BLAKE2b-128 of topic, a NUL byte and the payload, in hex."""
    return hashlib.blake2b(topic.encode() + b"\0" + payload, digest_size=16).hexdigest()


_json_decode = json.JSONDecoder().decode


def _loads(b: bytes) -> Any:
    """JSON from UTF-8 bytes (raises ValueError, including for bytes that are not UTF-8)."""
    return _json_decode(b.decode("utf-8"))


_PREFIXES: dict[str, list[str]] = {}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def decode_message(topic: str, payload: bytes, *, received: float, prefix: str = "nagar",
                   user_properties: list[tuple[str, str]] | None = None, max_rows: int = 50_000) -> Decoded:
    """Parse one message by its topic (see the module docstring). ``received`` is Unix time [s]."""
    d = Decoded(topic=topic, payload=payload)
    pre = _PREFIXES.get(prefix)
    if pre is None:
        pre = _PREFIXES.setdefault(prefix, prefix.split("/"))
    parts = topic.split("/")
    if parts[:len(pre)] != pre:
        d.key = content_key(topic, payload)
        return d.fail(f"topic is not under '{prefix}/'", "topic")
    rest = parts[len(pre):]
    if len(rest) == 2 and rest[1] == "batch":
        d.kind, d.city = "batch", rest[0]
    elif len(rest) == 3:
        d.city, d.station = rest[0], rest[1]
        d.kind = "entity" if rest[2].lower() == "airqualityobserved" else "single"
    else:
        d.key = content_key(topic, payload)
        return d.fail(f"topic must be {prefix}/<city>/<station>/<parameter> or {prefix}/<city>/batch", "topic")
    if not d.city or (d.kind != "batch" and not d.station) or (d.kind == "single" and not rest[2]):
        d.key = content_key(topic, payload)
        return d.fail("topic has an empty level", "topic")

    body, parsed = payload, None
    props = {k.lower(): v for k, v in user_properties} if user_properties else {}
    if "x-nagar-signature" in props:
        d.signature = {"key": props.get("x-nagar-key"), "timestamp": props.get("x-nagar-timestamp"),
                       "nonce": props.get("x-nagar-nonce"), "signature": props.get("x-nagar-signature"),
                       "body": payload}
    elif payload.lstrip()[:1] == b"{" and b'"signature"' in payload:
        try:
            obj = _loads(payload)
        except (ValueError, UnicodeDecodeError) as exc:
            d.key = content_key(topic, payload)
            return d.fail(f"payload is not valid JSON: {exc}")
        if isinstance(obj, dict) and "signature" in obj and "body" in obj:
            if not isinstance(obj["body"], str):
                d.key = content_key(topic, payload)
                return d.fail("a signed envelope's body must be a string (the signed text)", "body")
            body = obj["body"].encode("utf-8")
            d.signature = {**{k: obj.get(k) for k in ("key", "timestamp", "nonce", "signature")}, "body": body}
        else:
            parsed = obj
    if d.signature is not None:
        d.key = f"sig:{d.signature.get('key')}:{d.signature.get('nonce')}"
    else:
        d.key = content_key(topic, payload)

    if d.kind == "single":
        _decode_single(d, body, parsed, parameter=rest[2], received=received)
        return d
    if parsed is None:
        try:
            parsed = _loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            return d.fail(f"payload is not valid JSON: {exc}")
    if d.kind == "entity":
        ents = parsed if isinstance(parsed, list) else [parsed]
        for i, e in enumerate(ents):
            d.item_sources[i] = e
            _add_entity(d, i, e, station=d.station)
    else:
        if isinstance(parsed, dict) and not is_air_quality_observed(parsed):
            if not isinstance(parsed.get("observations"), list):
                return d.fail('batch payload must be a list of observations, {"observations": [...]}, or '
                              "AirQualityObserved entities")
            parsed = parsed["observations"]
        items = parsed if isinstance(parsed, list) else [parsed]
        for i, r in enumerate(items):
            d.item_sources[i] = r
            if is_air_quality_observed(r):
                _add_entity(d, i, r, station=None)
            elif isinstance(r, dict):
                d.rows.append(r)
                d.items.append(i)
                d.sources.append(r)
            else:
                d.errors.append((i, "observations", "row must be a JSON object"))
    if len(d.rows) > max_rows:
        return d.fail(f"message has {len(d.rows)} rows; the limit is {max_rows} per message")
    return d


def _decode_single(d: Decoded, body: bytes, parsed: Any, *, parameter: str, received: float) -> None:
    s = body.strip()
    t = unit = flag = None
    timed = False
    if parsed is not None or s[:1] == b"{":
        if parsed is None:
            try:
                parsed = _loads(s)
            except (ValueError, UnicodeDecodeError) as exc:
                d.fail(f"payload is not valid JSON: {exc}")
                return
        if not isinstance(parsed, dict):
            d.fail("payload must be a number or a JSON object")
            return
        for k, want in (("station", d.station), ("parameter", parameter)):
            got = parsed.get(k, want)
            if got != want and (k == "station" or normalise_parameter(str(got)) != normalise_parameter(want)):
                d.fail(f"payload names {k} {got!r} but the topic says {want!r}", k)
                return
        if "value" not in parsed:
            d.fail('JSON reading needs "value"', "value")
            return
        value, t, unit, flag = parsed.get("value"), parsed.get("time"), parsed.get("unit"), parsed.get("flag")
        timed = t is not None
    else:
        try:
            value = float(s)
        except ValueError:
            d.fail("payload is neither a number nor a JSON object", "value")
            return
    if not timed:
        t = _iso(received)
        if d.signature is None:
            d.key = None  # stamped on arrival: a redelivery is a new reading (see module docstring)
    if unit is None:
        p = normalise_parameter(parameter)
        unit = PARAMETERS[p].unit if p else None
    row = {"station": d.station, "parameter": parameter, "time": t, "value": value, "unit": unit}
    if flag is not None:
        row["flag"] = flag
    d.rows.append(row)
    d.items.append(None)
    d.sources.append(None)


def _add_entity(d: Decoded, i: int, entity: Any, *, station: str | None) -> None:
    if not is_air_quality_observed(entity):
        d.errors.append((i, "type", "expected an AirQualityObserved entity"))
        return
    res = airquality_observed_rows(entity, station=station)
    for fld, reason in res.errors:
        d.errors.append((i, fld, reason))
    for r in res.rows:
        d.rows.append(r)
        d.items.append(i)
        d.sources.append(entity)


# paho client with a buffered socket ---------------------------------------------------------------
class _BufferedSocket:
    """A socket whose ``recv`` serves from a user-space buffer filled 256 KiB at a time; ``pending``
    tells paho's loop that bytes are waiting (as for its SSL and WebSocket sockets)."""

    __slots__ = ("_sock", "_buf", "_pos")

    def __init__(self, sock: Any):
        self._sock = sock
        self._buf = b""
        self._pos = 0

    def recv(self, n: int) -> bytes:
        if self._pos >= len(self._buf):
            self._buf = self._sock.recv(262144)
            self._pos = 0
            if not self._buf:
                return b""
        p = self._pos
        out = self._buf[p:p + n]
        self._pos = p + len(out)
        return out

    def buffered(self) -> int:
        return len(self._buf) - self._pos

    def take_publishes(self, limit: int = 4096) -> list[tuple[bytes, bytes, int, int, bool]]:
        """Complete MQTT 3.1.1 QoS 0/1 PUBLISH packets at the head of the buffer, consumed, as (topic,
        payload, packet id, qos, dup). Stops at anything else (another packet type, QoS 2, a packet not
        yet whole, a malformed one), which paho then reads the usual way."""
        buf, pos, end = self._buf, self._pos, len(self._buf)
        out = []
        while pos < end and len(out) < limit:
            b0 = buf[pos]
            qos = (b0 >> 1) & 3
            if b0 >> 4 != 3 or qos > 1:
                break
            rl, mult, p = 0, 1, pos + 1
            while p < end and mult <= 128 ** 3:
                b = buf[p]
                p += 1
                rl += (b & 127) * mult
                if b < 128:
                    break
                mult *= 128
            else:
                break  # length not whole yet (or malformed): paho's path
            stop = p + rl
            if stop > end or rl < 2:
                break
            tl = (buf[p] << 8) | buf[p + 1]
            q = p + 2 + tl
            if q + (2 if qos else 0) > stop:
                break
            if qos:
                mid = (buf[q] << 8) | buf[q + 1]
                q += 2
            else:
                mid = 0
            out.append((buf[p + 2:p + 2 + tl], buf[q:stop], mid, qos, bool(b0 & 8)))
            pos = stop
        self._pos = pos
        return out

    def pending(self) -> int:
        inner = self._sock.pending() if hasattr(self._sock, "pending") else 0
        return self.buffered() + inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def _client_class(*, fast: bool = True):
    import paho.mqtt.client as mqtt

    # the fast paths use paho 2.x internals; with another paho (or fast=False) only the public API is used
    fast = fast and mqtt.__dict__.get("time_func") is not None and all(
        hasattr(mqtt.Client, a) for a in ("_create_socket", "_packet_read", "_packet_queue", "_handle_on_message"))

    class _Client(mqtt.Client):
        """paho's client with buffered reads and one-buffer PUBACKs (see the module docstring)."""

        def _create_socket(self):  # paho 2.x
            sock = super()._create_socket()
            return sock if self._transport == "websockets" else _BufferedSocket(sock)

        _fast_sink: Callable[[list], None] | None = None
        """Receives the batches of :meth:`_BufferedSocket.take_publishes` (MQTT 3.1.1 only)."""

        def _packet_read(self):
            # whole QoS 0/1 PUBLISH packets already buffered are handed over in one call; paho's
            # per-packet machinery (three recv calls, a message object, two locks, logging) is skipped.
            # For these packets (manual acknowledgement) paho would do nothing else.
            sock, sink = self._sock, self._fast_sink
            if sink is not None and self._in_packet["command"] == 0 and isinstance(sock, _BufferedSocket) \
                    and sock.buffered() > 0:
                got = sock.take_publishes()
                if got:
                    with self._msgtime_mutex:
                        self._last_bytes_received = mqtt.time_func()
                    sink(got)
                    return mqtt.MQTT_ERR_SUCCESS
            return super()._packet_read()

        def _handle_on_message(self, message) -> None:
            # paho matches every topic against message_callback_add() filters (unused here) under two
            # locks before calling on_message; call it directly
            cb = self._on_message
            if cb is not None:
                cb(self, self._userdata, message)

        _read_gate: Callable[[], bool] | None = None
        """True while the application wants no more messages (it may wait a few ms before answering)."""

        def loop_read(self, max_packets: int = 1):
            # paho's loop reads, then writes: returning after a bounded amount of reading keeps the
            # PUBACKs flowing however much the broker has queued; the gate pauses reading (back-pressure)
            # without stopping the writes
            gate = self._read_gate
            if gate is not None and gate():
                return mqtt.MQTT_ERR_SUCCESS
            rc = super().loop_read(max_packets)
            for _ in range(64):  # packets already buffered: no select() round trip each
                sock = self._sock
                if rc != mqtt.MQTT_ERR_SUCCESS or not isinstance(sock, _BufferedSocket) or sock.buffered() <= 0 \
                        or (gate is not None and gate()):
                    break
                rc = super().loop_read(1)
            return rc

        def ack_many(self, mids: list[int], *, coalesce: bool = True) -> None:
            """Acknowledge QoS 1 messages ``mids`` in this order."""
            if not mids:
                return
            q = getattr(self, "_packet_queue", None) if coalesce else None
            if q is None:
                for m in mids:
                    self.ack(m, 1)
                return
            q(mqtt.PUBACK, b"".join(b"\x40\x02" + m.to_bytes(2, "big") for m in mids), 0, 0)

    if not fast:
        for name in ("_create_socket", "_packet_read", "_handle_on_message"):
            delattr(_Client, name)
    return _Client


# the subscriber -----------------------------------------------------------------------------------
@dataclass
class _Msg:
    mid: int
    qos: int
    dup: bool
    gen: int
    d: Decoded
    raw: tuple
    """What the network thread handed over (decoded afresh when a write is retried)."""
    device: str | None = None
    """The station of the device key that signed the message (after the signature was checked)."""


class MqttIngestor:
    """Subscribe, batch, store durably, acknowledge. One per store; thread-safe start/stop.

    Parameters
    ----------
    store
        The process's store (DuckDB: its only writer), with the :class:`nagar.store.mqtt_tables.MqttTables`
        methods.
    settings : Settings
        Validation limits and the device-signature skew.
    config : MqttConfig
    secret_key : str, optional
        The server key device secrets derive from (``tokens.resolve_secret``); needed to check
        signatures.
    on_flush : callable, optional
        Called with each write's counts (a dict) after its messages were acknowledged.
    actor : str
        Audit-log actor of the start and stop entries.
    """

    def __init__(self, store, *, settings: Settings, config: MqttConfig | None = None,
                 secret_key: str | None = None, on_flush: Callable[[dict], None] | None = None,
                 actor: str = "system"):
        self.store = store
        self.settings = settings
        self.config = config or MqttConfig()
        self.secret_key = secret_key
        self.on_flush = on_flush
        self.actor = actor
        self.stats = MqttStats()
        self.connected = threading.Event()
        self.last_activity = time.monotonic()
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._pending = 0
        self._room = threading.Condition()
        self._stale: dict[tuple[int, str], None] = {}
        """(packet id, content key) of messages written but not acknowledged because their connection
        was gone: the broker redelivers them with the same packet id (DUP); they are not written again."""
        self._gen = 0
        self._stop = threading.Event()
        self._writer: threading.Thread | None = None
        self._client = None
        self._ingest_settings = settings.model_copy(update={"max_batch_rows": 1 << 62})
        self._max_age = self.config.signature_max_age_s or settings.device_max_skew_s
        self._window = max(self.config.dedup_window_s, 2 * self._max_age, 2 * settings.device_max_skew_s)
        # the shared nonce table keeps nonces 2 x the HTTP skew (the HTTP path prunes it so): enough to
        # catch replays unless signed messages may be older than the skew, when the keys are asked too
        self._nonces_forget = self._max_age > settings.device_max_skew_s
        self._station_city: dict[str, str] = {}
        self._cities: set[str] = set()
        self._cities_at = 0.0
        self._device_keys: dict[str, tuple[float, dict | None]] = {}
        self._pruned_at = 0.0
        self._v5 = self.config.protocol.strip() in ("5", "5.0", "v5", "mqttv5")

    # lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        """Connect (retrying with back-off until the broker answers) and start the writer thread."""
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        import importlib

        importlib.import_module("nagar.ingest.service")  # Polars is imported now, not on the first message

        cfg = self.config
        kw: dict[str, Any] = {"callback_api_version": CallbackAPIVersion.VERSION2, "client_id": cfg.client_id,
                              "manual_ack": True}
        if self._v5:
            kw["protocol"] = mqtt.MQTTv5
        else:
            kw.update(protocol=mqtt.MQTTv311, clean_session=False)
        client = _client_class(fast=cfg.fast_paths)(**kw)
        client.reconnect_delay_set(min_delay=cfg.reconnect_min_s, max_delay=cfg.reconnect_max_s)
        if cfg.username:
            client.username_pw_set(cfg.username, cfg.password)
        if cfg.tls or cfg.tls_ca:
            client.tls_set(ca_certs=cfg.tls_ca)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_message = self._on_message
        if not self._v5 and cfg.fast_paths:
            client._fast_sink = self._on_publishes
        client._read_gate = self._reading_paused
        self._client = client
        ckw: dict[str, Any] = {}
        if self._v5:
            from paho.mqtt.packettypes import PacketTypes
            from paho.mqtt.properties import Properties

            p = Properties(PacketTypes.CONNECT)
            p.SessionExpiryInterval = int(cfg.session_expiry_s)
            p.ReceiveMaximum = max(1, min(65535, int(cfg.max_pending)))
            ckw = {"clean_start": False, "properties": p}
        self._audit("mqtt.subscribe", {"broker": f"{cfg.host}:{cfg.port}", "client_id": cfg.client_id,
                                       "topics": cfg.topics(), "require_signature": cfg.require_signature})
        client.connect_async(cfg.host, cfg.port, keepalive=cfg.keepalive_s, **ckw)
        client.loop_start()
        self._writer = threading.Thread(target=self._write_loop, name="nagar-mqtt-writer", daemon=True)
        self._writer.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the write in hand, acknowledge it, disconnect. Messages not yet written stay
        unacknowledged: the broker keeps them for the next start."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._writer is not None:
            self._writer.join(timeout)
        if self._client is not None:
            self._client.disconnect()  # queued after the last PUBACKs
            self._client.loop_stop()
        self._audit("mqtt.unsubscribe", {"client_id": self.config.client_id, **asdict(self.stats)})

    def run(self, *, until: threading.Event | None = None, idle_exit_s: float | None = None) -> MqttStats:
        """Start, wait until ``until`` is set (or, with ``idle_exit_s``, until connected and no message
        arrived for that long), stop; return the totals."""
        until = until or threading.Event()
        self.start()
        try:
            while not until.wait(0.2):
                if idle_exit_s is not None and self.connected.is_set() and self._q.empty() \
                        and time.monotonic() - self.last_activity > idle_exit_s:
                    break
        finally:
            self.stop()
        return self.stats

    def _audit(self, action: str, details: dict) -> None:
        try:
            from nagar.security import audit

            audit.record(self.store, actor=self.actor, action=action, target=f"mqtt:{self.config.client_id}",
                         details=details)
        except Exception as exc:  # noqa: BLE001 - an audit failure must not stop ingestion
            log.warning("audit entry %s not written: %s", action, exc)

    # paho callbacks (network thread) --------------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("broker refused the connection: %s", reason_code)
            return
        self._gen += 1
        self.stats.connects += 1
        if self._v5:
            from paho.mqtt.subscribeoptions import SubscribeOptions

            client.subscribe([(t, SubscribeOptions(qos=1, retainHandling=1)) for t in self.config.topics()])
        else:
            client.subscribe([(t, 1) for t in self.config.topics()])
        self.last_activity = time.monotonic()
        self.connected.set()
        log.info("connected to %s:%s as %s (session present: %s)", self.config.host, self.config.port,
                 self.config.client_id, flags.session_present)

    def _on_connect_fail(self, client, userdata) -> None:
        log.warning("cannot reach the broker at %s:%s; retrying with back-off", self.config.host, self.config.port)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        self.stats.disconnects += 1
        if not self._stop.is_set():
            log.warning("disconnected from the broker (%s); reconnecting with back-off", reason_code)

    def _on_message(self, client, userdata, msg) -> None:
        props = None
        if self._v5 and msg.properties is not None:
            props = getattr(msg.properties, "UserProperty", None)
        topic = getattr(msg, "_topic", None) or msg.topic.encode()
        self._enqueue([(topic, msg.payload, msg.mid, msg.qos, bool(msg.dup), props, self._gen, time.time())])

    def _on_publishes(self, got: list[tuple[bytes, bytes, int, int, bool]]) -> None:
        gen, now = self._gen, time.time()
        self._enqueue([(t, p, mid, qos, dup, None, gen, now) for t, p, mid, qos, dup in got])

    def _enqueue(self, items: list) -> None:
        with self._room:
            self._pending += len(items)
        self._q.put(items)

    def _taken(self, n: int) -> None:
        with self._room:
            self._pending -= n
            self._room.notify_all()

    def _reading_paused(self) -> bool:
        """Back-pressure for the network thread: pause reading while ``max_pending`` messages wait for
        the writer (waiting at most 5 ms here, so that the loop goes on sending PUBACKs)."""
        with self._room:
            if self._pending >= self.config.max_pending and not self._stop.is_set():
                self._room.wait(0.005)
            return self._pending >= self.config.max_pending and not self._stop.is_set()

    # writer thread --------------------------------------------------------------------------------
    def _write_loop(self) -> None:
        while not self._stop.is_set():
            try:
                batch = self._collect()
                if batch:
                    self._flush_safely(batch)
                self._maybe_prune()
            except Exception:  # noqa: BLE001 - the writer never stops (what it held is not acknowledged)
                log.exception("MQTT writer error; going on")
                self._stop.wait(1.0)

    def _collect(self) -> list[_Msg]:
        cfg = self.config
        try:
            items = self._q.get(timeout=0.2)
        except queue.Empty:
            return []
        out: list[_Msg] = []
        rows = 0
        deadline = time.monotonic() + cfg.batch_ms / 1000
        idle = cfg.idle_ms / 1000
        while True:
            self._taken(len(items))
            for it in items:
                m = self._decode(it)
                out.append(m)
                rows += len(m.d.rows)
            # (a write may exceed batch_messages by less than one network read's worth of messages)
            if len(out) >= cfg.batch_messages or rows >= cfg.batch_rows:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                items = self._q.get(timeout=min(idle, left))
            except queue.Empty:
                break
        self.last_activity = time.monotonic()
        return out

    def _decode(self, item) -> _Msg:
        topic_b, payload, mid, qos, dup, props, gen, received = item
        try:
            topic = topic_b.decode("utf-8")
        except UnicodeDecodeError:
            topic = topic_b.decode("utf-8", "replace")
        try:
            d = decode_message(topic, payload, received=received, prefix=self.config.prefix,
                               user_properties=props, max_rows=self.settings.max_batch_rows)
        except Exception as exc:  # noqa: BLE001 - a message nobody foresaw is a dead letter, not a crash
            log.exception("message on %s could not be decoded", topic)
            d = Decoded(topic=topic, payload=payload, key=content_key(topic, payload))
            d.fail(f"could not be decoded: {exc}")
        return _Msg(mid=mid, qos=qos, dup=dup, gen=gen, d=d, raw=item)

    def _flush_safely(self, batch: list[_Msg]) -> None:
        """Write ``batch``; retry while the store fails transiently (never acknowledging meanwhile);
        a message the store keeps refusing is dead-lettered on its own."""
        delay = 0.5
        first = True
        while True:
            if not first:  # a failed attempt may have marked the messages up: start from what arrived
                batch = [self._decode(m.raw) for m in batch]
            first = False
            try:
                self._flush(batch)
                return
            except StoreError as exc:
                if not exc.transient and len(batch) > 1:
                    log.error("store refused a write (%s); retrying its messages one by one", exc.message)
                    for m in batch:
                        self._flush_safely([self._decode(m.raw)])
                    return
                if not exc.transient:
                    self._dead_letter_whole(batch[0], f"could not be stored: {exc.message}")
                    return
            except Exception as exc:  # noqa: BLE001 - never stop the subscriber on one bad batch
                if len(batch) > 1:
                    log.exception("write failed; retrying its messages one by one")
                    for m in batch:
                        self._flush_safely([self._decode(m.raw)])
                    return
                log.exception("message on %s could not be stored", batch[0].d.topic)
                self._dead_letter_whole(batch[0], f"could not be stored: {exc}")
                return
            self.stats.store_retries += 1
            log.warning("store unavailable; retrying in %.1f s", delay)
            if self._stop.wait(delay):
                return  # not acknowledged: the broker redelivers after the restart
            delay = min(delay * 2, 30.0)

    def _dead_letter_whole(self, m: _Msg, reason: str) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                now = datetime.now(timezone.utc)
                dl = [self._dead_letter(m, None, "store", reason, now)]
                counts = {"messages": 1, "duplicates": 0, "observations": len(m.d.rows), "inserted": 0,
                          "updated": 0, "rejected": len(m.d.rows), "dead_letters": 1}
                self.store.mqtt_record(now=now, client_id=self.config.client_id,
                                       seen_keys=[m.d.key] if m.d.key else [], nonces=[], dead_letters=dl,
                                       flush=counts)
                self._ack([m])
                self._finish(counts)
                return
            except Exception:  # noqa: BLE001
                log.exception("dead letter not written; retrying in %.1f s", delay)
                self._stop.wait(delay)
                delay = min(delay * 2, 30.0)

    def _flush(self, batch: list[_Msg]) -> None:
        from bisect import bisect_right

        from .service import ingest_rows

        now = datetime.now(timezone.utc)
        skip: set[int] = set()  # positions of duplicates: acknowledged, not written again
        replay: set[int] = set()  # signed messages whose nonce was used before

        # 1. duplicates: inside the batch, then the durable keys of redelivered (DUP) messages. A signed
        #    message met again without DUP is a replay (dead-lettered, below), not a redelivery.
        def again(i: int) -> None:
            (replay if batch[i].d.signature is not None and not batch[i].dup else skip).add(i)

        first_pos: dict[str, int] = {}
        ask: list[str] = []
        signed: list[int] = []
        for i, m in enumerate(batch):
            if m.dup and self._stale:
                stale = (m.mid, content_key(m.d.topic, m.d.payload))
                if stale in self._stale:
                    del self._stale[stale]
                    skip.add(i)
                    continue
            k = m.d.key
            if k is None:
                continue
            if k in first_pos:
                again(i)
                continue
            first_pos[k] = i
            if m.dup or (m.d.signature is not None and self._nonces_forget):
                ask.append(k)
        if ask:
            seen = self.store.mqtt_seen_keys(ask, since=now - timedelta(seconds=self._window))
            for k in seen:
                again(first_pos[k])

        # 2. signatures, checked before their nonces are looked at (as over HTTP)
        nonces: list[tuple[str, str]] = []
        if any(m.d.signature is not None for m in batch):
            signed = [i for i, m in enumerate(batch) if i not in skip and m.d.signature is not None
                      and not (m.d.errors and m.d.refused)]
        if signed:
            pairs = {i: (str(batch[i].d.signature.get("key")), str(batch[i].d.signature.get("nonce")))
                     for i in signed}
            used = self.store.mqtt_used_nonces(list(pairs.values()))
            for i in signed:
                m = batch[i]
                station, why = self._verify(m.d.signature, now)
                if why is not None:
                    m.d.fail(why, "signature")
                elif i in replay or pairs[i] in used:
                    replay.add(i)
                    m.d.fail("nonce already used (replayed message)", "nonce")
                else:
                    m.device = station
                    nonces.append(pairs[i])
        if self.config.require_signature:
            for i, m in enumerate(batch):
                if i not in skip and m.d.signature is None and not (m.d.errors and m.d.refused):
                    m.d.fail("unsigned message (this subscriber requires device signatures)", "signature")

        # 3. registry: the topic's city, its station, each row's station's city, the device's station
        live = [m for i, m in enumerate(batch) if i not in skip] if skip else batch
        self._check_registry(live)

        # 4. one validated, durable write for every row of every message
        rows: list[dict] = []
        starts: list[int] = []  # index in ``rows`` of each live message's first row
        for m in live:
            starts.append(len(rows))
            rows.extend(m.d.rows)
        counts = {"messages": len(live), "duplicates": len(skip), "observations": len(rows), "inserted": 0,
                  "updated": 0, "rejected": 0, "dead_letters": 0}
        dead: list[dict] = []
        if rows:
            result = ingest_rows(self.store, rows=rows, settings=self._ingest_settings, now=now)
            for e in result.errors:
                k = bisect_right(starts, e.index) - 1  # (a message without rows shares its successor's start)
                m, j = live[k], e.index - starts[k]
                dead.append(self._dead_letter(m, m.d.items[j], e.field, e.reason, now, source=m.d.sources[j]))
            counts.update(inserted=result.inserted, updated=result.updated, rejected=result.rejected)
        for m in live:
            for item, fld, reason in m.d.errors:
                if item is None:
                    dead.append(self._dead_letter(m, None, fld, reason, now))
                else:
                    dead.append(self._dead_letter(m, item, fld, reason, now, source=m.d.item_sources.get(item)))
                    counts["rejected"] += 1
                    counts["observations"] += 1
        counts["dead_letters"] = len(dead)

        # 5. what became durable, in one transaction; then the acknowledgements
        keys = [m.d.key for i, m in enumerate(batch) if m.d.key is not None and i not in skip and i not in replay]
        self.store.mqtt_record(now=now, client_id=self.config.client_id, seen_keys=keys, nonces=nonces,
                               dead_letters=dead, flush=counts)
        self._ack(batch)
        self._finish(counts)

    def _finish(self, counts: dict) -> None:
        self.stats.add(counts)
        self.stats.flushes += 1
        if self.on_flush is not None:
            try:
                self.on_flush({**counts, "totals": asdict(self.stats)})
            except Exception:  # noqa: BLE001
                log.exception("on_flush callback failed")

    def _ack(self, batch: list[_Msg]) -> None:
        """PUBACK the QoS 1 messages that came on the current connection, in arrival order. Messages of
        an earlier connection are left: the broker redelivers them (DUP) and they are found durable."""
        if self._client is None:
            return
        gen = self._gen
        for m in batch:
            if m.qos and m.gen != gen:
                self._stale[(m.mid, content_key(m.d.topic, m.d.payload))] = None
        while len(self._stale) > 100_000:
            del self._stale[next(iter(self._stale))]
        mids = [m.mid for m in batch if m.qos == 1 and m.gen == gen]
        if mids:
            self._client.ack_many(mids, coalesce=self.config.coalesce_acks)
            self.stats.acked += len(mids)
        for m in batch:
            if m.qos == 2 and m.gen == gen:
                self._client.ack(m.mid, 2)

    def _dead_letter(self, m: _Msg, item: int | None, fld: str, reason: str, now: datetime,
                     source: Any = None) -> dict:
        keep = self.config.payload_keep_bytes
        raw = m.d.payload if source is None else json.dumps(source, ensure_ascii=False, default=str).encode()
        return {"time": now, "client_id": self.config.client_id, "topic": m.d.topic,
                "payload": raw[:keep].decode("utf-8", "replace"), "payload_bytes": len(raw),
                "truncated": len(raw) > keep, "item": item, "field": fld, "reason": reason,
                "message_key": m.d.key}

    # checks -----------------------------------------------------------------------------------------
    def _verify(self, sig: dict, now: datetime) -> tuple[str | None, str | None]:
        """(device's station, None) for a good signature, else (None, reason). Same rules as
        :func:`nagar.security.devices.verify`, without recording the nonce (see the module docstring)."""
        from nagar.security.devices import sign
        from nagar.security.tokens import device_secret

        key_id, ts, nonce, mac = (sig.get(k) for k in ("key", "timestamp", "nonce", "signature"))
        if not (key_id and ts is not None and nonce and mac):
            return None, "a signed message needs key, timestamp, nonce and signature"
        if not self.secret_key:
            return None, "signed messages cannot be checked: the subscriber has no secret key"
        row = self._device_key(str(key_id))
        if row is None or row.get("revoked_at") is not None:
            return None, "unknown or revoked device key"
        try:
            t = int(ts)
        except (TypeError, ValueError):
            return None, "timestamp must be Unix seconds"
        age = now.timestamp() - t
        if age > self._max_age:
            return None, f"signed message is older than {self._max_age} s"
        if -age > self.settings.device_max_skew_s:
            return None, f"timestamp is more than {self.settings.device_max_skew_s} s ahead of the server's clock"
        if not isinstance(nonce, str) or not _NONCE.match(nonce):
            return None, "nonce must be 8-128 characters of A-Z a-z 0-9 _ -"
        expected = sign(device_secret(self.secret_key, str(key_id)), timestamp=str(ts), nonce=nonce,
                        body=sig["body"])
        if not isinstance(mac, str) or not hmac.compare_digest(expected, mac.lower()):
            return None, "bad signature"
        return row["station"], None

    def _device_key(self, key_id: str) -> dict | None:
        hit = self._device_keys.get(key_id)
        if hit is not None and time.monotonic() - hit[0] < 10.0:  # revocation takes effect within 10 s
            return hit[1]
        row = self.store.get_device_key(key_id)
        self._device_keys[key_id] = (time.monotonic(), row)
        return row

    def _check_registry(self, msgs: list[_Msg]) -> None:
        """Refuse messages whose topic city or station is unknown or does not match the registry, and
        rows whose station is registered in another city (or is not the signing device's)."""
        cache = self._station_city
        want: set[str] = set()
        cities_needed: set[str] = set()
        for m in msgs:
            d = m.d
            cities_needed.add(d.city)
            if d.station:
                want.add(d.station)
            if m.device:
                want.add(m.device)
            if d.kind == "batch":
                for r in d.rows:
                    s = r.get("station")
                    if isinstance(s, str):
                        want.add(s)
        missing = [s for s in want if s not in cache]
        if missing:
            cache.update(self.store.existing_stations(missing))
        cities_needed.discard(None)
        if not cities_needed <= self._cities and time.monotonic() - self._cities_at > 1.0:
            self._cities = {c["id"] for c in self.store.list_cities()}
            self._cities_at = time.monotonic()
        cities = self._cities
        for m in msgs:
            d = m.d
            if d.errors and d.refused:
                continue
            dev = m.device
            if d.city not in cities:
                d.fail(f"unknown city '{d.city}'", "city")
                continue
            if d.station is not None:
                home = cache.get(d.station)
                if home is None:
                    d.fail(f"unknown station '{d.station}'", "station")
                elif home != d.city:
                    d.fail(f"station '{d.station}' is registered in city '{home}', not '{d.city}' (the topic's city)",
                           "city")
                elif dev is not None and dev != d.station:
                    d.fail(f"this device may only write station '{dev}'", "station")
                continue  # single and entity topics: every row is the topic's station
            if dev is not None and cache.get(dev) != d.city:
                d.fail(f"this device's station '{dev}' is not in city '{d.city}'", "city")
                continue
            keep_rows, keep_items, keep_src = [], [], []
            for r, it, src in zip(d.rows, d.items, d.sources):
                s = r.get("station")
                home = cache.get(s) if isinstance(s, str) else None
                if dev is not None and s != dev:
                    d.errors.append((it, "station", f"this device may only write station '{dev}'"))
                elif home is not None and home != d.city:
                    d.errors.append((it, "city", f"station '{s}' is registered in city '{home}', "
                                                 f"not '{d.city}' (the topic's city)"))
                else:
                    keep_rows.append(r)
                    keep_items.append(it)
                    keep_src.append(src)
            d.rows, d.items, d.sources = keep_rows, keep_items, keep_src

    def _maybe_prune(self) -> None:
        if time.monotonic() - self._pruned_at < 60.0:
            return
        self._pruned_at = time.monotonic()
        now = datetime.now(timezone.utc)
        try:
            self.store.mqtt_prune(seen_before=now - timedelta(seconds=self._window),
                                  nonces_before=now - timedelta(seconds=max(2 * self.settings.device_max_skew_s,
                                                                            2 * self._max_age)))
        except NagarError as exc:
            log.warning("pruning dedup keys failed: %s", exc.message)


def sign_envelope(secret: str, *, key_id: str, body: str, timestamp: int | None = None,
                  nonce: str | None = None) -> bytes:
    """A signed JSON envelope for ``body`` (what a device publishes; see the module docstring)."""
    import secrets as _secrets

    from nagar.security.devices import sign

    ts = int(time.time()) if timestamp is None else int(timestamp)
    nonce = nonce or _secrets.token_urlsafe(12)
    mac = sign(secret, timestamp=str(ts), nonce=nonce, body=body.encode("utf-8"))
    return json.dumps({"key": key_id, "timestamp": ts, "nonce": nonce, "signature": mac, "body": body},
                      ensure_ascii=False).encode("utf-8")


__all__ = ["MqttConfig", "MqttIngestor", "MqttStats", "Decoded", "content_key", "decode_message",
           "sign_envelope"]
