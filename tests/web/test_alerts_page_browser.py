"""The alerts page in real Chromium: newest first by event time, times in the city's zone (named),
messages as sentences of the page's language built from the rule's fields."""

from __future__ import annotations

import re
import threading
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from nagar.core.settings import Settings
from tests.web.conftest import DEMO_DAYS, DEMO_SEED, _free_port, _open_store

pytestmark = pytest.mark.browser
BENGALI = re.compile(r"[\u0980-\u09FF]")
RAW = re.compile(r"very_unhealthy|pm25|\b1h\b| UTC")


@pytest.fixture(scope="module")
def alerts_server(tmp_path_factory):
    """A real server over the demo city with two rules evaluated over the demo's air data."""
    import uvicorn

    from nagar.alerts.models import RuleIn
    from nagar.alerts.service import AlertEngine, add_rule
    from nagar.api.app import create_app
    from nagar.demo.service import load_demo

    settings = Settings(db=tmp_path_factory.mktemp("alerts-web") / "t.duckdb")
    store = _open_store(settings)
    try:
        load_demo(store, seed=DEMO_SEED, days=DEMO_DAYS)
        add_rule(store, city="dhaka", actor="t", body=RuleIn(name="AQI rule", rule={
            "kind": "aqi", "comparison": "ge", "category": "very_unhealthy", "duration": 2}))
        add_rule(store, city="dhaka", actor="t", body=RuleIn(name="PM rule", rule={
            "kind": "observation", "parameter": "pm25", "threshold": 150, "duration": 2}))
        store.on_write(AlertEngine(store).process_batch)
        load_demo(store, seed=DEMO_SEED, days=DEMO_DAYS)  # the same data again, now evaluated as it arrives
        assert store.alert_events(city="dhaka", limit=5)
    finally:
        store.close()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=_free_port(),
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="nagar-alerts-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _open(chromium, base: str, lang: str):
    # a browser far from Dhaka: the page must still show Dhaka's time
    context = chromium.new_context(locale="en-US", timezone_id="America/New_York")
    page = context.new_page()
    page.goto(f"{base}/alerts?city=dhaka&lang={lang}")
    page.wait_for_selector("body[data-state='ready'], body[data-state='error']", state="attached", timeout=20_000)
    assert page.get_attribute("body", "data-state") == "ready", page.inner_text("#status")
    rows = page.eval_on_selector_all(
        "#events-table tbody tr", "trs => trs.map(r => [r.dataset.time, ...[...r.cells].map(c => c.textContent)])")
    rules = page.eval_on_selector_all("#rules-table tbody tr", "trs => trs.map(r => r.cells[1].textContent)")
    meta = page.inner_text("#events-meta")
    context.close()
    return rows, rules, meta


def test_alerts_are_newest_first_in_city_time_with_readable_messages(chromium, alerts_server):
    rows, rules, meta = _open(chromium, alerts_server, "en")
    assert len(rows) > 3
    times = [datetime.fromisoformat(r[0]) for r in rows]
    assert times == sorted(times, reverse=True)
    assert "Asia/Dhaka" in meta
    local = times[0].astimezone(ZoneInfo("Asia/Dhaka"))
    assert local.strftime("%H:%M") in rows[0][1] and str(local.day) in rows[0][1]
    messages = [r[5] for r in rows]
    assert not [m for m in messages if RAW.search(m)], messages[:4]
    assert any("“Very Unhealthy”" in m and "for 2 hours" in m for m in messages)
    assert any("PM2.5, 1-hour mean above 150\u00a0µg/m³" in m for m in messages)
    assert sorted(rules) == ["AQI (city standard) at or above category “Very Unhealthy” for 2 hours",
                             "PM2.5, 1-hour mean above 150\u00a0µg/m³ for 2 hours"]


def test_alerts_page_speaks_bengali_with_a_24_hour_clock(chromium, alerts_server):
    rows, rules, _meta = _open(chromium, alerts_server, "bn")
    assert rows and rules
    for r in rows:
        assert not re.search(r"AM|PM", r[1]), r[1]
        assert BENGALI.search(r[5]) and not RAW.search(r[5]), r[5]
    assert all(BENGALI.search(text) for text in rules)


def test_alerts_and_water_pages_choose_the_city_from_a_select(chromium, alerts_server):
    context = chromium.new_context(locale="en-GB")
    page = context.new_page()
    try:
        for path in ("/alerts", "/water"):
            page.goto(f"{alerts_server}{path}?city=dhaka&lang=bn")
            page.wait_for_selector("body[data-state='ready'], body[data-state='error']", state="attached",
                                   timeout=20_000)
            options = page.eval_on_selector_all("#city-select option", "os => os.map(o => [o.value, o.textContent])")
            assert ["dhaka", "ঢাকা"] in options, (path, options)
            assert page.eval_on_selector("#city-select", "s => s.value") == "dhaka"
            assert page.locator("#city-input").count() == 0
    finally:
        context.close()
