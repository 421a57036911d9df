"""The hash-chained audit log: canonical form, recording, and detection of each kind of tampering.

Tampering is done the way an attacker with database access would: plain SQL on the store's connection.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone

import pytest
import typer
from typer.testing import CliRunner

from nagar.core.errors import InvalidInput
from nagar.security import audit
from nagar.security.audit_cli import app as audit_app
from nagar.store.duckdb import DuckDBStore
from nagar.store.security_tables import GENESIS

T0 = datetime(2024, 5, 1, 12, 0, 0, 250_000, tzinfo=timezone.utc)
COLS = ", ".join(audit.COLUMNS)
runner = CliRunner()


def _fill(store: DuckDBStore, n: int = 5) -> list[dict]:
    return [audit.record(store, actor=f"user:u{i}", action="role.grant", city="dhaka", target=f"user:v{i}",
                         details={"role": "editor", "n": i}, now=T0 + timedelta(minutes=i))
            for i in range(1, n + 1)]


@pytest.fixture
def store(tmp_path):
    s = DuckDBStore(tmp_path / "audit.duckdb")
    _fill(s)
    yield s
    s.close()


def _row(store, seq: int) -> dict:
    return next(e for e in store.audit_entries() if e["seq"] == seq)


def _insert(store, row: dict) -> None:
    vals = [row[c].replace(tzinfo=None) if c == "time" else row[c] for c in audit.COLUMNS]
    store._con.execute(f"INSERT INTO audit_log ({COLS}) VALUES ({', '.join('?' * len(vals))})", vals)


def _bad(store, **kw) -> tuple[int | None, str | None]:
    """(first_bad_seq, problem) of the store's log, which must fail with a message naming that seq."""
    r = audit.verify_store(store, **kw)
    assert not r.ok and r.problem in audit.PROBLEMS and str(r.first_bad_seq) in r.message, r
    return r.first_bad_seq, r.problem


def _where(r: audit.VerifyResult) -> tuple[int | None, str | None]:
    return r.first_bad_seq, r.problem


def _forged(seq: int, prev_hash: str) -> dict:
    return {"seq": seq, "time": T0 + timedelta(minutes=2, seconds=30), "actor": "user:mallory",
            "action": "role.grant", "city": "dhaka", "target": "user:mallory", "details": '{"role":"city_admin"}',
            "prev_hash": prev_hash}


# canonical form ----------------------------------------------------------------------------------
def test_canonical_bytes_of_a_known_entry_are_exactly_the_documented_format():
    entry = {"seq": 7, "time": datetime(2024, 5, 1, 12, 30, 0, 123456, tzinfo=timezone.utc), "actor": "user:রহিম",
             "action": "role.grant", "city": "dhaka", "target": None,
             "details": audit.canonical_details({"role": "editor", "note": 'a "quoted"\nline', "at": None}),
             "prev_hash": "ab" * 32, "hash": "ignored: not part of the canonical form"}
    written_by_hand = (
        '{"action":"role.grant","actor":"user:রহিম","city":"dhaka",'
        r'"details":"{\"at\":null,\"note\":\"a \\\"quoted\\\"\\nline\",\"role\":\"editor\"}",'
        '"prev_hash":"abababababababababababababababababababababababababababababababab",'
        '"seq":7,"target":null,"time":"2024-05-01T12:30:00.123456Z"}'
    ).encode("utf-8")
    assert audit.canonical(entry) == written_by_hand
    assert audit.entry_hash(entry) == hashlib.sha256(written_by_hand).hexdigest()
    # pinned, so that a change of format cannot pass unnoticed (logs already written would stop verifying)
    assert audit.entry_hash(entry) == "c3f18178902143be335eab76c078b2e3129b0ba69ed5bbf71c1660f35914dc38"


def test_canonical_time_is_utc_with_microseconds_whatever_the_input():
    base = {"seq": 1, "actor": "a", "action": "b", "city": None, "target": None, "details": "{}", "prev_hash": GENESIS}
    ist = timezone(timedelta(hours=5, minutes=30))
    forms = [datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc), datetime(2024, 1, 2, 3, 4, 5),
             datetime(2024, 1, 2, 8, 34, 5, tzinfo=ist), "2024-01-02T03:04:05Z", "2024-01-02T03:04:05.000000+00:00"]
    outs = {audit.canonical({**base, "time": t}) for t in forms}
    assert len(outs) == 1 and b'"time":"2024-01-02T03:04:05.000000Z"' in outs.pop()


