"""The NGSI-LD edge (nagar.ngsild.edge) applies the normal stack's limits with the same answers: the
per-address and per-account rate limits (429 with ``Retry-After``, RFC 6585 section 4 and RFC 9110
section 10.2.3), the request body limit (413, RFC 9110 section 15.5.14) and the security headers.

As in tests/ngsild/test_edge.py, two apps share one store: ``slow`` without the credential cache (every
request through Nagar's middlewares and the routes) and ``fast`` with it (a known caller's GET of an entity,
ETSI GS CIM 009 V1.6.1 clause 5.7.1, and PATCH of an attribute, clause 5.6.4, are answered by the edge).
The same requests go to both and the answers are compared: status, body and every header. The limiters
are replaced by ones with a stopped clock (``RateLimiter``'s ``clock``), so both apps count from the same
state and ``Retry-After`` does not depend on when a request ran.
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from nagar.api.app import create_app
from nagar.core.settings import Settings
from nagar.ngsild import edge
from nagar.security.http import SECURITY_HEADERS, STRICT_TRANSPORT_SECURITY
from nagar.security.ratelimit import RateLimiter
from nagar.store.duckdb import DuckDBStore
from tests.conftest import bearer, make_user
from tests.ngsild.conftest import CTG, DHAKA, E

MAX_BODY = 256
_OPER: list[dict] = []
"""The operator's headers of the current test (``_limits`` resets the entity with them)."""
BUS = E + "/urn:ngsi-ld:Bus:1"
SPEED = BUS + "/attrs/speed"


def _app(store, tmp_path, monkeypatch, ttl: str):
    monkeypatch.setenv("NAGAR_NGSILD_AUTH_CACHE_S", ttl)
    return create_app(Settings(secret_key="s" * 32, db=tmp_path / "x.duckdb", max_body_bytes=MAX_BODY,
                               ip_rate_per_s=1e6, ip_burst=10**6, key_rate_per_s=1e6, key_burst=10**6), store=store)


def _answer(r):
    return r.status_code, (r.json() if r.content else None), sorted(r.headers.multi_items())


def _stopped(rate: float, burst: int) -> RateLimiter:
    return RateLimiter(rate, burst, clock=lambda: 10_000.0)


def _limits(client: TestClient, *, ip: tuple[float, int] | None = None, key: tuple[float, int] | None = None):
    """The bus's speed back to 5 (so both apps start a sequence from the same entity), then fresh
    limiters on ``client``'s app: ``(rate, burst)`` with a stopped clock, or unlimited."""
    state = client.app.state
    state.ip_limiter = state.key_limiter = RateLimiter(1e6, 10**6)
    r = client.patch(SPEED, headers={**_OPER[0], "Content-Type": "application/json"}, content=b'{"value": 5}')
    assert r.status_code == 204, r.text
    state.ip_limiter = _stopped(*ip) if ip else RateLimiter(1e6, 10**6)
    state.key_limiter = _stopped(*key) if key else RateLimiter(1e6, 10**6)


@pytest.fixture
def two(tmp_path, monkeypatch):
    store = DuckDBStore(tmp_path / "f.duckdb")
    store.upsert_city(DHAKA)
    store.upsert_city(CTG)
    slow = _app(store, tmp_path, monkeypatch, "0")
    fast = _app(store, tmp_path, monkeypatch, "60")
    oper = make_user(store, "oper", roles={"dhaka": "operator"})
    ana = make_user(store, "ana", roles={"dhaka": "analyst"})
    with TestClient(slow) as s, TestClient(fast) as f:
        auth = {"oper": {**bearer(slow, oper), "NGSILD-Tenant": "dhaka"},
                "ana": {**bearer(slow, ana), "NGSILD-Tenant": "dhaka"},
                "anon": {"NGSILD-Tenant": "chattogram"}}  # chattogram's data is open
        for tenant, who in (("dhaka", "oper"), ("chattogram", "oper")):
            if tenant == "chattogram":
                store.set_grant(user_id=oper["id"], city="chattogram", role="operator")
            r = s.post(E, headers={**auth[who], "NGSILD-Tenant": tenant}, json={
                "id": "urn:ngsi-ld:Bus:1", "type": "Bus", "speed": {"type": "Property", "value": 5}})
            assert r.status_code == 201, r.text
        for h in auth.values():  # the first request of a caller resolves it and fills the cache
            assert f.get(BUS, headers=h).status_code == 200
        _OPER[:] = [auth["oper"]]
        yield s, f, auth
    store.close()


