"""NGSI-LD regular expressions behave the same on DuckDB and PostgreSQL (ETSI GS CIM 009 V1.6.1 clause 4.9
``~=`` / ``!~=`` and clause 5.7.2 ``idPattern``): no pattern is pushed into SQL, both backends' brokers
evaluate them with RE2 (nagar/ngsild/patterns.py) - the DuckDB broker over its in-memory mirror, the
PostgreSQL one over SQL candidates - so they accept the same syntax, refuse the same constructs and give
the same answers, catastrophic patterns included."""

from __future__ import annotations

import time

import pytest

from tests.store.test_backends import _seed, backend  # noqa: F401  (fixture)

EVIL = "urn:ngsi-ld:Vehicle:" + "a" * 32 + "b"
GOOD = "urn:ngsi-ld:Vehicle:" + "a" * 32


def test_patterns_same_on_both_backends(backend):  # noqa: F811
    from nagar.core.settings import Settings
    from nagar.ngsild import service
    from nagar.ngsild.context import CORE
    from nagar.ngsild.errors import BadRequestData

    s = backend.open()
    try:
        _seed(s)
        b = service.broker_of(s, Settings(secret_key="s" * 32))
        assert b.cached == (backend.kind == "duckdb")  # the two different candidate paths
        for eid, name in ((EVIL, "x" * 30), (GOOD, "x" * 30 + "y"), ("urn:ngsi-ld:Vehicle:1", "東京")):
            b.create("dhaka", {"id": eid, "type": "Vehicle", "name": name}, CORE)

        def ids(**kw):
            return sorted(e["id"] for e in b.query("dhaka", ctx=CORE, **kw))

        t0 = time.monotonic()
        assert ids(id_pattern="urn:ngsi-ld:Vehicle:(a+)+") == [GOOD]
        assert ids(id_pattern=["urn:ngsi-ld:Vehicle:(a+)+", r"urn:ngsi-ld:Vehicle:\d"]) == \
            ["urn:ngsi-ld:Vehicle:1", GOOD]
        assert ids(types="Vehicle", q='name~="(x+x+)+y"') == [GOOD]
        assert ids(types="Vehicle", q='name!~="(x+x+)+y"') == sorted([EVIL, "urn:ngsi-ld:Vehicle:1"])
        assert ids(types="Vehicle", q='name~="^\\\\p{Han}+$"') == ["urn:ngsi-ld:Vehicle:1"]  # a script, as RE2 allows
        assert time.monotonic() - t0 < 2.0  # guard only: backtracking would take minutes here
        for kw, field in ((dict(id_pattern=r"(a)\1"), "idPattern"), (dict(types="Vehicle", q='name~="(?=a)"'), "q"),
                          (dict(id_pattern="a" * 1001), "idPattern")):
            with pytest.raises(BadRequestData) as err:
                b.query("dhaka", ctx=CORE, **kw)
            assert err.value.field == field
    finally:
        service.shutdown(s)
        s.close()