# recording ---------------------------------------------------------------------------------------
def test_record_chains_entries_and_stores_canonical_details(store):
    rows = store.audit_entries()
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0]["prev_hash"] == GENESIS
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(rows, rows[1:]))
    assert rows[0]["details"] == '{"n":1,"role":"editor"}'
    assert rows[0]["time"] == T0 + timedelta(minutes=1)
    assert all(audit.entry_hash(r) == r["hash"] for r in rows)
    new = audit.record(store, actor="system", action="login.success", details={"at": T0})
    assert new == {**_row(store, 6), "time": new["time"]} and new["prev_hash"] == rows[-1]["hash"]
    assert json.loads(new["details"]) == {"at": "2024-05-01T12:00:00.250000Z"}
    assert audit.head(store) == (6, new["hash"])


@pytest.mark.parametrize("kw", [dict(actor="", action="x"), dict(actor="a", action=""),
                                dict(actor="a", action="x", details={"v": float("nan")}),
                                dict(actor="a", action="x", details={"v": object()})])
def test_record_refuses_bad_input(store, kw):
    with pytest.raises(InvalidInput):
        audit.record(store, **kw)
    assert audit.head(store)[0] == 5


# verification of an intact log --------------------------------------------------------------------
def test_intact_log_verifies(store):
    r = audit.verify_store(store)
    assert r.ok and r.checked == 5 and r.first_bad_seq is None and r.problem is None
    assert r.head == audit.head(store) == (5, _row(store, 5)["hash"])
    assert audit.verify_store(store, anchor=audit.head(store)).ok
    assert audit.verify_store(store, anchor=(2, _row(store, 2)["hash"])).ok


def test_empty_log_verifies(tmp_path):
    s = DuckDBStore(tmp_path / "empty.duckdb")
    r = audit.verify_store(s, anchor=(0, GENESIS))
    assert r.ok and r.checked == 0 and r.head == audit.head(s) == (0, GENESIS)
    s.close()


# tampering ---------------------------------------------------------------------------------------
def test_edited_details(store):
    store._con.execute("""UPDATE audit_log SET details = '{"n":3,"role":"viewer"}' WHERE seq = 3""")
    assert _bad(store) == (3, "edited")


def test_edited_actor(store):
    store._con.execute("UPDATE audit_log SET actor = 'user:someone_else' WHERE seq = 2")
    assert _bad(store) == (2, "edited")


def test_edited_and_rehashed_entry_is_caught_by_its_successor(store):
    e = {**_row(store, 3), "actor": "user:someone_else"}
    store._con.execute("UPDATE audit_log SET actor = ?, hash = ? WHERE seq = 3", [e["actor"], audit.entry_hash(e)])
    r = audit.verify_store(store)
    assert (r.first_bad_seq, r.problem) == (3, "edited") and "re-hashed" in r.message


def test_edited_link_only(store):
    store._con.execute("UPDATE audit_log SET prev_hash = ? WHERE seq = 4", ["cd" * 32])
    assert _bad(store) == (4, "edited")


def test_deleted_middle_row(store):
    store._con.execute("DELETE FROM audit_log WHERE seq = 3")
    r = audit.verify_store(store)
    assert (r.first_bad_seq, r.problem) == (3, "deleted") and "entry 3 is missing" in r.message


def test_deleted_first_row(store):
    store._con.execute("DELETE FROM audit_log WHERE seq = 1")
    assert _bad(store) == (1, "deleted")


def test_deleted_rows_then_renumbered(store):
    store._con.execute("DELETE FROM audit_log WHERE seq = 3")
    store._con.execute("UPDATE audit_log SET seq = seq - 1 WHERE seq > 3")
    assert _bad(store) == (3, "deleted")


def _make_room_at_3(store, how: str) -> list[dict]:
    """Free seq 3, as a forger must to slip an entry in there; returns the entries to re-insert after it,
    renumbered (their seq is hashed, so they no longer match their hashes either way)."""
    if how == "update":  # DuckDB turns this into delete + insert: the shifted rows move to the end
        store._con.execute("UPDATE audit_log SET seq = seq + 1 WHERE seq >= 3")
        return []
    tail = [{**e, "seq": e["seq"] + 1} for e in store.audit_entries() if e["seq"] >= 3]
    store._con.execute("DELETE FROM audit_log WHERE seq >= 3")  # re-inserted after the forgery: stored in seq order
    return tail


