"""The /water and /alerts pages in real headless Chromium against a real server over the demo (air demo
plus the Dhaka rivers demo and its alert rules)."""

from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit

import pytest

from tests.web.conftest import _free_port  # the browser fixture `chromium` is in tests/conftest.py

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def water_server(tmp_path_factory):
    import uvicorn

    from nagar.api.app import create_app
    from nagar.core.settings import Settings
    from nagar.demo.service import load_demo
    from nagar.store import open_store
    from nagar.water.demo import load_water_demo

    settings = Settings(db=tmp_path_factory.mktemp("wweb") / "w.duckdb", secret_key="x" * 32)
    store = open_store(settings)
    load_demo(store, seed=5, days=4)
    load_water_demo(store, settings=settings)
    store.close()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=_free_port(),
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{server.config.port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def page(chromium, water_server):  # noqa: F811
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    p = context.new_page()
    problems: list[str] = []
    host = urlsplit(water_server).netloc
    p.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    p.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
    p.on("request", lambda r: problems.append(r.url) if r.url.startswith("http") and urlsplit(r.url).netloc != host
         else None)
    p.problems = problems
    yield p
    context.close()


def _ready(page) -> None:
    page.wait_for_selector("body[data-state='ready'], body[data-state='error']", state="attached", timeout=20_000)
    assert page.get_attribute("body", "data-state") == "ready", (page.inner_text("#status"), page.problems)


def test_water_page_map_chart_tables(page, water_server):
    page.goto(f"{water_server}/water?city=dhaka&lang=en")
    _ready(page)
    assert page.get_attribute("#water-map", "data-markers") == "7"
    assert page.locator("#water-map path.leaflet-interactive").count() == 7  # one circle per station
    assert page.locator("#wqi-table tbody tr").count() == 7
    assert int(page.get_attribute("#history-box", "data-points")) >= 12  # monthly DO samples of one station
    assert page.locator("#exceed-table tbody tr").count() > 0
    assert page.problems == []


def test_alerts_page_lists_the_demo_alerts(page, water_server):
    page.goto(f"{water_server}/alerts?city=dhaka&lang=en")
    _ready(page)
    from nagar.water.demo import DEMO_RULES

    assert page.locator("#rules-table tbody tr").count() == len(DEMO_RULES)
    events = page.request.get(f"{water_server}/api/v1/cities/dhaka/alerts/events?limit=200").json()["items"]
    assert int(page.get_attribute("#events-table", "data-rows")) == len(events)
    assert page.locator("#events-table tbody tr").count() == len(events)
    assert page.problems == []


def test_water_and_alerts_pages_name_water_parameters_in_bengali(page, water_server):
    import re

    bengali = re.compile(r"[\u0980-\u09FF]")
    page.goto(f"{water_server}/water?city=dhaka&lang=bn")
    _ready(page)
    params = page.eval_on_selector_all("#parameter-select option", "os => os.map(o => o.textContent)")
    assert "দ্রবীভূত অক্সিজেন" in params and "অ্যামোনিয়া" in params
    sets = page.eval_on_selector_all("#objectives-select option", "os => os.map(o => o.textContent)")
    assert sets and all(bengali.search(s) for s in sets), sets
    cells = page.eval_on_selector_all("#exceed-table tbody tr", "trs => trs.map(r => r.cells[2].textContent)")
    assert cells and all(bengali.search(c) for c in cells), cells
    page.goto(f"{water_server}/alerts?city=dhaka&lang=bn")
    _ready(page)
    rules = page.eval_on_selector_all("#rules-table tbody tr", "trs => trs.map(r => r.cells[1].textContent)")
    assert any("দ্রবীভূত অক্সিজেন" in r for r in rules), rules
    assert page.problems == []
