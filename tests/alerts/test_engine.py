"""Rules over scripted observation streams: onset after the duration, one alert per episode, recovery,
quiet hours, city scope (any station), flags, AQI categories, and state that survives a store reopen.
Every batch goes through ``store.write_observations`` and reaches the engine through ``store.on_write``
(the synchronous mode: the engine is the listener itself)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from nagar.alerts import engine
from nagar.alerts.models import RuleIn
from nagar.alerts.service import AlertEngine, add_rule, add_endpoint, history
from nagar.alerts.models import EndpointIn
from nagar.store.duckdb import DuckDBStore
from tests.alerts.conftest import T0, at, pm


def _rule(store, settings, name="pm", **spec):
    return add_rule(store, city="dhaka", body=RuleIn(name=name, rule={"kind": "observation", "parameter": "pm25",
                                                                      **spec}), actor="t", settings=settings)


def _events(store):
    return sorted(((e["kind"], e["scope_key"], e["time"], e["suppressed"]) for e in history(store, city="dhaka")),
                  key=lambda x: (x[2], x[0]))


def _engine(store, settings):
    eng = AlertEngine(store, settings, clock=lambda: T0 + timedelta(days=1))
    store.on_write(eng.process_batch)
    return eng


# the pure state machine -----------------------------------------------------------------------------------
def _walk(conds, duration=3, recovery=1, contiguous=None):
    state, out, n = None, [], iter(range(1, 100))
    for i, c in enumerate(conds):
        state, trs = (lambda r: (r[0] or state, r[1]))(engine.step(
            state, t=at(i), cond=c, value=float(i), contiguous=True if contiguous is None else contiguous[i],
            duration=duration, recovery=recovery, new_episode=lambda: next(n)))
        out += [(tr.kind, i, tr.episode) for tr in trs]
    return out


def test_state_machine_onset_duration_dedup_recovery():
    #        0      1     2     3     4     5      6     7
    conds = [False, True, True, True, True, False, True, False]
    assert _walk(conds) == [("onset", 3, 1), ("recovery", 5, 1)]
    assert _walk(conds, duration=1) == [("onset", 1, 1), ("recovery", 5, 1), ("onset", 6, 2), ("recovery", 7, 2)]
    assert _walk(conds, duration=2, recovery=2) == [("onset", 2, 1)]  # never false for 2 steps in a row
    # a gap (not contiguous) restarts the run: hours 1-2 true, gap, 4 true -> no 3-hour run
    assert _walk([False, True, True, True], contiguous=[True, True, True, False]) == []


def test_state_machine_reevaluates_the_same_step_and_ignores_older_ones():
    s, trs = engine.step(None, t=at(0), cond=True, value=60, contiguous=True, duration=1, recovery=1,
                         new_episode=lambda: 7)
    assert [t.kind for t in trs] == ["onset"] and s.episode == 7
    s2, trs = engine.step(s, t=at(0), cond=False, value=35, contiguous=True, duration=1, recovery=1,
                          new_episode=lambda: 8)  # the hour's mean fell as more readings came in
    assert [t.kind for t in trs] == ["recovery"] and s2.episode is None
    assert engine.step(s2, t=at(-1), cond=True, value=99, contiguous=True, duration=1, recovery=1,
                       new_episode=lambda: 9) == (None, [])


# over the store, through on_write ---------------------------------------------------------------------------
def test_onset_after_three_hours_one_alert_then_recovery(astore, settings):
    _rule(astore, settings, comparison="gt", threshold=55, duration=3, station="st1")
    _engine(astore, settings)
    for h, v in enumerate([10, 60, 70, 80, 90, 20, 60, 10]):  # one batch per hour, as data arrives
        astore.write_observations(pm("st1", [(h, v)]))
    assert _events(astore) == [("onset", "st1", at(3), False), ("recovery", "st1", at(5), False)]
    onset = [e for e in history(astore, city="dhaka") if e["kind"] == "onset"][0]
    assert onset["value"] == 80 and "for 3 hours" in onset["message"]


def test_one_batch_with_many_hours_gives_the_same_events(astore, settings):
    _rule(astore, settings, comparison="gt", threshold=55, duration=3, station="st1")
    _engine(astore, settings)
    astore.write_observations(pm("st1", list(enumerate([10, 60, 70, 80, 90, 20, 60, 10]))))
    assert [(k, t) for k, _, t, _ in _events(astore)] == [("onset", at(3)), ("recovery", at(5))]


def test_city_scope_takes_any_station(astore, settings):
    _rule(astore, settings, comparison="ge", threshold=60, duration=3)
    _engine(astore, settings)
    for h, (a, b) in enumerate([(60, 10), (10, 61), (10, 70), (10, 5)]):  # both stations report each hour
        astore.write_observations(pm("st1", [(h, a)]))
        astore.write_observations(pm("st2", [(h, b)]))
    # worst station per hour: 60, 61, 70, 10 -> onset at hour 2, recovery at hour 3
    assert [(k, s, t) for k, s, t, _ in _events(astore)] == [("onset", "city", at(2)), ("recovery", "city", at(3))]
    # late data for hours already evaluated never rewrites the history
    astore.write_observations(pm("st2", [(0, 99), (1, 99)]))
    assert len(_events(astore)) == 2


def test_missing_hour_breaks_the_run_and_suspect_data_does_not_count(astore, settings):
    _rule(astore, settings, comparison="gt", threshold=55, duration=3, station="st1")
    _engine(astore, settings)
    astore.write_observations(pm("st1", [(0, 60), (1, 60), (3, 60)]))  # hour 2 missing
    astore.write_observations(pm("st1", [(4, 500)], flag="suspect"))  # kept, but not counted
    assert _events(astore) == []
    astore.write_observations(pm("st1", [(4, 60), (5, 60)]))
    assert [(k, t) for k, _, t, _ in _events(astore)] == [("onset", at(5))]


def test_quiet_hours_record_but_do_not_notify(astore, settings):
    # T0 is 06:00 in Dhaka: quiet 05:00-07:00 local covers hour 0 (06:00) but not hour 2 (08:00)
    _rule(astore, settings, comparison="gt", threshold=55, station="st1",
          quiet_hours={"start": "05:00", "end": "07:00"})
    add_endpoint(astore, city="dhaka", body=EndpointIn(name="ops", url="http://127.0.0.1:9/hook"), actor="t",
                 allow_private=True)
    _engine(astore, settings)
    astore.write_observations(pm("st1", [(0, 80), (1, 80), (2, 10)]))
    assert _events(astore) == [("onset", "st1", at(0), True), ("recovery", "st1", at(2), False)]
    dl = astore.alert_deliveries(city="dhaka")
    recovery_id = [e["id"] for e in history(astore, city="dhaka") if e["kind"] == "recovery"][0]
    assert [d["event_id"] for d in dl] == [recovery_id] and dl[0]["status"] == "pending"


def test_quiet_hours_wrapping_midnight():
    from nagar.alerts.service import in_quiet_hours

    spec = {"quiet_hours": {"start": "22:00", "end": "07:00"}}
    assert in_quiet_hours(spec, at(-8), "Asia/Dhaka")  # 22:00 local
    assert in_quiet_hours(spec, at(0.5), "Asia/Dhaka")  # 06:30 local
    assert not in_quiet_hours(spec, at(1), "Asia/Dhaka")  # 07:00 local
    assert not in_quiet_hours({}, at(0), "Asia/Dhaka")


def test_state_survives_a_restart_no_refire_no_forgetting(tmp_path, settings):
    from tests.alerts.conftest import DHAKA

    path = tmp_path / "p.duckdb"
    s = DuckDBStore(path)
    s.upsert_city(DHAKA)
    s.upsert_station(dict(id="st1", city="dhaka", name="S1", lat=23.78, lon=90.38, parameters=["pm25"]))
    _rule(s, settings, comparison="gt", threshold=55, duration=3, station="st1")
    _engine(s, settings)
    s.write_observations(pm("st1", [(0, 60), (1, 60)]))  # two of three hours
    s.close()
    s = DuckDBStore(path)
    _engine(s, settings)
    s.write_observations(pm("st1", [(2, 60)]))  # the third: the run was remembered
    assert [(k, t) for k, _, t, _ in _events(s)] == [("onset", at(2))]
    s.close()
    s = DuckDBStore(path)
    _engine(s, settings)
    s.write_observations(pm("st1", [(3, 90), (4, 90)]))  # still high: the open episode was remembered
    s.write_observations(pm("st1", [(5, 10)]))
    assert [(k, t) for k, _, t, _ in _events(s)] == [("onset", at(2)), ("recovery", at(5))]
    ev = history(s, city="dhaka")
    assert ev[0]["episode"] == ev[1]["episode"]
    s.close()


def test_aqi_category_rule(astore, settings):
    # 200 µg/m³ PM2.5 steady: EPA NowCast needs 2 of the 3 latest hours, so hour 0 has no AQI; from hour 1
    # NowCast = 200 -> AQI 251-300 band (125.5-225.4 µg/m³ -> 201-300, "Very Unhealthy" in EPA 2024),
    # at or above "unhealthy" for 2 hours -> onset at hour 2
    add_rule(astore, city="dhaka", body=RuleIn(name="aqi", rule={"kind": "aqi", "comparison": "ge",
                                                                "category": "unhealthy", "duration": 2}),
             actor="t", settings=settings)
    _engine(astore, settings)
    astore.write_observations(pm("st1", [(h, 200.0) for h in range(4)]))
    assert [(k, s, t) for k, s, t, _ in _events(astore)] == [("onset", "city", at(2))]


def test_disabled_rules_and_other_parameters_are_not_evaluated(astore, settings):
    r = _rule(astore, settings, comparison="gt", threshold=55)
    astore.update_alert_rule(r["id"], name="off", kind="observation", spec=r["spec"], enabled=False, now=T0)
    _rule(astore, settings, name="pm10", parameter="pm10", comparison="gt", threshold=1)
    _engine(astore, settings)
    astore.write_observations(pm("st1", [(0, 99)]))
    assert _events(astore) == []


def test_rule_validation(astore, settings):
    from pydantic import ValidationError

    from nagar.core.errors import InvalidInput

    with pytest.raises(ValidationError):
        RuleIn(name="x", rule={"kind": "observation", "parameter": "pm25"})  # neither threshold nor category
    with pytest.raises(ValidationError):
        RuleIn(name="x", rule={"kind": "observation", "parameter": "pm25", "threshold": 1, "category": "good"})
    with pytest.raises(InvalidInput, match="unknown category"):
        add_rule(astore, city="dhaka", body=RuleIn(name="x", rule={"kind": "aqi", "category": "awful"}),
                 actor="t", settings=settings)
    with pytest.raises(InvalidInput, match="no station"):
        _rule(astore, settings, threshold=1, station="elsewhere")