@pytest.mark.parametrize("how", ["update", "rewrite"])
def test_inserted_row_with_made_up_hash(store, how):
    h2 = _row(store, 2)["hash"]
    tail = _make_room_at_3(store, how)
    _insert(store, {**_forged(3, h2), "hash": "ab" * 32})
    for e in tail:
        _insert(store, e)
    assert _bad(store) == (3, "inserted")


@pytest.mark.parametrize("how", ["update", "rewrite"])
def test_inserted_row_with_correct_hash_over_made_up_prev_hash(store, how):
    tail = _make_room_at_3(store, how)
    forged = _forged(3, "12" * 32)
    _insert(store, {**forged, "hash": audit.entry_hash(forged)})
    for e in tail:
        _insert(store, e)
    assert _bad(store) == (3, "inserted")


def test_reordered_by_swapping_seq_values(store):
    store._con.execute("UPDATE audit_log SET seq = CASE seq WHEN 2 THEN 3 ELSE 2 END WHERE seq IN (2, 3)")
    assert _bad(store) == (2, "reordered")
    # the chain alone (seq order, as a non-DuckDB store would be read) sees it too
    assert _where(audit.verify(store.audit_entries())) == (2, "reordered")


def test_reordered_physically_by_delete_and_reinsert(store):
    e3 = _row(store, 3)
    store._con.execute("DELETE FROM audit_log WHERE seq = 3")
    _insert(store, e3)
    assert audit.verify(store.audit_entries()).ok  # in seq order every hash and link still fits
    r = audit.verify_store(store)
    assert (r.first_bad_seq, r.problem) == (3, "reordered") and "stored after entry 5" in r.message


def test_physical_order_survives_a_checkpoint_and_reopening(tmp_path):
    path = tmp_path / "reopen.duckdb"
    s = DuckDBStore(path)
    _fill(s)
    e2 = _row(s, 2)
    s._con.execute("DELETE FROM audit_log WHERE seq = 2")
    _insert(s, e2)
    s._con.execute("CHECKPOINT")
    s.close()
    s = DuckDBStore(path)
    assert _bad(s) == (2, "reordered")
    s.close()


def test_reordered_physically_two_neighbours(store):
    e2, e3 = _row(store, 2), _row(store, 3)
    store._con.execute("DELETE FROM audit_log WHERE seq IN (2, 3)")
    _insert(store, e3)
    _insert(store, e2)
    assert _bad(store) == (2, "reordered")


def test_truncated_tail_needs_the_anchor(store):
    anchor = audit.head(store)
    store._con.execute("DELETE FROM audit_log WHERE seq >= 4")
    assert audit.verify_store(store).ok  # a shorter chain is still a valid chain
    r = audit.verify_store(store, anchor=anchor)
    assert (r.first_bad_seq, r.problem) == (4, "deleted") and "anchored entry 5 is missing" in r.message


