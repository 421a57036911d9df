"""The NGSI-LD group commit (nagar/ngsild/service.py ``Broker._run_group`` / ``Broker._flush``): a group's
entity changes and their audit entries are written in one store transaction, and every waiter of the
group is answered.

- If the audit write fails, nothing of the group is stored, every request of the group gets the error,
  and neither the broker's entity cache nor its query mirror shows the unwritten values (an update is
  acknowledged only once it is stored: ETSI GS CIM 009 V1.6.1 clause 5.6.4 "Partial Attribute update",
  clause 5.5.2 for the error answer).
- ``submit_async`` futures (the HTTP routes' waiters) of one group are all settled, each with its own
  outcome.

The audit write is made to fail by :class:`_Fault`, which replaces ``nagar.security.audit.entry_hash``:
every audit entry's row is built with it inside the store transaction, whether through
``audit.record`` -> ``store.append_audit`` or a store method that appends a group's entries itself.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import threading
import time

import httpx
import pytest

from nagar.core.errors import StoreError
from nagar.ngsild.context import CORE
from nagar.ngsild.errors import ResourceNotFound
from nagar.ngsild.service import Broker, broker_of
from nagar.security import audit
from tests.ngsild.conftest import E

V = CORE.expand("v")


def _broker(world) -> Broker:
    return broker_of(world["store"], world["app"].state.settings)


def _hold(b: Broker) -> threading.Event:
    """Keep the writer busy until the returned event is set, so that the jobs queued meanwhile form one
    group (the writer takes everything queued once it is free)."""
    gate, started = threading.Event(), threading.Event()

    def wait():
        started.set()
        gate.wait(30)

    b.submit(wait)
    assert started.wait(10)
    return gate


class _Submits:
    """Counts the jobs queued through ``b.submit_async`` (the HTTP routes' and the edge's way in)."""

    def __init__(self, b: Broker, monkeypatch):
        self.n = 0
        real = b.submit_async

        def counting(*a, **kw):
            fut = real(*a, **kw)
            self.n += 1
            return fut

        monkeypatch.setattr(b, "submit_async", counting)

    def wait(self, n: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while self.n < n:
            assert time.monotonic() < deadline, f"{self.n} of {n} jobs queued"
            time.sleep(0.005)


def _patch_within(world, url: str, body: dict, seconds: float = 20.0) -> httpx.Response:
    """One PATCH over the ASGI interface as dhaka's operator; fails the test (instead of hanging it) if
    no answer comes within ``seconds``."""
    async def main():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=world["app"]), base_url="http://t") as c:
            return await asyncio.wait_for(c.patch(url, json=body, headers={**world["api"].auth,
                                                                          "NGSILD-Tenant": "dhaka"}), seconds)
    return asyncio.run(main())


def _stored_v(store, eid: str):
    row = store.ngsild_get("dhaka", eid)
    return json.loads(row["body"])["attrs"][V][0]["value"]


def _audit_actions(store) -> list[str]:
    return [e["action"] for e in store.audit_entries()]


class _Fault:
    """Stands in for ``audit.entry_hash``; once armed, the ``fail_at``-th audit entry built fails with a
    StoreError (``fail_at`` 2: after a first entry of the group was written, which must be rolled back)."""

    def __init__(self):
        self.real, self.fail_at, self.calls = audit.entry_hash, None, 0

    def arm(self, fail_at: int = 1) -> None:
        self.fail_at, self.calls = fail_at, 0

    def disarm(self) -> None:
        self.fail_at = None

    def __call__(self, fields):
        if self.fail_at is not None:
            self.calls += 1
            if self.calls >= self.fail_at:
                raise StoreError("audit log unavailable (test)")
        return self.real(fields)


@pytest.fixture
def fault(monkeypatch):
    f = _Fault()
    monkeypatch.setattr(audit, "entry_hash", f)
    return f


def test_failed_audit_write_stores_nothing_of_the_http_request(api, world, fault):
    assert api.post(E, {"id": "urn:ngsi-ld:Meter:a", "type": "Meter", "v": 0}).status_code == 201
    assert api.get(E + "/urn:ngsi-ld:Meter:a", params={"options": "keyValues"}).json()["v"] == 0  # cached now
    assert api.get(E, params={"type": "Meter", "options": "keyValues"}).json()[0]["v"] == 0  # mirror loaded
    audited = _audit_actions(world["store"])
    fault.arm()
    r = _patch_within(world, E + "/urn:ngsi-ld:Meter:a/attrs/v", {"value": 5})
    assert r.status_code == 503, r.text
    assert r.json()["error"] == "store_error"
    assert fault.calls == 1
    # not stored, and the broker shows the old value: single entity (cache) and query (mirror)
    assert _stored_v(world["store"], "urn:ngsi-ld:Meter:a") == 0
    assert api.get(E + "/urn:ngsi-ld:Meter:a", params={"options": "keyValues"}).json()["v"] == 0
    assert api.get(E, params={"type": "Meter", "options": "keyValues"}).json()[0]["v"] == 0
    assert [h["value_num"] for h in world["store"].ngsild_history("dhaka", "urn:ngsi-ld:Meter:a")] == [0.0]
    fault.disarm()
    assert _audit_actions(world["store"]) == audited
    assert audit.verify_store(world["store"]).ok
    # the writer survived: with the audit log back, the same request succeeds
    assert api.patch(E + "/urn:ngsi-ld:Meter:a/attrs/v", {"value": 6}).status_code == 204
    assert _stored_v(world["store"], "urn:ngsi-ld:Meter:a") == 6
    assert api.get(E + "/urn:ngsi-ld:Meter:a", params={"options": "keyValues"}).json()["v"] == 6
    assert _audit_actions(world["store"])[-1] == "ngsild.attr.update"
    assert audit.verify_store(world["store"]).ok


@pytest.mark.parametrize("fail_at", [1, 2], ids=["first-entry-fails", "second-entry-fails"])
def test_failed_audit_write_fails_the_whole_group(world, fault, fail_at):
    """A group of updates, creates and deletes of two callers (thread waiters; two audit entries): every
    job with a change gets the store's error, none of the changes is stored or cached."""
    store = world["store"]
    b = _broker(world)
    for i in range(3):
        b.create("dhaka", {"id": f"urn:ngsi-ld:Meter:g{i}", "type": "Meter", "v": 0}, CORE)
    for i in range(3):
        assert b.get("dhaka", f"urn:ngsi-ld:Meter:g{i}")["attrs"][V][0]["value"] == 0  # cached
    audited = _audit_actions(store)
    fault.arm(fail_at)

    def au(action, eid, actor="user:t"):
        return (actor, action, "dhaka", eid, None)

    gate = _hold(b)
    futs = [Broker.patch_attr.submit(b, "dhaka", f"urn:ngsi-ld:Meter:g{i}", "v", {"value": 10 + k}, CORE,
                                     audit=au("ngsild.attr.update", f"urn:ngsi-ld:Meter:g{i}"))
            for k in range(4) for i in range(2)]
    futs.append(Broker.create.submit(b, "dhaka", {"id": "urn:ngsi-ld:Meter:new", "type": "Meter", "v": 1}, CORE,
                                     audit=au("ngsild.entity.create", "urn:ngsi-ld:Meter:new")))
    futs.append(Broker.delete.submit(b, "dhaka", "urn:ngsi-ld:Meter:g2",
                                     audit=au("ngsild.entity.delete", "urn:ngsi-ld:Meter:g2", "user:u")))
    gate.set()
    done, not_done = concurrent.futures.wait(futs, timeout=20)
    assert not not_done, f"{len(not_done)} of {len(futs)} waiters never answered"
    for f in futs:
        with pytest.raises(StoreError):
            f.result()
    assert fault.calls == fail_at
    for i in range(3):
        assert _stored_v(store, f"urn:ngsi-ld:Meter:g{i}") == 0
        assert b.get("dhaka", f"urn:ngsi-ld:Meter:g{i}")["attrs"][V][0]["value"] == 0
    assert store.ngsild_get("dhaka", "urn:ngsi-ld:Meter:new") is None
    with pytest.raises(ResourceNotFound):
        b.get("dhaka", "urn:ngsi-ld:Meter:new")
    assert sorted(e["id"] for e in b.query("dhaka", types="Meter")) == [f"urn:ngsi-ld:Meter:g{i}" for i in range(3)]
    fault.disarm()
    assert _audit_actions(store) == audited
    assert audit.verify_store(store).ok


