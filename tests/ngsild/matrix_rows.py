"""NGSI-LD rows for the permission matrix of ``tests/security/test_matrix.py`` (wired there with one import
and one line, like the funding rows). The tenant of each case is sent in the ``NGSILD-Tenant`` header (the
matrix fills header parameters from its VALUES: ``{city}``). Reads answer like any city read (404 to who
may not see the private city: NonexistentTenant); writes need the city's write right (404 for a city not
visible, 403 for one visible without the right)."""

from __future__ import annotations

import json

N = "/ngsi-ld/v1"
#              anon padmin a_admin a_oper a_analyst b_admin a_key device
WRITE_PRIV = "401  {ok}    {ok}     {ok}    403       404     {ok}   401"
WRITE_OPEN = "401  {ok}    403     403    403       {ok}     403   401"


def _body(obj):
    return json.dumps(obj).encode(), "application/json"


def _broker(ctx):
    from nagar.ngsild.service import broker_of

    return broker_of(ctx.world.store, ctx.world.app.state.settings)


def _entity(n: int) -> dict:
    return {"id": f"urn:ngsi-ld:MatrixThing:m{n}", "type": "MatrixThing", "speed": 1,
            "speed2": [{"type": "Property", "value": 1}]}


def fresh_entity(ctx) -> dict:
    from nagar.ngsild.context import CORE

    ent = _entity(ctx.n)
    _broker(ctx).create(ctx.target, ent, CORE)
    return {"entityId": ent["id"], "attrId": "speed"}


def fresh_subscription(ctx) -> dict:
    from nagar.ngsild.context import CORE

    sub = _broker(ctx).subscriptions.create(ctx.target, _sub(ctx.n), None, CORE)
    return {"subscriptionId": sub["id"]}


def _sub(n: int) -> dict:
    return {"id": f"urn:ngsi-ld:Subscription:m{n}", "type": "Subscription", "entities": [{"type": "NoSuchType"}],
            "notification": {"endpoint": {"uri": "https://hooks.example.org/never"}}}


def ngsild_rows(ns: dict) -> dict:
    """The TABLE rows of the NGSI-LD routes, built from the matrix module's namespace ``ns``."""
    Case, Route, Perm, reads = ns["Case"], ns["Route"], ns["Perm"], ns["reads"]
    PRIV, OPEN = ns["PRIV"], ns["OPEN"]

    def writes(ok: str) -> tuple:
        return (Case(PRIV, WRITE_PRIV.format(ok=ok)), Case(OPEN, WRITE_OPEN.format(ok=ok)))

    def update_body(ctx):
        fresh_entity(ctx)
        return _body([{"id": _entity(ctx.n)["id"], "speed": 2}])

    def delete_body(ctx):
        fresh_entity(ctx)
        return _body([_entity(ctx.n)["id"]])

    typ = (("type", "MatrixThing"),)
    return {**temporal_rows(ns),
        ("POST", N + "/entities"): Route(Perm.WRITE, writes("201"), body=lambda ctx: _body(_entity(ctx.n))),
        ("GET", N + "/entities"): Route(Perm.READ, reads(typ), prepare=fresh_entity),
        ("GET", N + "/entities/{entityId}"): Route(Perm.READ, reads(), prepare=fresh_entity),
        ("PUT", N + "/entities/{entityId}"): Route(Perm.WRITE, writes("204"), prepare=fresh_entity,
                                                   body=lambda ctx: _body({"type": "MatrixThing", "speed": 3})),
        ("DELETE", N + "/entities/{entityId}"): Route(Perm.WRITE, writes("204"), prepare=fresh_entity),
        ("POST", N + "/entities/{entityId}/attrs"): Route(Perm.WRITE, writes("204"), prepare=fresh_entity,
                                                          body=lambda ctx: _body({"colour": "red"})),
        ("PATCH", N + "/entities/{entityId}/attrs"): Route(Perm.WRITE, writes("204"), prepare=fresh_entity,
                                                           body=lambda ctx: _body({"speed": 4})),
        ("PATCH", N + "/entities/{entityId}/attrs/{attrId}"): Route(Perm.WRITE, writes("204"), prepare=fresh_entity,
                                                                    body=lambda ctx: _body({"value": 5})),
        ("DELETE", N + "/entities/{entityId}/attrs/{attrId}"): Route(Perm.WRITE, writes("204"),
                                                                     prepare=fresh_entity),
        ("POST", N + "/entityOperations/create"): Route(Perm.WRITE, writes("201"),
                                                        body=lambda ctx: _body([_entity(ctx.n)])),
        ("POST", N + "/entityOperations/upsert"): Route(Perm.WRITE, writes("201"),
                                                        body=lambda ctx: _body([_entity(ctx.n)])),
        ("POST", N + "/entityOperations/update"): Route(Perm.WRITE, writes("204"), body=update_body),
        ("POST", N + "/entityOperations/delete"): Route(Perm.WRITE, writes("204"), body=delete_body),
        ("POST", N + "/entityOperations/query"): Route(
            Perm.READ, reads(), body=lambda ctx: _body({"type": "Query", "entities": [{"type": "MatrixThing"}]})),
        ("POST", N + "/subscriptions"): Route(Perm.WRITE, writes("201"), body=lambda ctx: _body(_sub(ctx.n))),
        ("GET", N + "/subscriptions"): Route(Perm.READ, reads()),
        ("GET", N + "/subscriptions/{subscriptionId}"): Route(Perm.READ, reads(), prepare=fresh_subscription),
        ("PATCH", N + "/subscriptions/{subscriptionId}"): Route(Perm.WRITE, writes("204"), prepare=fresh_subscription,
                                                                body=lambda ctx: _body({"throttling": 5})),
        ("DELETE", N + "/subscriptions/{subscriptionId}"): Route(Perm.WRITE, writes("204"),
                                                                 prepare=fresh_subscription),
    }


def temporal_rows(ns: dict) -> dict:
    Route, Perm, reads = ns["Route"], ns["Perm"], ns["reads"]
    return {("GET", N + "/temporal/entities/{entityId}"): Route(Perm.READ, reads(), prepare=fresh_entity),
            ("GET", N + "/temporal/entities"): Route(Perm.READ, reads((("type", "MatrixThing"),)),
                                                     prepare=fresh_entity)}
