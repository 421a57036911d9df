"""The climate (``/climate``) and climate-fund (``/fund``) pages: rendering, headers and, in headless
Chromium against a real server over the climate and funding demos, drawn charts and map markers."""

from __future__ import annotations

import re
import threading
import time
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from nagar.core.settings import Settings
from nagar.web import climate_views

from .conftest import _free_port, _open_store, web_app

READY = "body[data-state='ready']"
PASSWORD = "correct horse battery"  # tests.conftest.make_user


@pytest.fixture
def pages_client() -> TestClient:
    app = web_app()
    app.include_router(climate_views.router)
    with TestClient(app) as c:
        yield c


@pytest.mark.parametrize("path", ["/climate?city=dhaka&year=2023", "/fund"])
def test_page_renders_with_strict_csp_and_no_inline_code(pages_client, path):
    r = pages_client.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe-inline" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    html = r.text
    for script in re.findall(r"<script\b[^>]*>(.*?)</script>", html, flags=re.S):
        assert script.strip() == ""  # every script is a src= file
    assert len(re.findall(r"<script\b[^>]*\bsrc=", html)) == len(re.findall(r"<script\b", html))
    assert "<style" not in html and " style=" not in html and " onclick=" not in html
    for src in re.findall(r'(?:src|href)="(/static/[^"?]+)', html):
        assert pages_client.get(src).status_code == 200, src


def test_climate_page_passes_city_and_year_to_the_script(pages_client):
    html = pages_client.get("/climate?city=dhaka&year=2023").text
    assert 'data-city="dhaka"' in html and 'data-year="2023"' in html
    assert "/static/js/climate.js" in html and "/static/vendor/chartjs/" in html
    assert pages_client.get("/climate?city=<x>").status_code == 422


def test_fund_page_has_map_charts_and_admin_notice(pages_client):
    html = pages_client.get("/fund").text
    for element in ('id="fund-map"', 'id="frontier-chart"', 'id="mac-chart"', 'id="portfolio-table"', 'id="need-admin"'):
        assert element in html
    assert "/static/vendor/leaflet/leaflet.js" in html and "/static/js/fund.js" in html


def test_pages_are_translated(pages_client):
    assert "জলবায়ু তহবিল" in pages_client.get("/fund?lang=bn").text
    assert "গ্রিনহাউস গ্যাস নিঃসরণ" in pages_client.get("/climate?lang=bn").text
    assert pages_client.get("/climate?lang=bn").headers.get("content-language", "bn") == "bn"


# ------------------------------------------------------------------------------------ browser


@pytest.fixture(scope="module")
def climate_server(tmp_path_factory):
    """A real server (``create_app``) over the climate and (small) funding demos, with a platform admin."""
    api_app = pytest.importorskip("nagar.api.app", reason="nagar.api.app (create_app) is not there yet")
    import uvicorn

    from nagar.climate.demo import load_climate_demo
    from nagar.funding.demo import load_funding_demo
    from nagar.web import views
    from tests.conftest import make_user

    settings = Settings(db=tmp_path_factory.mktemp("climate-web") / "t.duckdb")
    store = _open_store(settings)
    try:
        load_climate_demo(store)
        load_funding_demo(store, per_city=3)
        make_user(store, "fundadmin", platform_admin=True)
    finally:
        close = getattr(store, "close", None)
        if callable(close):
            close()
    app = api_app.create_app(settings)
    paths = {getattr(route, "path", None) for route in app.routes}
    if "/" not in paths:
        app.include_router(views.router)
    if "/static" not in paths:
        views.mount_static(app)
    if "/climate" not in paths:
        app.include_router(climate_views.router)

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="nagar-climate-server", daemon=True)
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


PAINTED = """(id) => {
    const canvas = document.getElementById(id);
    const chart = Chart.getChart(canvas);
    const img = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let painted = 0;
    for (let i = 3; i < img.length; i += 16) if (img[i] > 0) painted++;
    return {chart: !!chart, datasets: chart ? chart.data.datasets.length : 0, painted};
}"""