def _run(client: TestClient, steps) -> tuple[list, int]:
    """Send ``steps`` (method, url, headers, json body or None) in order; the answers and how many of them
    the edge gave."""
    before = edge.ANSWERS[0]
    out = []
    for method, url, headers, body in steps:
        if body is None:
            r = client.request(method, url, headers=headers)
        else:
            r = client.request(method, url, headers={**headers, "Content-Type": "application/json"},
                               content=json.dumps(body))
        out.append(_answer(r))
    return out, edge.ANSWERS[0] - before


def _steps(h: dict, value: int) -> list:
    return [("GET", BUS, h, None), ("PATCH", SPEED, h, {"value": value}), ("GET", BUS, h, None),
            ("GET", BUS, h, None), ("PATCH", SPEED, h, {"value": value + 1}), ("GET", BUS, h, None)]


def test_address_limit_answered_alike(two):
    """Over the per-address limit (3 requests, then 4 s per request): the edge's 429 is the middleware's."""
    s, f, auth = two
    for who in ("oper", "anon"):
        steps = _steps(auth[who], 7)
        if who == "anon":  # an anonymous caller may not write: only reads
            steps = [st for st in steps if st[0] == "GET"] + [("GET", BUS, auth[who], None)]
        _limits(s, ip=(0.25, 3))
        want, _ = _run(s, steps)
        _limits(f, ip=(0.25, 3))
        got, answered = _run(f, steps)
        assert [w[0] for w in want][:3] == ([200, 204, 200] if who == "oper" else [200, 200, 200])
        assert [w[0] for w in want][3:] == [429] * (len(steps) - 3)
        assert answered == len(steps), who  # the edge answered all, the 429s included
        assert got == want, who
        refusal = dict(want[3][2])
        assert refusal["retry-after"] == "4" and want[3][1]["retry_after"] == 4


def test_account_limit_answered_alike(two):
    """Over the per-account limit (3 requests, then 4 s): the edge's 429 is ``resolve_principal``'s."""
    s, f, auth = two
    for who in ("oper", "ana"):
        steps = _steps(auth[who], 9)
        _limits(s, key=(0.25, 3))
        want, _ = _run(s, steps)
        _limits(f, key=(0.25, 3))
        got, answered = _run(f, steps)
        if who == "oper":
            assert [w[0] for w in want] == [200, 204, 200, 429, 429, 429]
            assert answered == len(steps)
        else:  # the analyst's PATCH is refused with 403 by the routes (the edge leaves it to them)
            assert [w[0] for w in want] == [200, 403, 200, 429, 429, 429]
            assert answered == len(steps) - 2  # the PATCHes
        assert got == want, who
        assert dict(want[3][2])["retry-after"] == "4" and "account" in want[3][1]["message"]
    # an anonymous caller has no account: never held by the account limit
    steps = [("GET", BUS, auth["anon"], None)] * 5
    _limits(s, key=(0.25, 1))
    want, _ = _run(s, steps)
    _limits(f, key=(0.25, 1))
    got, answered = _run(f, steps)
    assert [w[0] for w in want] == [200] * 5 and got == want and answered == 5


def test_address_limit_comes_before_the_account_limit(two):
    s, f, auth = two
    steps = [("GET", BUS, auth["oper"], None)] * 3
    _limits(s, ip=(0.5, 2), key=(0.1, 2))
    want, _ = _run(s, steps)
    _limits(f, ip=(0.5, 2), key=(0.1, 2))
    got, answered = _run(f, steps)
    assert [w[0] for w in want] == [200, 200, 429]
    assert dict(want[2][2])["retry-after"] == "2" and "account" not in want[2][1]["message"]
    assert got == want and answered == 3


