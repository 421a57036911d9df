"""Store methods for the MQTT subscriber's tables (dead letters, dedup keys, per-write counts).

Mixed into the SQL backends; bound values and registered Arrow tables only, one transaction per call.
Requires ``self._tx()`` (write transaction context) and ``self._rows(sql, params)``. Times are naive UTC.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pyarrow as pa

_DEAD_COLS = ("time", "client_id", "topic", "payload", "payload_bytes", "truncated", "item", "field", "reason",
              "message_key")
_DEAD_SCHEMA = pa.schema([
    ("time", pa.timestamp("us")), ("client_id", pa.string()), ("topic", pa.string()), ("payload", pa.string()),
    ("payload_bytes", pa.int32()), ("truncated", pa.bool_()), ("item", pa.int32()), ("field", pa.string()),
    ("reason", pa.string()), ("message_key", pa.string()),
])
_FLUSH_COLS = ("messages", "duplicates", "observations", "inserted", "updated", "rejected", "dead_letters")


def _naive(t: datetime) -> datetime:
    return t.astimezone(timezone.utc).replace(tzinfo=None) if t.tzinfo is not None else t


class MqttTables:
    """Requires ``self._tx()`` (write transaction context) and ``self._rows(sql, params)``."""

    def mqtt_seen_keys(self, keys: list[str], *, since: datetime) -> set[str]:
        """Which of ``keys`` were recorded as durable at or after ``since``."""
        if not keys:
            return set()
        rows = self._rows("SELECT DISTINCT key FROM mqtt_seen WHERE seen_at >= ? AND key IN (SELECT unnest(?))",
                          [_naive(since), list(keys)])
        return {r["key"] for r in rows}

    def mqtt_used_nonces(self, pairs: list[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which (device key id, nonce) pairs are already in the shared ``nonces`` table (HTTP or MQTT)."""
        if not pairs:
            return set()
        rows = self._rows(
            "SELECT n.key_id, n.nonce FROM nonces n "
            "JOIN (SELECT unnest(?) AS key_id, unnest(?) AS nonce) q ON q.key_id = n.key_id AND q.nonce = n.nonce",
            [[k for k, _ in pairs], [n for _, n in pairs]])
        return {(r["key_id"], r["nonce"]) for r in rows}

    def mqtt_record(self, *, now: datetime, client_id: str, seen_keys: list[str],
                    nonces: list[tuple[str, str]], dead_letters: list[dict], flush: dict) -> None:
        """Record, in one transaction, what a store write of the subscriber made durable: the messages'
        dedup keys, the device nonces they used, their dead letters and the write's counts.

        Called after ``write_observations`` returned, before the messages are acknowledged."""
        t = _naive(now)
        with self._tx() as con:
            if seen_keys:
                con.register("_mqtt_keys", pa.table({"key": pa.array(seen_keys, pa.string()),
                                                      "seen_at": pa.array([t] * len(seen_keys), pa.timestamp("us"))}))
                try:
                    con.execute("INSERT INTO mqtt_seen SELECT key, seen_at FROM _mqtt_keys")
                finally:
                    con.unregister("_mqtt_keys")
            if nonces:
                con.register("_mqtt_nonces", pa.table({
                    "key_id": pa.array([k for k, _ in nonces], pa.string()),
                    "nonce": pa.array([n for _, n in nonces], pa.string()),
                    "seen_at": pa.array([t] * len(nonces), pa.timestamp("us"))}))
                try:
                    con.execute("INSERT INTO nonces SELECT key_id, nonce, seen_at FROM _mqtt_nonces "
                                "ON CONFLICT DO NOTHING")
                finally:
                    con.unregister("_mqtt_nonces")
            if dead_letters:
                cols = {c: [d.get(c) for d in dead_letters] for c in _DEAD_COLS}
                cols["time"] = [_naive(x or now) for x in cols["time"]]
                con.register("_mqtt_dead", pa.table(cols, schema=_DEAD_SCHEMA))
                try:
                    con.execute(f"INSERT INTO mqtt_dead_letters ({', '.join(_DEAD_COLS)}) "
                                f"SELECT {', '.join(_DEAD_COLS)} FROM _mqtt_dead")
                finally:
                    con.unregister("_mqtt_dead")
            con.execute(f"INSERT INTO mqtt_flushes (time, client_id, {', '.join(_FLUSH_COLS)}) "
                        f"VALUES (?, ?, {', '.join('?' * len(_FLUSH_COLS))})",
                        [t, client_id, *[int(flush.get(c, 0)) for c in _FLUSH_COLS]])

    def mqtt_prune(self, *, seen_before: datetime, nonces_before: datetime | None = None) -> int:
        """Forget dedup keys recorded before ``seen_before`` (and device nonces before ``nonces_before``,
        the rule the HTTP path applies); returns how many keys went."""
        with self._tx() as con:
            n = con.execute("DELETE FROM mqtt_seen WHERE seen_at < ?", [_naive(seen_before)]).fetchone()[0]
            if nonces_before is not None:
                con.execute("DELETE FROM nonces WHERE seen_at < ?", [_naive(nonces_before)])
        return int(n)

    def mqtt_dead_letters(self, *, limit: int = 100, since: datetime | None = None,
                          topic_prefix: str | None = None) -> list[dict]:
        """Newest dead letters first."""
        where, params = ["true"], []
        if since is not None:
            where.append("time >= ?")
            params.append(_naive(since))
        if topic_prefix:
            where.append("starts_with(topic, ?)")
            params.append(topic_prefix)
        params.append(int(limit))
        rows = self._rows(
            f"SELECT id, {', '.join(_DEAD_COLS)} FROM mqtt_dead_letters WHERE {' AND '.join(where)} "
            "ORDER BY id DESC LIMIT ?", params)
        for r in rows:
            r["time"] = r["time"].replace(tzinfo=timezone.utc)
        return rows

    def mqtt_dead_letter_count(self, *, since: datetime | None = None) -> int:
        if since is None:
            return int(self._rows("SELECT count(*) AS n FROM mqtt_dead_letters")[0]["n"])
        return int(self._rows("SELECT count(*) AS n FROM mqtt_dead_letters WHERE time >= ?",
                              [_naive(since)])[0]["n"])

    def mqtt_flush_totals(self, *, client_id: str | None = None, since: datetime | None = None) -> dict:
        """Sums of the recorded writes' counts (``flushes`` = how many writes)."""
        where, params = ["true"], []
        if client_id is not None:
            where.append("client_id = ?")
            params.append(client_id)
        if since is not None:
            where.append("time >= ?")
            params.append(_naive(since))
        sums = ", ".join(f"coalesce(sum({c}), 0)::BIGINT AS {c}" for c in _FLUSH_COLS)
        row = self._rows(f"SELECT count(*) AS flushes, {sums} FROM mqtt_flushes WHERE {' AND '.join(where)}",
                         params)[0]
        return {k: int(v) for k, v in row.items()}
