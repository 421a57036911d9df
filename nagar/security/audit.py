"""Tamper-evident audit log: a SHA-256 hash chain over the ``audit_log`` table.

Every entry stores the hash of the entry before it (``prev_hash``; the first entry uses
:data:`nagar.store.security_tables.GENESIS`, 64 zeros) and its own ``hash``, the SHA-256 of its
:func:`canonical` serialisation, which covers ``prev_hash`` and ``seq``. Changing, adding, removing or
moving an entry therefore breaks the chain at that point, and :func:`verify` says where and how.

Canonical serialisation (a format others may re-implement to verify a log independently)
-------------------------------------------------------------------------------------
The bytes hashed for an entry are a JSON object, UTF-8 encoded, with exactly these eight members::

    action     string   what happened, e.g. "role.grant"
    actor      string   who did it, e.g. "user:rahim", "device:k1", "system"
    city       string or null
    details    string   the stored details: itself a canonical JSON object (same rules), as a string
    prev_hash  string   64 lowercase hex digits: the previous entry's hash, or 64 "0" for entry 1
    seq        integer  1, 2, 3, ... in decimal, no sign, no leading zeros
    target     string or null
    time       string   UTC, ISO 8601 with microseconds and "Z": "2024-05-01T12:30:00.123456Z"

- members in ascending order of their names (code-point order; the order above), no other members
  (the stored ``hash`` is not part of it);
- no whitespace outside strings: ``{"action":"...","actor":"..."}``;
- strings escape ``"`` as ``\\"``, ``\\`` as ``\\\\``, U+0008/9/A/C/D as ``\\b \\t \\n \\f \\r`` and any other
  character below U+0020 as ``\\u00xx`` (lowercase hex); every other character, non-ASCII included,
  is written as itself in UTF-8 (``/`` is not escaped).

This is what Python's ``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``
produces, and for these value types it coincides with RFC 8785 (JSON Canonicalization Scheme).
``hash`` = lowercase hex SHA-256 of those bytes. ``details`` is canonicalised the same way when
recorded (floats as Python's ``repr``; NaN and infinities are refused), but a verifier never
re-parses it: it hashes the stored string as it is.

How :func:`verify` tells tampering apart
----------------------------------------
Two passes over the entries; the problem with the lowest ``seq`` is reported, and on a tie the chain
pass wins (it is the more specific).

*Stored order.* ``seq`` must increase in the order the entries are stored. Entries stored after an
entry with a larger ``seq`` were moved (in DuckDB, deleted and re-inserted, or renumbered): problem
``reordered`` at the lowest such ``seq``. This is the only pass that sees a pure physical reorder,
because such a reorder leaves every hash and link intact.

*Chain.* The entries sorted by ``seq`` are walked from a virtual entry 0 whose hash is ``GENESIS``.
An entry that fits (``seq`` = previous + 1, ``prev_hash`` = previous hash, ``hash`` matches content)
is accepted; at the first that does not, with ``P`` the last accepted entry and ``N`` the entry after
the one in question (the *successor*), the first rule that applies decides:

1. ``seq`` <= ``P.seq`` (a ``seq`` already taken): **inserted** at that ``seq``.
2. ``prev_hash`` is the hash of an entry with a larger ``seq`` (it links forward): **reordered** at
   ``P.seq + 1``. This is what swapping two entries' ``seq`` values looks like.
3. ``seq`` > ``P.seq + 1`` (a gap): if ``prev_hash`` = ``P.hash`` the entry claims to follow ``P``
   yet skips numbers, which :func:`record` never does: **inserted** (hash matches) or **edited** (it
   does not) at that ``seq``; otherwise **deleted** at ``P.seq + 1``, the first missing entry.
4. ``seq`` = ``P.seq + 1`` and the successor links to ``P`` (``N.prev_hash`` = ``P.hash``): the chain
   goes around this entry: **inserted** at that ``seq`` (whatever its own hash says).
5. ``seq`` fits, ``prev_hash`` fits, hash does not match: **edited** at that ``seq``.
6. ``seq`` fits, ``prev_hash`` does not, hash matches: if the successor links to this entry, the entry
   is original and its predecessor is not the one it was written after: **edited** at ``P.seq``
   (entry ``P`` was changed and re-hashed; for ``P`` = entry 0, **inserted** at 1). With no such
   successor it is a self-consistent entry that fits nowhere: **inserted** at that ``seq``.
7. ``seq`` fits, neither ``prev_hash`` nor hash does: if putting ``P.hash`` back as ``prev_hash``
   makes the hash match, only the link was altered: **edited** at that ``seq``. Otherwise the entry
   it was written after is gone and the entries were renumbered: **deleted** at ``P.seq + 1``.

``first_bad_seq`` is thus the chain position where the problem is: the entry changed, forged or
moved, or for a deletion the first ``seq`` missing. The last entry has no successor to vouch for it,
so a bad hash there reads as *edited* even when it was appended with a made-up hash.

What the chain cannot show, and anchors
---------------------------------------
The chain has no secret: whoever can write to the database can recompute it. An attacker who
rewrites every entry from some point onward with correct hashes, or removes entries from the end
(truncation), or appends entries, leaves a chain that verifies. Against rewriting and truncation,
export the head now and then (``nagar audit verify`` prints it; print it daily, mail it, commit it
somewhere the database's writers cannot change) and pass it back as ``anchor=(seq, hash)``: the
entry ``seq`` must still exist with that very hash. A rewrite that began at or before the anchor
changes that hash (**edited** at the anchor's ``seq``, as the rewrite itself is invisible); a
truncation removes it (**deleted** at the first ``seq`` missing). Appends after the latest anchor
cannot be told from genuine entries; signing entries with a key kept off the database server would
be the next step.

Stored order
------------
:func:`verify_store` reads the DuckDB store by ``rowid``, i.e. in the order rows were written: DuckDB
appends inserts, updates a non-key column in place and turns an update of ``seq`` (the primary key)
into a delete plus an insert, so re-inserted or renumbered rows end up after their successors.
``store.audit_entries()`` orders by ``seq`` and would hide a physical reorder; other backends are read
that way, and for them only the chain's own evidence (rule 2) shows reordering.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from datetime import date, datetime, timezone
from typing import Any, Iterable

from nagar.core.errors import InvalidInput
from nagar.store.security_tables import GENESIS

FIELDS = ("seq", "time", "actor", "action", "city", "target", "details", "prev_hash")
"""The members of the canonical serialisation, i.e. everything an entry's hash covers."""
COLUMNS = FIELDS + ("hash",)
"""The ``audit_log`` columns."""
PROBLEMS = ("edited", "inserted", "deleted", "reordered")
_HEX64 = re.compile(r"[0-9a-f]{64}")


