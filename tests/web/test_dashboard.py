"""The dashboard page and its assets, without a browser (FastAPI TestClient)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from nagar.core.settings import Settings
from nagar.web import views

from .conftest import web_app


class _Page(HTMLParser):
    """Collects what the tests look at: the html element, ids, scripts, links, inline code."""

    def __init__(self) -> None:
        super().__init__()
        self.html_attrs: dict[str, str | None] = {}
        self.body_attrs: dict[str, str | None] = {}
        self.ids: set[str] = set()
        self.script_srcs: list[str] = []
        self.inline_scripts = 0
        self.style_elements = 0
        self.style_attributes: list[str] = []
        self.event_attributes: list[str] = []
        self.urls: list[str] = []
        self._in_script_without_src = False
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.html_attrs = a
        if tag == "body":
            self.body_attrs = a
        if "id" in a:
            self.ids.add(a["id"])
        if "style" in a:
            self.style_attributes.append(tag)
        self.event_attributes += [k for k in a if k.startswith("on")]
        if tag == "script":
            if a.get("src"):
                self.script_srcs.append(a["src"])
            else:
                self._in_script_without_src = True
                self.inline_scripts += 1
        if tag == "style":
            self.style_elements += 1
        for key in ("src", "href"):
            if a.get(key):
                self.urls.append(a[key])

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script_without_src = False

    def handle_data(self, data):
        if data.strip():
            self.text.append(data.strip())


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def test_page_has_the_dashboard_elements(client):
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    page = parse(r.text)
    assert page.html_attrs.get("lang") == "en"
    for element in ("map", "chart", "chart-box", "city-select", "standard-select", "legend", "station-table", "status"):
        assert element in page.ids, element
    assert any(src.startswith("/static/vendor/leaflet/leaflet.js") for src in page.script_srcs)
    assert any(src.startswith("/static/vendor/chartjs/chart.umd.min.js") for src in page.script_srcs)
    assert any(src.startswith("/static/js/dashboard.js") for src in page.script_srcs)
    assert page.body_attrs["data-api"] == "/api/v1"
    assert page.body_attrs["data-i18n-url"] == "/i18n/en.json"
    assert page.body_attrs["data-tile-url"] == ""
    assert "Air quality" in page.text


def test_page_is_ready_for_a_strict_content_security_policy(client):
    r = client.get("/")
    page = parse(r.text)
    assert page.inline_scripts == 0
    assert page.style_elements == 0
    assert page.style_attributes == []
    assert page.event_attributes == []
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe-inline" not in csp


def test_page_requests_nothing_from_outside(client):
    page = parse(client.get("/").text)
    for url in page.urls:
        assert not re.match(r"^(https?:)?//", url), url
        if url.startswith("/static/"):
            assert client.get(url).status_code == 200, url
    for asset in ("js/dashboard.js", "css/dashboard.css"):
        text = (views.STATIC_DIR / asset).read_text(encoding="utf-8")
        assert not re.search(r"https?://", text), f"{asset} names an external URL"


@pytest.mark.parametrize(
    "path, kind",
    [
        ("/static/vendor/leaflet/leaflet.js", "javascript"),
        ("/static/vendor/leaflet/leaflet.css", "css"),
        ("/static/vendor/chartjs/chart.umd.min.js", "javascript"),
        ("/static/js/dashboard.js", "javascript"),
        ("/static/css/dashboard.css", "css"),
        ("/static/geo/countries.geojson", ""),
    ],
)
def test_static_files_are_served(client, path, kind):
    r = client.get(path)
    assert r.status_code == 200
    assert kind in r.headers["content-type"]
    assert len(r.content) > 1000


def test_vendored_libraries_carry_their_licences():
    vendor = views.STATIC_DIR / "vendor"
    assert "BSD" in (vendor / "leaflet" / "LICENSE").read_text()
    assert "MIT" in (vendor / "chartjs" / "LICENSE.md").read_text() or "Permission is hereby granted" in (
        vendor / "chartjs" / "LICENSE.md"
    ).read_text()
    assert (views.STATIC_DIR / "geo" / "LICENSE-world-atlas").exists()


def test_country_outlines_are_small_and_cover_the_region():
    path = views.STATIC_DIR / "geo" / "countries.geojson"
    assert path.stat().st_size < 1.5 * 1024 * 1024
    geo = json.loads(path.read_text(encoding="utf-8"))
    names = {f["properties"]["name"] for f in geo["features"]}
    asean = {"Brunei", "Cambodia", "Indonesia", "Laos", "Malaysia", "Myanmar", "Philippines", "Singapore",
             "Thailand", "Vietnam"}
    assert {"Bangladesh", "India"} | asean <= names


def test_language_from_query_is_remembered_in_a_cookie(client):
    r = client.get("/?lang=bn")
    page = parse(r.text)
    assert page.html_attrs["lang"] == "bn"
    assert "বায়ুর মান" in page.text
    assert r.cookies.get(views.LANG_COOKIE) == "bn"
    again = client.get("/")  # the client keeps the cookie
    assert parse(again.text).html_attrs["lang"] == "bn"
    assert parse(client.get("/?lang=en").text).html_attrs["lang"] == "en"


def test_language_from_accept_language_and_unknown_language(client):
    r = client.get("/", headers={"Accept-Language": "ja-JP,ja;q=0.9,en;q=0.5"})
    assert parse(r.text).html_attrs["lang"] == "ja"
    r = client.get("/?lang=xx", headers={"Accept-Language": "fr"})
    assert parse(r.text).html_attrs["lang"] == "en"
    assert views.LANG_COOKIE not in r.cookies


def test_script_strings_are_delivered_translated(client):
    r = client.get("/i18n/bn.json")
    assert r.status_code == 200
    body = r.json()
    assert body["lang"] == "bn" and body["locale"] == "bn-BD"
    assert body["messages"]["Unhealthy for Sensitive Groups"] == "সংবেদনশীল গোষ্ঠীর জন্য অস্বাস্থ্যকর"
    assert body["messages"]["Dominant pollutant"]
    assert client.get("/i18n/xx.json").status_code == 404


def test_tile_url_setting_reaches_page_and_policy():
    from fastapi.testclient import TestClient

    settings = Settings(tile_url="https://{s}.tiles.example.org/{z}/{x}/{y}.png")
    with TestClient(web_app(settings)) as c:
        r = c.get("/")
    assert parse(r.text).body_attrs["data-tile-url"] == settings.tile_url
    assert "img-src 'self' data: https://*.tiles.example.org" in r.headers["content-security-policy"]