@pytest.mark.parametrize("fail_at", [1, 2], ids=["first-entry-fails", "second-entry-fails"])
def test_failed_audit_write_fails_every_async_waiter_of_the_group(world, fault, fail_at):
    """``submit_async`` waiters of a failed group (two callers: two audit entries) are all settled with
    the error (none left hanging)."""
    store = world["store"]
    b = _broker(world)
    b.create("dhaka", {"id": "urn:ngsi-ld:Meter:s", "type": "Meter", "v": 0}, CORE)
    audited = _audit_actions(store)
    fault.arm(fail_at)

    async def main():
        gate = _hold(b)
        futs = [Broker.patch_attr.submit_async(b, "dhaka", "urn:ngsi-ld:Meter:s", "v", {"value": i}, CORE,
                                               audit=(f"user:{'tu'[i % 2]}", "ngsild.attr.update", "dhaka", "s", None))
                for i in range(1, 21)]
        gate.set()
        return await asyncio.wait_for(asyncio.gather(*futs, return_exceptions=True), 20)

    got = asyncio.run(main())
    assert len(got) == 20 and all(isinstance(x, StoreError) for x in got), got
    assert _stored_v(store, "urn:ngsi-ld:Meter:s") == 0
    assert b.get("dhaka", "urn:ngsi-ld:Meter:s")["attrs"][V][0]["value"] == 0
    fault.disarm()
    assert _audit_actions(store) == audited
    assert audit.verify_store(store).ok