# canonical form ------------------------------------------------------------------------------------
def _utc(t: datetime) -> datetime:
    """Aware UTC; a naive time is taken to be UTC already (the store keeps naive UTC)."""
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)


def format_time(t: datetime | str) -> str:
    """``t`` as the canonical time string, ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC."""
    if isinstance(t, str):
        t = datetime.fromisoformat(t)
    return _utc(t).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                      default=_json_default)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, datetime):
        return format_time(obj)
    if isinstance(obj, date):
        return obj.isoformat()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def canonical_details(details: dict | None) -> str:
    """``details`` as the canonical JSON string stored in the ``details`` column (``{}`` for None).

    Datetimes become canonical time strings and dates ISO dates; other non-JSON values and NaN or
    infinite floats raise :class:`InvalidInput`.
    """
    if details is None:
        return "{}"
    if not isinstance(details, dict):
        raise InvalidInput("audit details must be a JSON object", field="details")
    try:
        return _dumps(details)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"audit details are not JSON: {exc}", field="details") from None


def canonical(entry: dict) -> bytes:
    """The bytes an entry's hash is computed over (see the module docstring for the exact format).

    Parameters
    ----------
    entry : dict
        Has at least ``seq`` (int), ``time`` (datetime, naive meaning UTC, or an ISO 8601 string),
        ``actor``, ``action``, ``city``, ``target`` (str or None), ``details`` (the stored JSON
        string) and ``prev_hash``. Other keys (``hash``) are ignored.
    """
    seq = entry["seq"]
    if isinstance(seq, bool) or not isinstance(seq, int):
        raise TypeError(f"seq must be an integer, not {type(seq).__name__}")
    obj = {k: entry[k] for k in FIELDS}
    obj["time"] = format_time(entry["time"])
    return _dumps(obj).encode("utf-8")


