"""The ``/ewaste`` page: strict CSP and no inline code; in headless Chromium over the Dhaka e-waste demo,
the generation chart is drawn and every collection point is a map marker."""

from __future__ import annotations

import re
import threading
import time
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from nagar.api.app import create_app
from nagar.core.settings import Settings
from nagar.store.duckdb import DuckDBStore
from tests.web.conftest import _free_port, chromium  # noqa: F401  (the fixture)

from .conftest import DHAKA


def test_page_has_strict_csp_and_only_file_scripts(tmp_path):
    store = DuckDBStore(tmp_path / "p.duckdb")
    app = create_app(Settings(secret_key="x" * 32, db=tmp_path / "u.duckdb"), store=store)
    with TestClient(app) as c:
        r = c.get("/ewaste?city=dhaka")
        assert r.status_code == 200
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        html = r.text
        for script in re.findall(r"<script\b[^>]*>(.*?)</script>", html, flags=re.S):
            assert script.strip() == ""
        assert "<style" not in html and " style=" not in html and 'data-city="dhaka"' in html
        for src in re.findall(r'(?:src|href)="(/static/[^"?]+)', html):
            assert c.get(src).status_code == 200, src
        assert c.get("/ewaste?city=<x>").status_code == 422
    store.close()


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    import uvicorn

    from nagar.waste.demo import load_ewaste_demo

    tmp = tmp_path_factory.mktemp("ewaste-web")
    store = DuckDBStore(tmp / "d.duckdb")
    store.upsert_city({**DHAKA, "open_data": True})
    load_ewaste_demo(store)
    app = create_app(Settings(secret_key="x" * 32, db=tmp / "u.duckdb"), store=store)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="nagar-ewaste-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        store.close()


@pytest.mark.browser
def test_page_draws_chart_and_markers_in_chromium(chromium, demo_server):  # noqa: F811
    context = chromium.new_context(viewport={"width": 1280, "height": 1000}, locale="en-GB")
    page = context.new_page()
    problems: list[str] = []
    host = urlsplit(demo_server).netloc
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("request", lambda r: problems.append(f"outside: {r.url}")
            if r.url.startswith(("http:", "https:")) and urlsplit(r.url).netloc != host else None)
    try:
        page.goto(f"{demo_server}/ewaste?city=dhaka")
        page.wait_for_selector("body[data-state='ready'], body[data-state='error']", state="attached", timeout=30_000)
        assert page.get_attribute("body", "data-state") == "ready", (page.inner_text("#status"), problems)
        # POM 2000-2024, collection in 2025: the chart runs 2000..2025
        assert page.get_attribute("#generation-box", "data-bars") == "26"
        drawn = page.evaluate("""() => {
            const canvas = document.getElementById('generation-chart');
            const chart = Chart.getChart(canvas);
            const img = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            let painted = 0;
            for (let i = 3; i < img.length; i += 16) if (img[i] > 0) painted++;
            return {datasets: chart ? chart.data.datasets.length : 0, painted};
        }""")
        assert drawn["datasets"] == 7 and drawn["painted"] > 200, drawn  # 6 categories + collection line
        assert page.get_attribute("#ewaste-map", "data-markers") == "4"
        assert page.locator("#ewaste-map path.leaflet-interactive").count() == 4
        assert page.locator("#rate-table tbody tr").count() == 7  # 2025: all + six categories
        assert problems == []
    finally:
        context.close()
