"""The ``/ewaste`` page: strict CSP and no inline code; in headless Chromium over the Dhaka e-waste demo,
the generation chart is drawn and every collection point is a map marker."""

from __future__ import annotations

import re
import subprocess
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from nagar.api.app import create_app
from nagar.core.settings import Settings
from nagar.store.duckdb import DuckDBStore
from tests.web.conftest import _free_port

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


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.browser
def test_page_draws_chart_and_markers_in_chromium(demo_server, tmp_path):
    """Headless Chromium (its own process, not Playwright: the web tests hold the one Playwright session)
    loads the page over the demo and dumps the DOM after the scripts ran."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    out = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path}",
         "--virtual-time-budget=15000", "--dump-dom", f"{demo_server}/ewaste?city=dhaka"],
        capture_output=True, text=True, timeout=90)
    dom = out.stdout

    def attr(element_id: str, name: str) -> str | None:
        m = re.search(rf'<[^>]*\bid="{element_id}"[^>]*>', dom)
        got = m and re.search(rf'\b{name}="([^"]*)"', m.group(0))
        return got.group(1) if got else None

    assert attr("ewaste", "data-state") == "ready", (re.findall(r"id=\"status\"[^<]*", dom), out.stderr[-2000:])
    # POM 2000-2024, collection in 2025: the chart runs 2000..2025, six categories + the collection line
    assert attr("generation-box", "data-bars") == "26" and attr("generation-box", "data-datasets") == "7"
    assert attr("ewaste-map", "data-markers") == "4"
    assert dom.count("leaflet-interactive") == 4  # one circle marker per collection point
    assert int(attr("ewaste-map", "data-outlines") or 0) >= 20  # the countries' outlines are drawn under the points
    assert re.search(r'<div[^>]*\bid="status"[^>]*\bhidden', dom)  # no empty status bar once loaded
    assert re.search(r'<select id="city-select" name="city"><option value="dhaka">Dhaka</option>', dom), "the city <select>"
    rows = re.search(r'<table[^>]*id="rate-table".*?<tbody>(.*?)</tbody>', dom, flags=re.S).group(1)
    assert rows.count("<tr>") == 7  # 2025: all categories + six