def entry_hash(fields: dict) -> str:
    """Lowercase hex SHA-256 of :func:`canonical` of ``fields``."""
    return hashlib.sha256(canonical(fields)).hexdigest()


# writing -------------------------------------------------------------------------------------------
def record(store, *, actor: str, action: str, city: str | None = None, target: str | None = None,
           details: dict | None = None, now: datetime | None = None) -> dict:
    """Append one entry to the audit log and return it (with ``seq``, ``prev_hash`` and ``hash``).

    The row is built inside ``store.append_audit``, which hands over the next ``seq`` and the previous
    hash under the store's writer lock, so concurrent writers cannot fork the chain. ``details`` is
    stored as canonical JSON (sorted keys, no whitespace); ``time`` is ``now`` (default: the current
    time) in UTC, to the microsecond.
    """
    return store.append_audit(entry_builder(actor=actor, action=action, city=city, target=target,
                                            details=details, now=now))


def entry_builder(*, actor: str, action: str, city: str | None = None, target: str | None = None,
                  details: dict | None = None, now: datetime | None = None):
    """The ``build(seq, prev_hash) -> row`` of one entry (checked and canonicalised now), for a store
    that appends it where the chain's head is known: :func:`record` through ``store.append_audit``, or
    a store method writing several entries inside its own transaction (``ngsild_commit``)."""
    if not isinstance(actor, str) or not actor:
        raise InvalidInput("an audit entry needs an actor", field="actor")
    if not isinstance(action, str) or not action:
        raise InvalidInput("an audit entry needs an action", field="action")
    when = _utc(now if now is not None else datetime.now(timezone.utc))
    stored_details = canonical_details(details)

    def build(seq: int, prev_hash: str) -> dict:
        row = {"seq": seq, "time": when, "actor": actor, "action": action, "city": city, "target": target,
               "details": stored_details, "prev_hash": prev_hash}
        row["hash"] = entry_hash(row)
        return row

    return build


# reading -------------------------------------------------------------------------------------------
def stored_entries(store) -> list[dict]:
    """Every entry in stored order: ``rowid`` order for DuckDB (write order), else ``seq`` order."""
    from nagar.store.duckdb import DuckDBStore

    if isinstance(store, DuckDBStore):
        rows = store._rows(f"SELECT {', '.join(COLUMNS)} FROM audit_log ORDER BY rowid")
        for r in rows:
            if isinstance(r["time"], datetime):
                r["time"] = _utc(r["time"])
        return rows
    return store.audit_entries()