def _settle(page) -> str:
    page.wait_for_selector("body[data-state='ready'], body[data-state='error'], body[data-state='need-admin']",
                           state="attached", timeout=30_000)
    return page.get_attribute("body", "data-state")


def _drawn(page, canvas_id: str) -> dict:
    out = page.evaluate(PAINTED, canvas_id)
    assert out["chart"] and out["painted"] > 200, (canvas_id, out)
    return out


@pytest.mark.browser
def test_climate_and_fund_pages_draw_in_chromium(chromium, climate_server):
    context = chromium.new_context(viewport={"width": 1280, "height": 1000}, locale="en-GB")
    page = context.new_page()
    problems: list[str] = []
    host = urlsplit(climate_server).netloc
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("request", lambda r: problems.append(f"outside: {r.url}")
            if r.url.startswith(("http:", "https:")) and urlsplit(r.url).netloc != host else None)
    try:
        # climate: anonymous (Dhaka is a public city)
        page.goto(f"{climate_server}/climate?city=dhaka&year=2023")
        assert _settle(page) == "ready", (page.inner_text("#status"), problems)
        assert page.get_attribute("#inventory-box", "data-bars") == "5"
        assert int(page.get_attribute("#pathway-box", "data-points")) >= 28  # 2023..2050
        assert _drawn(page, "inventory-chart")["datasets"] == 3  # scopes 1, 2, 3
        _drawn(page, "pathway-chart")
        assert page.inner_text("#total-basic") not in ("", "–")
        years = page.locator("#milestone-table tbody th").all_inner_texts()
        assert "2041" in years and "2050" in years

        # fund, anonymous: the page asks for a platform admin
        page.goto(f"{climate_server}/fund")
        assert _settle(page) == "need-admin"
        assert page.is_visible("#need-admin")
        problems[:] = [p for p in problems if "401 (Unauthorized)" not in p]  # the plans API said 401, as it should

        # sign in through the form, then the plan is drawn
        page.goto(f"{climate_server}/login")
        page.fill("input[name=username]", "fundadmin")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        page.goto(f"{climate_server}/fund")
        assert _settle(page) == "ready", (page.inner_text("#status"), problems)
        markers = page.locator("#fund-map path.fund-marker").count()
        assert markers > 0 and page.get_attribute("#fund-map", "data-markers") == str(markers)
        assert page.locator("#portfolio-table tbody tr").count() > 0
        assert int(page.get_attribute("#frontier-box", "data-points")) >= 2
        assert int(page.get_attribute("#mac-box", "data-bars")) > 0
        _drawn(page, "frontier-chart")
        _drawn(page, "mac-chart")
        mac = page.evaluate("""() => {
            const chart = Chart.getChart(document.getElementById('mac-chart'));
            return {axis: chart.scales.y.max, costs: chart.data.datasets[0].data.map(p => p.cost)};
        }""")
        clipped = int(page.get_attribute("#mac-box", "data-clipped"))
        y_max = page.get_attribute("#mac-box", "data-y-max")
        if y_max:  # the axis is cut: only the few costliest bars pass it, and they are counted and said
            assert float(y_max) == mac["axis"] < max(mac["costs"])
            assert clipped == sum(c > mac["axis"] for c in mac["costs"]) and 0 < clipped < len(mac["costs"]) / 2
            assert str(clipped) in page.inner_text("#mac-meta")
        else:
            assert clipped == 0 and mac["axis"] >= max(mac["costs"])
        # the axis rule on worked cases: nine 500/t bars 10 t wide and one 25,000/t bar 1 t wide -> the
        # abatement-weighted 90th percentile is 500 (90 of 91 t), 25,000 > 3 x 500, so the axis stops at the
        # first round number >= 1.5 x 500 = 750, i.e. 800; costs within 3 x the percentile are not cut
        bars = [{"x0": 10 * i, "x1": 10 * i + 10, "cost": 500} for i in range(9)] + [{"x0": 90, "x1": 91, "cost": 25000}]
        assert page.evaluate("b => window.nagarFund.macAxisMax(b)", bars) == 800
        bars[-1]["cost"] = 1400
        assert page.evaluate("b => window.nagarFund.macAxisMax(b)", bars) is None
        assert problems == []
    finally:
        context.close()
