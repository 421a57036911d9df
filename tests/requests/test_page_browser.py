"""The /requests page in headless Chromium against a real server over the Dhaka demo requests."""

from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit

import pytest

from nagar.core.settings import Settings
from tests.conftest import DHAKA
from tests.web.conftest import _free_port  # the browser fixture `chromium` is in tests/conftest.py


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import uvicorn

    from nagar.api.app import create_app
    from nagar.requests.demo import load_requests_demo
    from nagar.store.duckdb import DuckDBStore

    settings = Settings(db=tmp_path_factory.mktemp("requests-web") / "t.duckdb")
    store = DuckDBStore(settings.db)
    store.upsert_city({**DHAKA, "open_data": True})
    load_requests_demo(store, settings=settings)
    store.close()
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


@pytest.mark.browser
def test_requests_page_draws_the_open_requests(chromium, server):  # noqa: F811
    page = chromium.new_context(viewport={"width": 1280, "height": 1000}, locale="en-GB").new_page()
    problems: list[str] = []
    host = urlsplit(server).netloc
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("request", lambda r: problems.append(f"outside: {r.url}")
            if r.url.startswith(("http:", "https:")) and urlsplit(r.url).netloc != host else None)
    page.goto(f"{server}/requests?city=dhaka")
    page.wait_for_selector("body[data-state='ready'], body[data-state='error']", state="attached", timeout=30_000)
    assert page.get_attribute("body", "data-state") == "ready", (page.inner_text("#status"), problems)
    # the demo: 5 open requests (new, acknowledged, in progress), 3 closed (2 resolved, 1 duplicate)
    assert page.get_attribute("#requests-map", "data-markers") == "5"
    assert page.locator("#requests-map path.request-marker").count() == 5
    rows = page.locator("#counts-table tbody tr")
    assert rows.count() == 6
    assert page.locator("#sla-table tbody tr").count() == 1
    assert page.locator("#service-legend li").count() == 6
    assert problems == []