def _patch_raw(client: TestClient, h: dict, raw: bytes):
    r = client.patch(SPEED, headers={**h, "Content-Type": "application/json"}, content=raw)
    return _answer(r)


def _body_of(size: int, value: int) -> bytes:
    raw = json.dumps({"value": value}).encode()
    return raw + b" " * (size - len(raw))  # JSON allows trailing white space (RFC 8259 section 2)


def _speed(client: TestClient, h: dict):
    return client.get(BUS, params={"options": "keyValues"}, headers=h).json()["speed"]


def test_body_over_the_limit_declined_by_the_edge_and_refused_413(two):
    s, f, auth = two
    h = auth["oper"]
    # at the limit: accepted, by the edge on the fast app
    want = _patch_raw(s, h, _body_of(MAX_BODY, 11))
    n = edge.ANSWERS[0]
    got = _patch_raw(f, h, _body_of(MAX_BODY, 11))
    assert want[0] == 204 and got == want and edge.ANSWERS[0] - n == 1
    # one byte over: the edge leaves it to the stack, whose body limit refuses it
    want = _patch_raw(s, h, _body_of(MAX_BODY + 1, 12))
    n = edge.ANSWERS[0]
    got = _patch_raw(f, h, _body_of(MAX_BODY + 1, 12))
    assert edge.ANSWERS[0] == n, "the edge answered a body over max_body_bytes"
    assert want[0] == 413 and want[1]["field"] == "body" and got == want
    assert _speed(s, h) == 11  # not written
    # far over: the same
    want = _patch_raw(s, h, _body_of(10 * MAX_BODY, 13))
    got = _patch_raw(f, h, _body_of(10 * MAX_BODY, 13))
    assert want[0] == 413 and got == want and _speed(s, h) == 11


def test_chunked_body_over_the_limit_refused_413_by_both(two):
    """Without a Content-Length the edge declines; the stack counts the streamed bytes."""
    s, f, auth = two
    h = {**auth["oper"], "Content-Type": "application/json"}

    def chunks(raw: bytes):
        for i in range(0, len(raw), 64):
            yield raw[i:i + 64]

    answers = []
    for c in (s, f):
        n = edge.ANSWERS[0]
        small = c.patch(SPEED, headers=h, content=chunks(_body_of(100, 21)))
        big = c.patch(SPEED, headers=h, content=chunks(_body_of(MAX_BODY + 64, 22)))
        assert edge.ANSWERS[0] == n
        answers.append((_answer(small), _answer(big)))
    assert answers[0][0][0] == 204 and answers[0][1][0] == 413
    assert answers[1] == answers[0]
    assert _speed(s, auth["oper"]) == 21


@pytest.mark.parametrize("base_url", ["http://testserver", "https://testserver"])
def test_security_headers_of_edge_answers(two, base_url):
    """Every answer the edge gives (200, 204, a 400 error, a 429) carries the security headers the stack's
    SecurityHeadersMiddleware adds, with the same values; over HTTPS, Strict-Transport-Security too."""
    s, f, auth = two
    s.base_url = f.base_url = base_url  # the scope's scheme follows the URL (https: HSTS)
    h = auth["oper"]
    steps = [("GET", BUS, h, None), ("PATCH", SPEED, h, {"value": 31}), ("PATCH", SPEED, h, {}),
             ("GET", BUS, h, None)]
    _limits(s, ip=(0.25, 3))
    want, _ = _run(s, steps)
    _limits(f, ip=(0.25, 3))
    got, answered = _run(f, steps)
    assert [w[0] for w in want] == [200, 204, 400, 429] and answered == 4
    expected = {k.lower(): v for k, v in SECURITY_HEADERS}
    if base_url.startswith("https"):
        expected["strict-transport-security"] = STRICT_TRANSPORT_SECURITY
    for (_, _, wh), (_, _, gh) in zip(want, got):
        names = set(expected) | {"strict-transport-security"}
        w_sec = [(k, v) for k, v in wh if k in names]
        g_sec = [(k, v) for k, v in gh if k in names]
        assert g_sec == w_sec
        assert dict(g_sec) == expected
        assert len(g_sec) == len(expected)  # each once
    assert got == want
