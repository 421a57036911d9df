"""What the alerts page is told about each event (``GET /api/v1/cities/{city}/alerts/events``, prepared by
``nagar.alerts.views.describe_events``): whether it was really notified, judged from the stored webhook
deliveries, and where it happened by station name and forecast day. Events are written through the
store's own write path (``advance_alert_state``), deliveries answered through ``record_alert_attempt``."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from nagar.core.settings import Settings

from tests.conftest import DHAKA, bearer, make_user

NOW = datetime(2026, 11, 20, 6, 0, tzinfo=timezone.utc)


def _event(store, rule_id: int, scope: str, kind: str, hour: int, *, suppressed: bool = False) -> int:
    t = NOW + timedelta(hours=hour)
    state = {"last_time": t, "last_cond": kind == "onset", "run_before": 0, "episode": 1, "last_value": 60.0}
    ev = {"city": "dhaka", "kind": kind, "episode": 1, "time": t, "value": 60.0, "message": "m",
          "suppressed": suppressed}
    return store.advance_alert_state(rule_id=rule_id, scope_key=scope, state=state, events=[ev], now=t)[0]["id"]


@pytest.fixture
def env(tmp_path):
    from nagar.api.app import create_app
    from nagar.store.duckdb import DuckDBStore

    store = DuckDBStore(tmp_path / "t.duckdb")
    store.upsert_city(DHAKA)
    store.upsert_station(dict(id="dhaka-st1", city="dhaka", name="Station One", lat=23.78, lon=90.38,
                              parameters=["pm25"]))
    rule = store.add_alert_rule(city="dhaka", name="PM2.5 high", kind="observation",
                                spec={"kind": "observation", "parameter": "pm25", "threshold": 55.0},
                                actor="test", now=NOW)
    app = create_app(Settings(db=tmp_path / "unused.duckdb", secret_key="k" * 40), store=store)
    admin = make_user(store, "admin", platform_admin=True)
    with TestClient(app, base_url="https://testserver") as client:
        yield store, client, bearer(app, admin), rule["id"]
    store.close()


def _events(client, headers) -> dict[int, dict]:
    r = client.get("/api/v1/cities/dhaka/alerts/events", headers=headers)
    assert r.status_code == 200, r.text
    return {e["id"]: e for e in r.json()["items"]}


def test_no_receiver_and_quiet_hours_are_not_reported_as_notified(env):
    store, client, h, rule = env
    plain = _event(store, rule, "city", "onset", 0)  # the city has no webhook endpoint
    quiet = _event(store, rule, "city", "recovery", 1, suppressed=True)
    events = _events(client, h)
    assert events[plain]["notified"] == "no_receiver"
    assert events[plain]["deliveries"] == {"delivered": 0, "pending": 0, "dead": 0}
    assert events[quiet]["notified"] == "quiet_hours"


def test_deliveries_decide_delivered_sending_and_failed(env):
    store, client, h, rule = env
    for name in ("a", "b"):
        store.add_alert_endpoint(city="dhaka", name=name, url=f"https://example.org/{name}", secret="s",
                                 max_attempts=3, actor="test", now=NOW)
    delivered, sending, failed = (_event(store, rule, "city", k, i) for i, k in
                                  enumerate(("onset", "recovery", "onset")))
    rows = {(d["event_id"], d["endpoint_id"]): d["id"] for d in store.alert_deliveries(city="dhaka", limit=100)}
    assert len(rows) == 6  # one per event and endpoint

    def answer(event_id, status):
        for (ev, _ep), delivery in rows.items():
            if ev == event_id:
                store.record_alert_attempt(delivery, status=status, attempts=1, next_attempt_at=NOW,
                                           last_status=200 if status == "delivered" else 500, last_error=None, now=NOW)
                if status == "dead":
                    return  # one of the two receivers failed, the other is still pending

    answer(delivered, "delivered")
    answer(failed, "dead")
    events = _events(client, h)
    assert (events[delivered]["notified"], events[delivered]["deliveries"]) == \
        ("delivered", {"delivered": 2, "pending": 0, "dead": 0})
    assert (events[sending]["notified"], events[sending]["deliveries"]) == \
        ("sending", {"delivered": 0, "pending": 2, "dead": 0})
    assert (events[failed]["notified"], events[failed]["deliveries"]) == \
        ("failed", {"delivered": 0, "pending": 1, "dead": 1})


def test_events_older_than_the_deliveries_read_are_unknown_not_unnotified(env):
    from nagar.alerts.views import describe_events

    store, _client, _h, rule = env
    store.add_alert_endpoint(city="dhaka", name="a", url="https://example.org/a", secret="s", max_attempts=3,
                             actor="test", now=NOW)
    old, new = _event(store, rule, "city", "onset", 0), _event(store, rule, "city", "recovery", 1)
    items = store.alert_events(city="dhaka")
    out = {e["id"]: e for e in describe_events(store, city="dhaka", items=items, window=1)}
    assert out[new]["notified"] == "sending"
    assert out[old]["notified"] is None  # its delivery lies beyond the one read: not known, not "no"


def test_where_names_the_station_and_the_forecast_day(env):
    store, client, h, rule = env
    station = _event(store, rule, "dhaka-st1", "onset", 0)
    forecast = _event(store, rule, "dhaka-st1@2026-11-21", "onset", 1)
    city = _event(store, rule, "city", "onset", 2)
    events = _events(client, h)
    assert (events[station]["station"], events[station]["station_name"], events[station]["forecast_date"]) == \
        ("dhaka-st1", "Station One", None)
    assert (events[forecast]["station"], events[forecast]["station_name"], events[forecast]["forecast_date"]) == \
        ("dhaka-st1", "Station One", "2026-11-21")
    assert (events[city]["station"], events[city]["station_name"]) == (None, None)
