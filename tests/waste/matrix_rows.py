"""E-waste rows for the permission matrix of ``tests/security/test_matrix.py``::

    from tests.waste.matrix_rows import waste_rows
    TABLE.update(waste_rows(globals()))

Reads are scoped like every city read (another city's data is a 404); writes need the operator's right
in the city, targets and the loss tolerance the city admin's.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

#              anon padmin a_admin a_oper a_analyst b_admin a_key device
WRITE_PRIV = "401  {ok}    {ok}     {ok}    403       404     {ok}   401"
WRITE_OPEN = "401  {ok}    403     403    403       {ok}     403   401"


def _body(obj):
    return json.dumps(obj).encode(), "application/json"


def ensure_chain(store, city: str) -> None:
    """A point, a collector and a licensed recycler in ``city`` (created once)."""
    now = datetime.now(timezone.utc)
    if store.ewaste_point(f"{city}-mpt") is None:
        store.add_ewaste_point(dict(id=f"{city}-mpt", city=city, name="Matrix point", lat=23.8, lon=90.4),
                               actor="matrix", now=now)
        store.add_ewaste_handler(dict(id=f"{city}-mcol", city=city, name="Collector", role="collector"),
                                 actor="matrix", now=now)
        store.add_ewaste_handler(dict(id=f"{city}-mrec", city=city, name="Recycler", role="recycler",
                                      licence_no="M-1", licence_expires=date(2099, 1, 1)), actor="matrix", now=now)
        store.put_ewaste_pom([dict(city=city, year=2020, unu_key="0306", kg=1000.0)], actor="matrix", now=now)


def fresh_batch(store, city: str, holder: str = "mcol") -> int:
    ensure_chain(store, city)
    now = datetime.now(timezone.utc)
    ev = store.add_ewaste_event(dict(city=city, point_id=f"{city}-mpt", collector_id=f"{city}-mcol",
                                     day=date(2025, 1, 1)), [dict(category=6, kg=10.0)], actor="matrix", now=now)
    bid = ev["batches"][0]["id"]
    if holder == "mrec":
        store.add_ewaste_move(dict(city=city, batch_id=bid, kind="transfer", day=date(2025, 1, 2),
                                   from_handler=f"{city}-mcol", to_handler=f"{city}-mrec", kg_out=10.0, kg_in=10.0),
                              actor="matrix", now=now)
    return bid


def waste_rows(ns: dict) -> dict:
    Case, Route, Perm, reads, admin = ns["Case"], ns["Route"], ns["Perm"], ns["reads"], ns["admin"]
    PRIV, OPEN, every = ns["PRIV"], ns["OPEN"], ns["every"]

    def writes(ok: str) -> tuple:
        return (Case(PRIV, WRITE_PRIV.format(ok=ok)), Case(OPEN, WRITE_OPEN.format(ok=ok)))

    def chain_reads():
        def prep(ctx):
            ensure_chain(ctx.world.store, ctx.target)
            return {}
        return prep

    def batch_path(ctx):
        return {"batch_id": str(fresh_batch(ctx.world.store, ctx.target))}

    def event(ctx):
        ensure_chain(ctx.world.store, ctx.target)
        return _body({"point_id": f"{ctx.target}-mpt", "collector_id": f"{ctx.target}-mcol", "day": "2025-02-01",
                      "items": [{"category": 6, "kg": 5.0}]})

    def transfer(ctx):
        b = fresh_batch(ctx.world.store, ctx.target)
        return _body({"batch_id": b, "from_handler": f"{ctx.target}-mcol", "to_handler": f"{ctx.target}-mrec",
                      "day": "2025-02-01", "kg": 4.0})

    def processing(ctx):
        b = fresh_batch(ctx.world.store, ctx.target, holder="mrec")
        return _body({"batch_id": b, "recycler_id": f"{ctx.target}-mrec", "day": "2025-02-01", "input_kg": 10.0,
                      "materials": {"copper": 1.0}, "residues_kg": 8.0})

    prep = chain_reads()
    P = "/cities/{city}/ewaste"
    return {
        ("GET", "/ewaste/keys"): Route(Perm.PUBLIC, (Case(None, every("200")),)),
        ("GET", f"{P}/pom"): Route(Perm.READ, reads()),
        ("PUT", f"{P}/pom"): Route(Perm.WRITE, writes("200"), body=lambda ctx: _body(
            {"rows": [{"year": 2021, "unu_key": "0306", "units": 100 + ctx.n}]})),
        ("PUT", f"{P}/population"): Route(Perm.WRITE, writes("200"), body=lambda ctx: _body(
            {"rows": [{"year": 2021, "inhabitants": 1e6}]})),
        ("GET", f"{P}/generation"): Route(Perm.READ, reads(), prepare=prep),
        ("GET", f"{P}/collection-rate"): Route(Perm.READ, reads()),
        ("PUT", f"{P}/targets"): Route(Perm.ADMIN, admin("200"), body=lambda ctx: _body(
            {"rows": [{"year": 2025, "category": 0, "rate": 0.2}]})),
        ("PUT", f"{P}/settings"): Route(Perm.ADMIN, admin("200"), body=lambda ctx: _body({"loss_tolerance": 0.05})),
        ("GET", f"{P}/points"): Route(Perm.READ, reads()),
        ("POST", f"{P}/points"): Route(Perm.WRITE, writes("201"), body=lambda ctx: _body(
            {"id": f"{ctx.target}-pt-{ctx.n}", "name": "Point", "lat": 23.8, "lon": 90.4})),
        ("GET", f"{P}/handlers"): Route(Perm.READ, reads()),
        ("POST", f"{P}/handlers"): Route(Perm.WRITE, writes("201"), body=lambda ctx: _body(
            {"id": f"{ctx.target}-h-{ctx.n}", "name": "Handler", "role": "collector"})),
        ("GET", f"{P}/events"): Route(Perm.READ, reads()),
        ("POST", f"{P}/events"): Route(Perm.WRITE, writes("201"), body=event),
        ("GET", f"{P}/batches"): Route(Perm.READ, reads()),
        ("GET", f"{P}/batches/{{batch_id}}"): Route(Perm.READ, reads(), prepare=batch_path),
        ("POST", f"{P}/transfers"): Route(Perm.WRITE, writes("201"), body=transfer),
        ("POST", f"{P}/processing"): Route(Perm.WRITE, writes("201"), body=processing),
        ("GET", f"{P}/flags"): Route(Perm.READ, reads()),
    }
