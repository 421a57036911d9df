"""Client regular expressions (ETSI GS CIM 009 V1.6.1 clause 4.9 ``~=`` / ``!~=``, clause 5.7.2 and EntityInfo
5.2.8 ``idPattern``) run in linear time (RE2, nagar/ngsild/patterns.py): patterns that make a backtracking
engine take exponential time answer at once, constructs RE2 cannot run answer 400 BadRequestData naming the
parameter, and ordinary patterns match as before.

The catastrophic inputs are sized so that Python's backtracking ``re`` would need minutes (about 2^n steps:
``(a+)+`` over 32 a's and a b, ``(x+x+)+y`` over 30 x's; measured ~0.2 s at n=22 and doubling per character),
not forever, so a regression fails the time guard instead of hanging the suite. The 2 s bound is only a
guard for a shared machine; the assertions are on the answers."""

from __future__ import annotations

import time

from tests.ngsild.conftest import E
from tests.ngsild.test_subscriptions import S, _wait, receiver  # noqa: F401 (receiver is a fixture)

ERR = "https://uri.etsi.org/ngsi-ld/errors/"
Q = "/ngsi-ld/v1/entityOperations/query"
EVIL_ID = "urn:ngsi-ld:Vehicle:" + "a" * 32 + "b"  # (a+)+ must backtrack over every split of the a's
GOOD_ID = "urn:ngsi-ld:Vehicle:" + "a" * 32
GUARD_S = 2.0


def _ids(r):
    assert r.status_code == 200, r.text
    return sorted(e["id"] for e in r.json())


def _timed(fn):
    t0 = time.monotonic()
    r = fn()
    return r, time.monotonic() - t0


def _bad(r, field: str, *words: str) -> dict:
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["type"] == ERR + "BadRequestData" and body["field"] == field, body
    for w in words:
        assert w in body["detail"], body
    return body


def test_catastrophic_id_pattern_answers_at_once(api):
    """Clause 5.7.2 idPattern (GET and POST /entityOperations/query): ``(a+)+`` against 32 a's then b."""
    for eid in (EVIL_ID, GOOD_ID):
        assert api.post(E, {"id": eid, "type": "Vehicle", "speed": 1}).status_code == 201
    pat = "urn:ngsi-ld:Vehicle:(a+)+"
    r, took = _timed(lambda: api.get(E, params={"idPattern": pat}))
    assert _ids(r) == [GOOD_ID] and took < GUARD_S, took
    r, took = _timed(lambda: api.get(E, params={"idPattern": "^" + pat + "$", "type": "Vehicle"}))
    assert _ids(r) == [GOOD_ID] and took < GUARD_S, took
    r, took = _timed(lambda: api.post(Q, {"type": "Query", "entities": [{"type": "Vehicle", "idPattern": pat}]}))
    assert _ids(r) == [GOOD_ID] and took < GUARD_S, took


def test_catastrophic_q_pattern_answers_at_once(api):
    """Clause 4.9 ``~=`` / ``!~=``: ``(x+x+)+y`` searched in a value of 30 x's (no y: no match)."""
    api.post(E, {"id": "urn:ngsi-ld:Vehicle:x", "type": "Vehicle", "name": "x" * 30})
    api.post(E, {"id": "urn:ngsi-ld:Vehicle:y", "type": "Vehicle", "name": "x" * 30 + "y"})
    r, took = _timed(lambda: api.get(E, params={"type": "Vehicle", "q": 'name~="(x+x+)+y"'}))
    assert _ids(r) == ["urn:ngsi-ld:Vehicle:y"] and took < GUARD_S, took
    r, took = _timed(lambda: api.get(E, params={"type": "Vehicle", "q": 'name!~="(x+x+)+y"'}))
    assert _ids(r) == ["urn:ngsi-ld:Vehicle:x"] and took < GUARD_S, took


def test_unsupported_constructs_answer_400_naming_the_parameter(api):
    """Backreferences and lookaround are not IEEE 1003.2 extended regular expressions (clause 4.9 RegExp)
    and RE2 cannot run them: 400 BadRequestData with the parameter in ``field`` and the reason in ``detail``."""
    api.post(E, {"id": "urn:ngsi-ld:Vehicle:1", "type": "Vehicle", "name": "aa"})
    cases = [(r"(a)\1", "backreferences"), (r"(?P<x>a)(?P=x)", "backreferences"), ("(?=a)a", "lookahead"),
             ("(?<!b)a", "lookbehind"), ("a++", "possessive"), ("a{1001}", "repetition counts above 1000"),
             (r"a\Z", r"\z"), ("(a", "missing )")]
    for pat, why in cases:
        _bad(api.get(E, params={"idPattern": pat}), "idPattern", "idPattern", why)
        q = 'name~="' + pat.replace("\\", "\\\\") + '"'  # a JSON string in q: backslashes doubled
        _bad(api.get(E, params={"type": "Vehicle", "q": q}), "q", "q:", why)
    _bad(api.post(Q, {"type": "Query", "entities": [{"type": "Vehicle", "idPattern": "(?=u)"}]}),
         "entities.idPattern", "lookahead")
    _bad(api.get("/ngsi-ld/v1/temporal/entities", params={"idPattern": r"(a)\1"}), "idPattern", "backreferences")
    _bad(api.get(E, params={"type": "Vehicle", "q": 'name!~="(?!a)"'}), "q", "lookahead")