def head(store) -> tuple[int, str]:
    """``(seq, hash)`` of the newest entry, ``(0, GENESIS)`` for an empty log: the anchor to export."""
    from nagar.store.duckdb import DuckDBStore

    if isinstance(store, DuckDBStore):
        rows = store._rows("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
    else:
        rows = store.audit_entries()[-1:]
    return (int(rows[0]["seq"]), rows[0]["hash"]) if rows else (0, GENESIS)


def parse_anchor(text: str) -> tuple[int, str]:
    """``"SEQ:HASH"`` (as printed by ``nagar audit verify``) -> ``(seq, hash)``; InvalidInput if malformed."""
    seq_s, sep, hash_s = text.strip().partition(":")
    hash_s = hash_s.lower()
    if not sep or not seq_s.isdigit() or not _HEX64.fullmatch(hash_s):
        raise InvalidInput(f"an anchor is SEQ:HASH with a 64-digit hex hash, got {text!r}", field="anchor")
    return int(seq_s), hash_s


# verifying -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VerifyResult:
    """Outcome of :func:`verify`."""

    ok: bool
    checked: int
    """Entries read."""
    first_bad_seq: int | None
    """Chain position of the first problem (for ``deleted``, the first ``seq`` missing)."""
    problem: str | None
    """One of :data:`PROBLEMS`, or None when ok."""
    message: str
    head: tuple[int, str] = (0, GENESIS)
    """``(seq, hash)`` of the entry with the highest ``seq`` read (an anchor to export when ok)."""

    def to_dict(self) -> dict:
        d = asdict(self)
        d["head"] = {"seq": self.head[0], "hash": self.head[1]}
        return d


def _short(h: Any) -> str:
    return f"{h[:12]}…" if isinstance(h, str) and len(h) > 12 else repr(h)


def _intact(e: dict) -> bool:
    try:
        return entry_hash(e) == e["hash"]
    except (KeyError, TypeError, ValueError):
        return False


def _order_problem(entries: list[dict]) -> tuple[int, str, str] | None:
    """The lowest ``seq`` stored after an entry with a larger ``seq``."""
    top: int | None = None
    late: tuple[int, int] | None = None  # (seq, the larger seq it is stored after)
    for e in entries:
        s = e["seq"]
        if top is not None and s < top and (late is None or s < late[0]):
            late = (s, top)
        top = s if top is None else max(top, s)
    if late is None:
        return None
    return late[0], "reordered", (f"entry {late[0]} is stored after entry {late[1]}: entries were moved "
                                  "(deleted and re-inserted, or renumbered)")


def _chain_problem(chain: list[dict]) -> tuple[int, str, str] | None:
    """Walk ``chain`` (sorted by seq) from genesis; the first break as ``(seq, problem, message)``."""
    last_pos = {e["hash"]: i for i, e in enumerate(chain)}
    p_seq, p_hash = 0, GENESIS
    for i, e in enumerate(chain):
        seq, link, own = e["seq"], e["prev_hash"], e["hash"]
        want = p_seq + 1
        intact = _intact(e)
        if seq == want and link == p_hash and intact:
            p_seq, p_hash = seq, own
            continue
        nxt = chain[i + 1] if i + 1 < len(chain) else None
        what = f"entry {p_seq}" if p_seq else "the genesis hash"
        # 1. a seq already taken
        if seq < want:
            return seq, "inserted", f"a second entry claims seq {seq}: one of them is forged"
        # 2. links forward
        j = last_pos.get(link, -1)
        if j > i:
            return want, "reordered", (f"entry {seq} links to entry {chain[j]['seq']}, which comes after it: "
                                       "entries were reordered (seq values changed)")
        # 3. a gap
        if seq > want:
            if link == p_hash:
                if intact:
                    return seq, "inserted", (f"entry {seq} claims to follow {what} but skips seq "
                                             f"{want}..{seq - 1}: it was not written by the log")
                return seq, "edited", f"entry {seq} follows {what} but its seq and hash do not match: it was altered"
            missing = f"entry {want} is" if seq == want + 1 else f"entries {want}..{seq - 1} are"
            return want, "deleted", f"{missing} missing: entry {seq} follows {what} in the log"
        # seq fits from here on
        # 4. the chain goes around this entry
        if nxt is not None and nxt["prev_hash"] == p_hash and nxt["prev_hash"] != own:
            return seq, "inserted", (f"entry {seq} is not part of the chain: entry {nxt['seq']} links "
                                     f"directly to {what}, so entry {seq} was slipped in")
        # 5. linked in, content changed
        if link == p_hash:
            return seq, "edited", f"entry {seq} does not match its hash: its content was changed after it was written"
        # 6. self-consistent but does not link to its predecessor
        if intact:
            if nxt is not None and nxt["prev_hash"] == own:
                if p_seq == 0:
                    return 1, "inserted", "entry 1 does not start from the genesis hash: the log's start was forged"
                return p_seq, "edited", (f"entry {seq} was written after an entry with hash {_short(link)}, but "
                                         f"the stored entry {p_seq} has hash {_short(p_hash)}: entry {p_seq} was "
                                         "changed and re-hashed (or replaced)")
            return seq, "inserted", (f"entry {seq} has a valid hash but does not link to {what} and no later "
                                     "entry links to it: it was forged")
        # 7. neither link nor hash fits
        if _intact({**e, "prev_hash": p_hash}):
            return seq, "edited", f"entry {seq}'s link to {what} was altered"
        return want, "deleted", (f"entry {seq} was written after an entry with hash {_short(link)} that is no "
                                 "longer in the log: entries were removed and the rest renumbered")
    return None


def _anchor_problem(chain: list[dict], anchor: tuple[int, str]) -> tuple[int, str, str] | None:
    a_seq, a_hash = anchor
    if a_seq == 0:
        if a_hash != GENESIS:
            raise InvalidInput("an anchor at seq 0 must be the genesis hash", field="anchor")
        return None
    found = [e for e in chain if e["seq"] == a_seq]
    if not found:
        before = [e["seq"] for e in chain if e["seq"] < a_seq]
        first_missing = max(before, default=0) + 1
        return first_missing, "deleted", (f"anchored entry {a_seq} is missing: the log ends at entry "
                                          f"{first_missing - 1}, entries from {first_missing} were removed")
    if all(e["hash"] != a_hash for e in found):
        return a_seq, "edited", (f"entry {a_seq} has hash {_short(found[0]['hash'])} but the anchor says "
                                 f"{_short(a_hash)}: the log up to entry {a_seq} was rewritten")
    return None


def verify(entries: Iterable[dict], *, anchor: tuple[int, str] | None = None) -> VerifyResult:
    """Check a log's entries, given in stored order, and report the first problem.

    Parameters
    ----------
    entries : iterable of dict
        Rows with the :data:`COLUMNS`, in the order they are stored.
    anchor : (int, str), optional
        A head exported earlier (:func:`head`): that entry must still be in the log, unchanged.

    Returns
    -------
    VerifyResult
        ``ok`` or the lowest-``seq`` problem; the rules are in the module docstring.
    """
    if anchor is not None:
        if isinstance(anchor, str):
            anchor = parse_anchor(anchor)
        a_seq, a_hash = anchor
        if isinstance(a_seq, bool) or not isinstance(a_seq, int) or a_seq < 0 or not isinstance(a_hash, str):
            raise InvalidInput("an anchor is (seq >= 0, hash)", field="anchor")
        anchor = (a_seq, a_hash.lower())
    rows = list(entries)
    chain = sorted(rows, key=lambda e: e["seq"])
    top = (int(chain[-1]["seq"]), chain[-1]["hash"]) if chain else (0, GENESIS)
    found = [p for p in (_chain_problem(chain), _order_problem(rows),
                         _anchor_problem(chain, anchor) if anchor else None) if p is not None]
    if not found:
        msg = f"{len(rows)} entries intact" + (f", anchor {anchor[0]} present" if anchor else "")
        return VerifyResult(True, len(rows), None, None, msg, top)
    seq, problem, message = min(found, key=lambda p: p[0])  # min is stable: chain, order, anchor on ties
    return VerifyResult(False, len(rows), seq, problem, message, top)


def verify_store(store, *, anchor: tuple[int, str] | None = None) -> VerifyResult:
    """:func:`verify` over every entry of ``store`` in stored order (see :func:`stored_entries`)."""
    return verify(stored_entries(store), anchor=anchor)
