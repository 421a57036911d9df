"""``store.transaction()`` on both backends (DuckDB file, PostgreSQL server; see tests/store/test_backends.py):
several store writes as one transaction, re-entrant, committed once by the outermost block (the contract
in nagar/store/base.py ``Store.transaction``). The NGSI-LD group commit relies on it to write a group's
entities and their audit entries together (nagar/ngsild/service.py ``Broker._flush``), so the audit log's
hash chain (nagar/security/audit.py) must stay intact when such a transaction is rolled back.

What another connection sees is read from another thread: a thread inside an open transaction reads
through it on PostgreSQL (``PostgresStore._read``), so only another thread shows what is committed.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from nagar.core.errors import InvalidInput
from nagar.security import audit
from tests.conftest import obs_table
from tests.store.test_backends import CTG, KTM, _seed, backend  # noqa: F401  (fixture)

T0 = datetime(2025, 3, 1, tzinfo=timezone.utc)


class Boom(Exception):
    pass


@pytest.fixture
def tstore(backend):  # noqa: F811
    s = backend.open()
    _seed(s)
    yield s
    s.close()


def _entity(eid: str, value: int = 1) -> dict:
    return {"id": eid, "types": '["https://uri.etsi.org/ngsi-ld/default-context/Bus"]',
            "body": f'{{"id": "{eid}", "speed": {value}}}', "station": None, "created_at": T0, "modified_at": T0}


def _elsewhere(fn):
    """``fn()`` run in another thread (another connection: what is committed)."""
    out: list = []
    t = threading.Thread(target=lambda: out.append(fn()))
    t.start()
    t.join(30)
    assert not t.is_alive(), "the read from another thread blocked"
    return out[0]


def _state(s) -> tuple:
    """What is stored of the writes these tests make: cities ctg / ktm, entity urn:t:1 / urn:t:2, audit."""
    return (s.get_city("ctg") is not None, s.get_city("ktm") is not None,
            s.ngsild_get("dhaka", "urn:t:1") is not None, s.ngsild_get("dhaka", "urn:t:2") is not None,
            [e["action"] for e in s.audit_entries()])


def _chain_ok(s) -> None:
    res = audit.verify_store(s)
    assert res.ok, res.message


def test_writes_inside_are_stored_together(tstore):
    s = tstore
    with s.transaction():
        assert s.upsert_city(CTG) is True
        s.ngsild_write("dhaka", put=[_entity("urn:t:1")])
        audit.record(s, actor="user:t", action="t.one", city="ctg")
        # nothing is visible to another connection before the end of the block (one transaction)
        assert _elsewhere(lambda: _state(s)) == (False, False, False, False, [])
    assert _state(s) == (True, False, True, False, ["t.one"])
    assert _elsewhere(lambda: _state(s)) == (True, False, True, False, ["t.one"])
    assert s.ngsild_get("dhaka", "urn:t:1")["body"] == '{"id": "urn:t:1", "speed": 1}'
    _chain_ok(s)


def test_exception_inside_rolls_every_write_back(tstore):
    s = tstore
    audit.record(s, actor="user:t", action="t.before")
    with pytest.raises(Boom):
        with s.transaction():
            s.upsert_city(CTG)
            s.ngsild_write("dhaka", put=[_entity("urn:t:1")])
            audit.record(s, actor="user:t", action="t.lost", city="ctg")
            raise Boom
    assert _state(s) == (False, False, False, False, ["t.before"])
    _chain_ok(s)
    # the store still works: the same writes succeed afterwards, as new ones, and a block is again one
    # transaction (not left half-open, nor writing straight through)
    with s.transaction():
        assert s.upsert_city(CTG) is True
        assert _elsewhere(lambda: s.get_city("ctg")) is None
    assert _elsewhere(lambda: s.get_city("ctg")) is not None
    s.ngsild_write("dhaka", put=[_entity("urn:t:1", 2)])
    e = audit.record(s, actor="user:t", action="t.after")
    assert e["seq"] == 2  # the rolled-back entry's seq is taken again: no gap in the chain
    assert _state(s) == (True, False, True, False, ["t.before", "t.after"])
    assert s.ngsild_get("dhaka", "urn:t:1")["body"].endswith("2}")
    _chain_ok(s)


def test_store_refusal_inside_rolls_back_the_earlier_writes(tstore):
    """A write method that refuses (here an unknown city) undoes the writes made before it in the block."""
    s = tstore
    with pytest.raises(InvalidInput):
        with s.transaction():
            s.upsert_city(CTG)
            s.ngsild_write("dhaka", put=[_entity("urn:t:1")])
            s.upsert_station(dict(id="stX", city="atlantis", name="X", lat=0.0, lon=0.0, parameters=["pm25"]))
    assert _state(s)[:4] == (False, False, False, False)
    assert s.get_station("stX") is None
    s.upsert_station(dict(id="stX", city="dhaka", name="X", lat=0.0, lon=0.0, parameters=["pm25"]))
    assert s.get_station("stX")["city"] == "dhaka"


def test_nested_blocks_commit_once_at_the_outermost(tstore):
    s = tstore
    with s.transaction():
        s.upsert_city(CTG)
        with s.transaction():
            s.upsert_city(KTM)
            s.ngsild_write("dhaka", put=[_entity("urn:t:1")])
            with s.transaction():
                audit.record(s, actor="user:t", action="t.inner")
        # the inner blocks have ended: still nothing committed
        assert _elsewhere(lambda: _state(s)) == (False, False, False, False, [])
        s.ngsild_write("dhaka", put=[_entity("urn:t:2")])
        assert _elsewhere(lambda: _state(s)) == (False, False, False, False, [])
    assert _elsewhere(lambda: _state(s)) == (True, True, True, True, ["t.inner"])
    _chain_ok(s)


def test_exception_out_of_a_nested_block_rolls_back_the_outer_writes(tstore):
    s = tstore
    with pytest.raises(Boom):
        with s.transaction():
            s.upsert_city(CTG)
            with s.transaction():
                s.upsert_city(KTM)
                audit.record(s, actor="user:t", action="t.nested")
                raise Boom
    assert _state(s) == (False, False, False, False, [])
    with s.transaction():  # the nesting depth was reset: a new block commits at its end, not before
        s.upsert_city(KTM)
        assert _elsewhere(lambda: s.get_city("ktm")) is None
    assert _elsewhere(lambda: s.get_city("ktm")) is not None


def test_audit_inside_a_transaction_is_kept_with_it(tstore):
    s = tstore
    audit.record(s, actor="user:t", action="t.1")
    with s.transaction():
        a = audit.record(s, actor="user:t", action="t.2", city="dhaka")
        b = audit.record(s, actor="user:t", action="t.3", city="dhaka")
        s.ngsild_write("dhaka", put=[_entity("urn:t:1")])
    assert (a["seq"], b["seq"]) == (2, 3) and b["prev_hash"] == a["hash"]
    assert [e["action"] for e in s.audit_entries()] == ["t.1", "t.2", "t.3"]
    _chain_ok(s)


def test_rolled_back_audit_entry_leaves_the_chain_to_a_waiting_writer(tstore):
    """Another thread's audit entry waits for the open transaction (the store's writer lock) and, once it
    has rolled back, follows the last committed entry: the chain still verifies."""
    s = tstore
    audit.record(s, actor="user:t", action="t.1")
    inside, release, done = threading.Event(), threading.Event(), []

    def other():
        inside.wait(10)
        done.append(audit.record(s, actor="user:o", action="t.other"))

    t = threading.Thread(target=other)
    t.start()
    with pytest.raises(Boom):
        with s.transaction():
            audit.record(s, actor="user:t", action="t.lost")
            inside.set()
            t.join(0.5)
            assert not done, "another writer's audit entry went in during the open transaction"
            raise Boom
    t.join(30)
    assert done and done[0]["seq"] == 2
    assert [e["action"] for e in s.audit_entries()] == ["t.1", "t.other"]
    _chain_ok(s)


# observation writes inside a transaction: listeners and the station-key cache -------------------
def test_write_listeners_hear_of_observations_only_when_the_transaction_commits(tstore):
    """``Store.on_write`` promises listeners only committed data (nagar/store/base.py WriteListeners):
    inside ``store.transaction()`` the batch is held until the outermost block commits."""
    s, heard = tstore, []
    s.on_write(lambda b: heard.append(b.column("value").to_pylist()))
    with s.transaction():
        s.write_observations(obs_table([("st1", "pm25", T0, 10.0)]))
        with s.transaction():
            s.write_observations(obs_table([("st2", "pm25", T0, 11.0)]))
        assert heard == [], "a listener heard of a write before its transaction committed"
    assert heard == [[10.0], [11.0]]
    s.write_observations(obs_table([("st1", "pm25", T0 + timedelta(hours=1), 12.0)]))  # no transaction: at once
    assert heard == [[10.0], [11.0], [12.0]]


def test_write_listeners_never_hear_of_rolled_back_observations(tstore):
    s, heard = tstore, []
    s.on_write(lambda b: heard.append(b.column("value").to_pylist()))
    with pytest.raises(Boom):
        with s.transaction():
            s.write_observations(obs_table([("st1", "pm25", T0, 10.0)]))
            raise Boom
    assert heard == [] and s.observations().num_rows == 0
    s.write_observations(obs_table([("st1", "pm25", T0, 13.0)]))
    assert heard == [[13.0]]


def test_another_threads_write_is_not_held_by_an_open_transaction(tstore):
    """The held batches belong to the thread whose transaction is open: a write from another thread
    waits for the store's writer lock (DuckDB) or its own transaction (PostgreSQL), and its listeners
    are told when it commits, not when the other transaction does."""
    s, heard = tstore, []
    s.on_write(lambda b: heard.append(b.column("value").to_pylist()))
    with s.transaction():
        s.write_observations(obs_table([("st1", "pm25", T0, 10.0)]))
    _elsewhere(lambda: s.write_observations(obs_table([("st2", "pm25", T0, 14.0)])))
    assert heard == [[10.0], [14.0]]


def test_a_station_created_in_a_rolled_back_transaction_leaves_no_stale_key(tstore):
    """A station created, written to and rolled back: its key must not stay in the store's station-key
    cache, or the station created again (a new key from the sequence) would get readings filed under the
    old, unused key, which no query by station finds."""
    s = tstore
    new = dict(id="st9", city="dhaka", name="Station 9", lat=23.7, lon=90.4, parameters=["pm25"])
    with pytest.raises(Boom):
        with s.transaction():
            s.upsert_station(new)
            s.write_observations(obs_table([("st9", "pm25", T0, 10.0)]))
            raise Boom
    assert s.get_station("st9") is None
    s.upsert_station(new)
    s.write_observations(obs_table([("st9", "pm25", T0, 15.0)]))
    assert s.observations(stations=["st9"]).column("value").to_pylist() == [15.0]


def test_reads_inside_a_transaction_see_its_writes_and_others_do_not(tstore):
    """A thread's reads inside its open transaction see that transaction's writes on both backends
    (a mapped NGSI-LD entity creates its station and validates its readings against it in one
    transaction); another thread sees them only after the commit."""
    s = tstore
    new = dict(id="st8", city="dhaka", name="Station 8", lat=23.7, lon=90.4, parameters=["pm25"])
    with s.transaction():
        s.upsert_station(new)
        assert s.get_station("st8") is not None and s.existing_stations(["st8"]) == {"st8": "dhaka"}
        assert _elsewhere(lambda: s.get_station("st8")) is None
    assert _elsewhere(lambda: s.get_station("st8")) is not None


# the NGSI-LD group commit (store.ngsild_commit) ------------------------------------------------
def _bodies(s) -> dict:
    return {r["id"]: r["body"] for r in s.ngsild_query("dhaka")}


def test_group_commit_updates_rows_the_writer_knows_and_upserts_the_rest(tstore):
    """``stored`` rows (the broker read them from the store) are updated in place, others upserted, and
    the group's audit entries go in with them (nagar/store/ngsild_tables.py ``ngsild_commit``)."""
    s = tstore
    s.ngsild_write("dhaka", put=[_entity("urn:t:1"), _entity("urn:t:2")])
    s.ngsild_commit({"dhaka": {"put": [{**_entity("urn:t:1", 5), "stored": True}, _entity("urn:t:3", 7)],
                               "history": []}},
                    [audit.entry_builder(actor="user:t", action="ngsild.group", city="dhaka")])
    assert _bodies(s) == {"urn:t:1": '{"id": "urn:t:1", "speed": 5}', "urn:t:2": '{"id": "urn:t:2", "speed": 1}',
                          "urn:t:3": '{"id": "urn:t:3", "speed": 7}'}
    assert [e["action"] for e in s.audit_entries()] == ["ngsild.group"]
    _chain_ok(s)


def test_group_commit_writes_a_row_marked_stored_that_is_not_there(tstore):
    """A row the writer believed stored but which is gone (deleted by another path since it was read) is
    still written, not lost: an update that finds fewer rows than it was given upserts them."""
    s = tstore
    s.ngsild_commit({"dhaka": {"put": [{**_entity("urn:t:1", 9), "stored": True}], "history": []}}, [])
    assert _bodies(s) == {"urn:t:1": '{"id": "urn:t:1", "speed": 9}'}