def test_async_waiters_of_one_group_are_all_answered(world, monkeypatch):
    """50 concurrent PATCH requests (clause 5.6.4) over the ASGI interface, queued while the writer is busy
    so that they form one group: all answered 204, all values stored, one audit entry for the group."""
    store, app = world["store"], world["app"]
    auth = world["api"].auth
    b = _broker(world)
    n = 50
    for i in range(n):
        b.create("dhaka", {"id": f"urn:ngsi-ld:Meter:p{i}", "type": "Meter", "v": 0}, CORE)
    submits = _Submits(b, monkeypatch)
    audited = len(store.audit_entries())

    async def main():
        gate = _hold(b)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            h = {**auth, "NGSILD-Tenant": "dhaka"}
            tasks = [asyncio.create_task(c.patch(E + f"/urn:ngsi-ld:Meter:p{i}/attrs/v", json={"value": i + 1},
                                                 headers=h)) for i in range(n)]
            await asyncio.to_thread(submits.wait, n)
            gate.set()
            return await asyncio.wait_for(asyncio.gather(*tasks), 30)

    answers = asyncio.run(main())
    assert [r.status_code for r in answers] == [204] * n, [r.text for r in answers if r.status_code != 204][:3]
    for i in range(n):
        assert _stored_v(store, f"urn:ngsi-ld:Meter:p{i}") == i + 1
        assert b.get("dhaka", f"urn:ngsi-ld:Meter:p{i}")["attrs"][V][0]["value"] == i + 1
    new = store.audit_entries()[audited:]
    # one caller, one city: one entry per group, so one entry means the 50 went in one group
    assert [e["action"] for e in new] == ["ngsild.group"]
    ops = json.loads(new[0]["details"])["operations"]
    assert sorted(ops) == sorted(["ngsild.attr.update", f"urn:ngsi-ld:Meter:p{i}"] for i in range(n))
    assert audit.verify_store(store).ok


def test_one_failing_request_does_not_fail_its_async_group(world, monkeypatch):
    """In one group, a request for a missing entity gets its own 404 (clause 5.6.4 ResourceNotFound), the
    others their 204."""
    store, app = world["store"], world["app"]
    auth = world["api"].auth
    b = _broker(world)
    for i in range(5):
        b.create("dhaka", {"id": f"urn:ngsi-ld:Meter:q{i}", "type": "Meter", "v": 0}, CORE)
    submits = _Submits(b, monkeypatch)

    async def main():
        gate = _hold(b)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            h = {**auth, "NGSILD-Tenant": "dhaka"}
            ids = [f"urn:ngsi-ld:Meter:q{i}" for i in range(5)]
            ids.insert(2, "urn:ngsi-ld:Meter:none")
            tasks = [asyncio.create_task(c.patch(E + f"/{eid}/attrs/v", json={"value": 9}, headers=h)) for eid in ids]
            await asyncio.to_thread(submits.wait, len(ids))
            gate.set()
            return await asyncio.wait_for(asyncio.gather(*tasks), 30)

    answers = asyncio.run(main())
    assert [r.status_code for r in answers] == [204, 204, 404, 204, 204, 204]
    assert all(_stored_v(store, f"urn:ngsi-ld:Meter:q{i}") == 9 for i in range(5))


def test_failed_audit_write_stores_no_observation_of_a_mapped_entity(api, world, fault):
    """A PATCH of an AirQualityObserved entity's pm25 (clause 5.6.4; mapped to an observation of its
    station) whose audit write fails: answered with the error, so neither the observation nor the
    entity's read may show the new value."""
    from tests.ngsild.test_mapping_query_batch import _hour, aqo

    assert api.post(E, aqo(pm25=20.0, when=_hour(3))).status_code == 201
    fault.arm()
    url = E + "/urn:ngsi-ld:AirQualityObserved:dhaka-agargaon/attrs/pm25"
    r = _patch_within(world, url, {"value": 30.0, "observedAt": _hour(2)})
    assert r.status_code == 503
    got = api.get(E + "/urn:ngsi-ld:AirQualityObserved:dhaka-agargaon").json()
    obs = world["store"].observations(stations=["dhaka-agargaon"], parameters=["pm25"]).column("value").to_pylist()
    assert (got["pm25"]["value"], obs) == (20.0, [20.0])