def test_pattern_length_cap(api):
    """A pattern is at most 1,000 characters (each idPattern of a POST query on its own)."""
    api.post(E, {"id": "urn:ngsi-ld:Vehicle:1", "type": "Vehicle", "name": "aa"})
    long_ok = "urn:ngsi-ld:Vehicle:" + "a?" * 489 + r"\d"  # 1,000 characters
    assert len(long_ok) == 1000
    assert _ids(api.get(E, params={"idPattern": long_ok})) == ["urn:ngsi-ld:Vehicle:1"]
    _bad(api.get(E, params={"idPattern": long_ok + "?"}), "idPattern", "1001 characters", "1000")
    _bad(api.get(E, params={"type": "Vehicle", "q": 'name~="' + "a" * 1001 + '"'}), "q", "1000")
    two = [{"type": "Vehicle", "idPattern": "urn:ngsi-ld:Vehicle:1" + "a?" * 300},
           {"type": "Vehicle", "idPattern": "urn:ngsi-ld:Bike:1" + "b?" * 300}]  # 1,200 characters together
    assert _ids(api.post(Q, {"type": "Query", "entities": two})) == ["urn:ngsi-ld:Vehicle:1"]


def test_ordinary_patterns_match_as_before(api):
    """Clause 4.9 / 5.7.2 with the common syntax: classes, ranges, alternation, anchors, case flag, POSIX
    classes, Unicode properties; idPattern matches the whole id, ``~=`` anywhere in a String value (and
    never a non-String one). The documented difference: ``\\w`` is ASCII in RE2, ``\\p{L}`` is Unicode."""
    names = {"0": "bus-0", "1": "Bus-1", "2": "東京", "3": "ঢাকা বাস"}
    for i, name in names.items():
        api.post(E, {"id": f"urn:ngsi-ld:Vehicle:{i}", "type": "Vehicle", "name": name, "speed": 10 * int(i)})
    ids = lambda pat: [i.rsplit(":", 1)[-1] for i in _ids(api.get(E, params={"idPattern": pat}))]  # noqa: E731
    q = lambda expr: [i.rsplit(":", 1)[-1] for i in _ids(api.get(E, params={"type": "Vehicle", "q": expr}))]  # noqa: E731
    assert ids(r"urn:ngsi-ld:Vehicle:[12]") == ["1", "2"]
    assert ids(r"urn:ngsi-ld:Vehicle:\d") == ["0", "1", "2", "3"]
    assert ids(r"urn:ngsi-ld:Vehicle:(0|3)") == ["0", "3"]
    assert ids(r"(?i)URN:NGSI-LD:VEHICLE:[[:digit:]]") == ["0", "1", "2", "3"]
    assert ids("urn:ngsi-ld:Vehicle") == []  # whole id, not a prefix
    assert ids("urn:ngsi-ld:Vehicle:.*") == ["0", "1", "2", "3"]
    assert q('name~="bus-[01]"') == ["0"]
    assert q('name~="(?i)^bus-[01]$"') == ["0", "1"]
    assert q('name!~="^bus"') == ["1", "2", "3"]
    assert q('name~="^\\\\p{L}+$"') == ["2"]  # Unicode letters (the clause's own \p{L})
    assert q('name~="^\\\\w+$"') == []  # RE2's \w is ASCII: documented difference from Python's re
    assert q('name~="বাস"') == ["3"]
    assert q('speed~="1"') == []  # a number is not a String: never matches


def test_subscription_id_pattern_checked_and_matched_by_re2(api, receiver):
    """Clause 5.8.1 with an EntityInfo idPattern (5.2.8): a pattern RE2 refuses is a 400 at creation (it
    would be matched against every notified entity); a catastrophic one notifies the matching entity only,
    and the writes that test it answer at once."""
    url, got, _ = receiver
    sub = {"type": "Subscription", "notification": {"endpoint": {"uri": url + "/ok"}}}
    _bad(api.post(S, {**sub, "entities": [{"type": "Vehicle", "idPattern": "(?<=a)b"}]}),
         "entities.idPattern", "lookbehind")
    _bad(api.post(S, {**sub, "entities": [{"type": "Vehicle", "idPattern": "a" * 1001}]}),
         "entities.idPattern", "1000")
    r = api.post(S, {**sub, "entities": [{"type": "Vehicle", "idPattern": "urn:ngsi-ld:Vehicle:(a+)+"}]})
    assert r.status_code == 201, r.text
    sid = r.headers["location"].rsplit("/", 1)[-1]
    _bad(api.patch(f"{S}/{sid}", {"entities": [{"type": "Vehicle", "idPattern": r"(a)\1"}]}),
         "entities.idPattern", "backreferences")
    _, took = _timed(lambda: api.post(E, {"id": EVIL_ID, "type": "Vehicle", "speed": 1}))
    assert took < GUARD_S, took
    api.post(E, {"id": GOOD_ID, "type": "Vehicle", "speed": 2})
    assert _wait(lambda: len(got) >= 1)
    time.sleep(0.2)  # a notification for EVIL_ID, had it matched, would have been sent before GOOD_ID's
    assert [n["data"][0]["id"] for _, n in got] == [GOOD_ID]
