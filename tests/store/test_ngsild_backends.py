"""The NGSI-LD store mixin on both backends (DuckDB and PostgreSQL, see tests/store/test_backends.py)."""

from __future__ import annotations

from datetime import datetime, timezone

from tests.store.test_backends import _seed, backend  # noqa: F401  (fixture)


def test_ngsild_mixin(backend):  # noqa: F811
    from nagar.store.ngsild_tables import NgsildTables

    s = backend.open((NgsildTables,))
    try:
        _seed(s)
        t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
        put = [{"id": "urn:a:1", "types": '["https://x/T"]', "body": '{"id": "urn:a:1"}', "station": None,
                "created_at": t0, "modified_at": t0}]
        hist = [{"entity_id": "urn:a:1", "attr": "https://x/p", "dataset_id": None,
                 "time": t0.replace(minute=m), "value_num": v, "value_text": str(v), "instance": "{}"}
                for m, v in ((0, 1.0), (10, 3.0), (20, 3.0))]
        s.ngsild_write("dhaka", put=put, history=hist)
        assert s.ngsild_get("dhaka", "urn:a:1")["body"] == '{"id": "urn:a:1"}'
        assert s.ngsild_get("ctg", "urn:a:1") is None
        assert [r["id"] for r in s.ngsild_query("dhaka", type_like=["%https://x/T%"])] == ["urn:a:1"]
        assert s.ngsild_existing("dhaka", ["urn:a:1", "urn:b"]) == {"urn:a:1"}
        assert [r["value_num"] for r in s.ngsild_history("dhaka", "urn:a:1", last_n=2)] == [3.0, 3.0]
        agg = s.ngsild_history_aggregate("dhaka", "urn:a:1", attrs=None, period_s=3600, start=t0,
                                         end=t0.replace(hour=5), origin=t0)
        assert [(r["total_count"], r["distinct_count"], float(r["avg"])) for r in agg] == [(3, 2, 7.0 / 3)]
        assert s.ngsild_put_subscription("dhaka", "urn:s:1", "{}", create=True)
        assert not s.ngsild_put_subscription("dhaka", "urn:s:1", "{}", create=True)
        s.ngsild_notified("dhaka", "urn:s:1", at=t0, ok=True)
        sub = s.ngsild_subscriptions("dhaka", "urn:s:1")[0]
        assert sub["times_sent"] == 1 and sub["last_success"] is not None and sub["last_failure"] is None
        assert s.ngsild_delete_subscription("dhaka", "urn:s:1")
        from tests.conftest import obs_table

        s.write_observations(obs_table([("st1", "pm25", t0.replace(hour=h), v) for h, v in ((1, 10.0), (2, 20.0), (3, 60.0))]
                                       + [("st1", "pm25", t0.replace(hour=4), 500.0, "µg/m³", "invalid")]))
        assert [r["value"] for r in s.ngsild_observation_series("st1", "pm25")] == [10.0, 20.0, 60.0]
        assert [r["value"] for r in s.ngsild_observation_series("st1", "pm25", last_n=1)] == [60.0]
        agg = s.ngsild_observation_aggregate("st1", "pm25", period_s=86400, start=t0, end=t0.replace(day=2),
                                             origin=t0)
        assert [(r["total_count"], float(r["avg"]), float(r["max"])) for r in agg] == [(3, 30.0, 60.0)]
        latest = s.ngsild_latest_observations("st1")
        assert [(r["parameter"], r["value"]) for r in latest] == [("pm25", 60.0)]
        s.ngsild_write("dhaka", delete=["urn:a:1"])
        assert s.ngsild_get("dhaka", "urn:a:1") is None and s.ngsild_history("dhaka", "urn:a:1") == []
    finally:
        s.close()
