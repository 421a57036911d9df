"""The /quality page in headless Chromium against a real server over the demo data: the faulty Dhaka
sensor's flagged readings are drawn, its faults listed, and its forecast drawn in category colours."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from urllib.parse import urlsplit

import pytest

from nagar.core.settings import Settings
from tests.web.conftest import _free_port  # the browser fixture `chromium` is in tests/conftest.py
from tests.web.test_climate_pages import _drawn, _settle


@pytest.fixture(scope="module")
def quality_server(tmp_path_factory):
    import uvicorn

    from nagar.api.app import create_app
    from nagar.demo.generator import generate
    from nagar.demo.service import load_demo
    from nagar.forecast.service import train_station
    from nagar.quality.service import scan
    from nagar.store.duckdb import DuckDBStore
    from tests.forecast.test_model import small_fit

    settings = Settings(db=tmp_path_factory.mktemp("quality-web") / "q.duckdb", secret_key="s" * 32)
    store = DuckDBStore(settings.db)
    end = datetime(2026, 3, 1, tzinfo=timezone.utc)
    load_demo(store, seed=42, days=30, end=end)
    faulty = generate(seed=42, days=30, end=end).faults[0]["station"]
    scan(store, city="dhaka", now=end)
    train_station(store, station=faulty, settings=settings, folds=1, fold_days=2, fit_fn=small_fit)
    app = create_app(settings, store=store)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="nagar-quality-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", faulty
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        store.close()


@pytest.mark.browser
def test_quality_page_draws_in_chromium(chromium, quality_server):  # noqa: F811
    url, faulty = quality_server
    context = chromium.new_context(viewport={"width": 1280, "height": 1200}, locale="en-GB")
    page = context.new_page()
    problems: list[str] = []
    host = urlsplit(url).netloc
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("request", lambda r: problems.append(f"outside: {r.url}")
            if r.url.startswith(("http:", "https:")) and urlsplit(r.url).netloc != host else None)
    try:
        page.goto(f"{url}/quality?city=dhaka")  # no station given: the one with the most faults
        assert _settle(page) == "ready", (page.inner_text("#status"), problems)
        assert page.locator(f"#fault-counts tr.selected[data-station='{faulty}']").count() == 1
        assert int(page.get_attribute("#series-box", "data-flagged")) >= 40  # the stuck run and the spikes
        assert _drawn(page, "series-chart")["datasets"] == 2
        assert page.get_attribute("#forecast-box", "data-points") == "24"
        _drawn(page, "forecast-chart")
        kinds = set(page.locator("#fault-list tbody td:nth-child(3)").all_inner_texts())
        assert {"Stuck", "Spike"} <= kinds
        assert "persistence" in page.inner_text("#skill-line")
        assert problems == []
    finally:
        context.close()
