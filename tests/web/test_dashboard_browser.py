"""The dashboard in real headless Chromium against a real server over demo data."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.browser

READY = "body[data-state='ready']"
"""The script marks <body> ready after each complete redraw. (Waits use selectors, not JS predicates:
the page's Content-Security-Policy forbids the eval that Playwright's wait_for_function needs.)"""
BENGALI = re.compile(r"[\u0980-\u09FF]")
NO_DATA_COLOUR = "#9aa5a1"  # grey of a station without a current AQI (dashboard.js)


@pytest.fixture
def page(chromium, live_server):
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    problems: list[str] = []
    host = urlsplit(live_server).netloc
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)

    def outside(request):
        netloc = urlsplit(request.url).netloc
        if request.url.startswith(("http:", "https:")) and netloc != host:
            problems.append(f"request outside the server: {request.url}")

    page.on("request", outside)
    page.problems = problems  # type: ignore[attr-defined]
    yield page
    context.close()


def open_dashboard(page, url: str) -> None:
    page.goto(url)
    settled(page)


def settled(page) -> None:
    """Wait until the script has finished a redraw, and fail with its message if it could not."""
    page.wait_for_selector(f"{READY}, body[data-state='error']", state="attached", timeout=20_000)
    state = page.get_attribute("body", "data-state")
    assert state == "ready", f"dashboard: {page.inner_text('#status')} {page.problems}"  # type: ignore[attr-defined]


def api(page, base: str, path: str) -> dict:
    r = page.request.get(base + path)
    assert r.ok, path
    return r.json()


def marker_colours(page) -> dict[str, str]:
    return page.eval_on_selector_all(
        ".aqi-marker", "els => Object.fromEntries(els.map(e => [e.dataset.station, e.dataset.colour]))"
    )


def chart_state(page) -> dict:
    return page.evaluate(
        """() => {
            const box = document.getElementById('chart-box');
            const canvas = document.getElementById('chart');
            const chart = Chart.getChart(canvas);
            const ctx = canvas.getContext('2d');
            const img = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
            let painted = 0, colours = new Set();
            for (let i = 0; i < img.length; i += 16) {
                if (img[i + 3] > 0) { painted++; colours.add(img[i] + ',' + img[i + 1] + ',' + img[i + 2]); }
            }
            return {
                points: Number(box.dataset.points), station: box.dataset.station, standard: box.dataset.standard,
                data: chart ? chart.data.datasets[0].data.filter(p => p.y !== null).length : 0,
                bands: chart ? chart.options.plugins.aqiBands.categories.length : 0,
                painted, colours: colours.size,
            };
        }"""
    )


def test_markers_chart_station_and_standard(page, live_server):
    open_dashboard(page, live_server + "/")
    city = page.eval_on_selector("#city-select", "s => s.value")
    assert city
    stations = api(page, live_server, f"/api/v1/stations?city={city}")["items"]
    latest = {i["station"]: i for i in api(page, live_server, f"/api/v1/aqi/latest?city={city}")["items"]}

    # one marker per station, each coloured by its current category (grey when it has no recent AQI)
    colours = marker_colours(page)
    assert set(colours) == {s["id"] for s in stations if s["lat"] is not None}
    coloured = {sid: c for sid, c in colours.items() if latest.get(sid, {}).get("aqi") is not None}
    assert coloured, "no station has a current AQI"
    assert all(c.lower() == NO_DATA_COLOUR for sid, c in colours.items() if sid not in coloured)
    for sid, colour in coloured.items():
        assert colour.lower() == latest[sid]["colour"].lower(), sid
        background = page.eval_on_selector(f".aqi-marker[data-station='{sid}']", "e => getComputedStyle(e).backgroundColor")
        assert background not in ("rgba(0, 0, 0, 0)", "transparent"), sid

    # the chart is drawn with a week of hourly data on category bands
    chart = chart_state(page)
    assert chart["station"] == page.eval_on_selector("#station-card", "e => e.dataset.station")
    assert chart["points"] > 24 and chart["data"] == chart["points"]
    assert chart["bands"] >= 4
    assert chart["painted"] > 1000 and chart["colours"] > 4

    # clicking a marker selects that station for the chart
    # (a marker another one covers cannot be clicked: take one whose centre is its own)
    uncovered = page.evaluate(
        """() => [...document.querySelectorAll('.aqi-marker')].filter(e => {
            const r = e.getBoundingClientRect();
            return e.contains(document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2));
        }).map(e => e.dataset.station)"""
    )
    other = next((sid for sid in uncovered if sid in coloured and sid != chart["station"]), None)
    assert other or len(coloured) < 2, "no other station's marker can be clicked"
    if other:
        page.click(f".aqi-marker[data-station='{other}']")
        page.wait_for_selector(f"#chart-box[data-station='{other}']", state="attached", timeout=20_000)
        settled(page)
        assert page.eval_on_selector("#station-card", "e => e.dataset.station") == other
        assert page.locator(".leaflet-popup-content").inner_text().strip()
        assert chart_state(page)["points"] > 24

    # switching the AQI standard re-colours the map and re-labels legend and chart
    standards = api(page, live_server, "/api/v1/standards")["items"]
    current = page.eval_on_selector("#standard-select", "s => s.value")

    def signature(std):
        return [(c["name"], c["colour"].lower()) for c in std["categories"]]

    now = next(s for s in standards if s["id"] == current)
    target = next((s for s in standards if signature(s) != signature(now)), None)
    assert target, "the demo needs two AQI standards that differ in category names or colours"
    legend_before = page.inner_text("#legend")
    page.select_option("#standard-select", target["id"])
    for selector in (f"#legend[data-standard='{target['id']}']", f"#chart-box[data-standard='{target['id']}']"):
        page.wait_for_selector(selector, state="attached", timeout=20_000)
    settled(page)
    assert page.inner_text("#legend") != legend_before
    after = {i["station"]: i for i in api(page, live_server, f"/api/v1/aqi/latest?city={city}&standard={target['id']}")["items"]}
    target_colours = {c["colour"].lower() for c in target["categories"]}
    recoloured = 0
    for sid, colour in marker_colours(page).items():
        item = after.get(sid) or {}
        if item.get("aqi") is None:
            assert colour.lower() == NO_DATA_COLOUR, sid
        else:
            assert colour.lower() == item["colour"].lower() and colour.lower() in target_colours, sid
        recoloured += colour.lower() != colours[sid].lower()
    assert recoloured or page.inner_text("#legend") != legend_before
    assert f"standard={target['id']}" in page.url
    assert page.problems == []  # type: ignore[attr-defined]


def test_bengali_page(page, live_server):
    open_dashboard(page, live_server + "/?lang=bn")
    assert page.get_attribute("html", "lang") == "bn"
    assert page.inner_text("h1") == "বায়ুর মান"
    legend = page.inner_text("#legend")
    assert BENGALI.search(legend)
    assert BENGALI.search(page.inner_text("#station-table thead"))
    # numbers are written with Bengali digits
    values = page.eval_on_selector_all(".aqi-marker", "els => els.map(e => e.textContent)")
    assert any(re.fullmatch(r"[০-৯,]+", v) for v in values), values
    # the choice is remembered
    open_dashboard(page, live_server + "/")
    assert page.get_attribute("html", "lang") == "bn"
    assert page.problems == []  # type: ignore[attr-defined]