def test_rewritten_tail_with_correct_hashes_needs_the_anchor(store):
    anchor = audit.head(store)
    prev = _row(store, 3)["hash"]
    for e in [e for e in store.audit_entries() if e["seq"] >= 4]:
        e = {**e, "details": '{"n":0,"role":"viewer"}', "prev_hash": prev}
        prev = e["hash"] = audit.entry_hash(e)
        store._con.execute("UPDATE audit_log SET details = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                           [e["details"], e["prev_hash"], e["hash"], e["seq"]])
    assert audit.verify_store(store).ok  # undetectable from the chain alone
    assert _bad(store, anchor=anchor) == (5, "edited")
    assert audit.verify_store(store, anchor=(3, _row(store, 3)["hash"])).ok  # the rewrite began after entry 3


def test_lowest_seq_wins_across_problems(store):
    store._con.execute("UPDATE audit_log SET actor = 'x' WHERE seq = 4")
    store._con.execute("DELETE FROM audit_log WHERE seq = 2")
    assert _bad(store) == (2, "deleted")


# verify() on plain lists -------------------------------------------------------------------------
def test_verify_lists(store):
    rows = store.audit_entries()
    assert audit.verify(iter(rows)).ok
    assert _where(audit.verify(rows + [dict(rows[2])])) == (3, "inserted")
    tail = rows[:4] + [{**rows[4], "actor": "x"}]  # the last entry has no successor to vouch for it
    assert _where(audit.verify(tail)) == (5, "edited")
    appended = _forged(6, "34" * 32)
    appended["hash"] = audit.entry_hash(appended)
    assert _where(audit.verify(rows + [appended])) == (6, "inserted")
    r = audit.verify(rows)
    assert r.to_dict()["head"] == {"seq": 5, "hash": rows[4]["hash"]}


def test_anchor_parsing():
    h = "AB" * 32
    assert audit.parse_anchor(f" 12:{h} ") == (12, h.lower())
    for bad in ("12", f"x:{h}", "3:abc", f"-1:{h}", f"3:{'g' * 64}"):
        with pytest.raises(InvalidInput):
            audit.parse_anchor(bad)
    with pytest.raises(InvalidInput):
        audit.verify([], anchor=(0, "ab" * 32))


# CLI ---------------------------------------------------------------------------------------------
@pytest.fixture
def db(tmp_path):
    path = tmp_path / "cli.duckdb"
    s = DuckDBStore(path)
    _fill(s, 3)
    s.close()
    return path


def test_cli_verify_ok_prints_head(db):
    s = DuckDBStore(db)
    seq, h = audit.head(s)
    s.close()
    r = runner.invoke(audit_app, ["verify", "--db", str(db)])
    assert r.exit_code == 0, r.output
    assert "OK" in r.output and "3 entries" in r.output and f"head 3:{h}" in r.output
    r = runner.invoke(audit_app, ["verify", "--db", str(db), "--anchor", f"{seq}:{h}", "--json"])
    out = json.loads(r.stdout)
    assert r.exit_code == 0 and out["ok"] and out["checked"] == 3 and out["head"] == {"seq": 3, "hash": h}


def test_cli_verify_tampered_exits_1_naming_the_entry(db):
    s = DuckDBStore(db)
    s._con.execute("UPDATE audit_log SET actor = 'user:eve' WHERE seq = 2")
    s.close()
    r = runner.invoke(audit_app, ["verify", "--db", str(db)])
    assert r.exit_code == 1 and "TAMPERED" in r.output and "entry 2 edited" in r.output
    assert "Traceback" not in r.output and isinstance(r.exception, SystemExit)
    r = runner.invoke(audit_app, ["verify", "--db", str(db), "--json"])
    out = json.loads(r.stdout)
    assert r.exit_code == 1 and out["ok"] is False and out["first_bad_seq"] == 2 and out["problem"] == "edited"


def test_cli_verify_truncation_with_anchor(db):
    s = DuckDBStore(db)
    anchor = "%d:%s" % audit.head(s)
    s._con.execute("DELETE FROM audit_log WHERE seq = 3")
    s.close()
    assert runner.invoke(audit_app, ["verify", "--db", str(db)]).exit_code == 0
    r = runner.invoke(audit_app, ["verify", "--db", str(db), "--anchor", anchor])
    assert r.exit_code == 1 and "entry 3 deleted" in r.output


def test_cli_errors_are_messages(db, tmp_path):
    for args, words in ((["verify", "--db", str(db), "--anchor", "nope"], "SEQ:HASH"),
                        (["verify", "--db", str(tmp_path / "missing.duckdb")], "no database"),
                        (["show", "--db", str(tmp_path / "missing.duckdb")], "no database")):
        r = runner.invoke(audit_app, args)
        assert r.exit_code == 2 and words in r.output and "Traceback" not in r.output
    assert not (tmp_path / "missing.duckdb").exists()


def test_cli_show(db, monkeypatch):
    from rich.console import Console

    import nagar.security.audit_cli as audit_cli

    # the module's console took its width when imported (80 when stdout is not a terminal): widen it
    monkeypatch.setattr(audit_cli, "console", Console(width=200))
    r = runner.invoke(audit_app, ["show", "--db", str(db), "--limit", "2"])
    assert r.exit_code == 0 and "user:u3" in r.output and "user:u2" in r.output and "user:u1" not in r.output
    r = runner.invoke(audit_app, ["show", "--db", str(db), "--city", "dhaka", "--json"])
    out = json.loads(r.stdout)
    assert [e["seq"] for e in out] == [1, 2, 3] and out[0]["details"] == {"n": 1, "role": "editor"}
    assert out[0]["time"] == "2024-05-01T12:01:00.250000Z"
    r = runner.invoke(audit_app, ["show", "--db", str(db), "--city", "pune", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout) == []


def test_cli_mounts_as_a_sub_command(db):
    root = typer.Typer()
    root.command()(lambda: None)
    root.add_typer(audit_app, name="audit")
    r = runner.invoke(root, ["audit", "verify", "--db", str(db)])
    assert r.exit_code == 0 and "3 entries" in r.output
