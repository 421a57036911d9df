"""Numbers, words and stations as the pages show them, in headless Chromium against a real server over
demo data: the page's digits (Bengali for bn) in every number, short numbers whose unit is right, small
amounts never shown as 0, fault details through the catalogue, and only air stations on the air pages.
Expected texts are worked by hand from the catalogues and the Bengali digits U+09E6..U+09EF."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

READY = "body[data-state='ready'], body[data-state='error']"


@pytest.fixture(scope="module")
def page_at(chromium, live_server):
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()

    def go(path: str):
        page.goto(f"{live_server}{path}", wait_until="load")
        page.wait_for_selector(READY, timeout=30000)
        return page

    yield go
    context.close()


def test_bengali_pages_write_numbers_in_bengali_digits(page_at):
    page = page_at("/quality?lang=bn")
    got = page.evaluate("""() => ({
        year: Nagar.digits(2041),
        count: Nagar.fmt("{n}টি অর্থায়িত প্রকল্প", {n: 3}),
        ofTotal: Nagar.fmt("{n} of {total}", {n: 6, total: 6}),
        text: Nagar.fmt("{id}", {id: "plan-2024"}),
    })""")
    assert got == {"year": "২০৪১", "count": "৩টি অর্থায়িত প্রকল্প", "ofTotal": "৬ of ৬",
                   "text": "plan-2024"}  # a string value (an id) is left as it is


def test_short_numbers_have_the_right_unit(page_at):
    bn = page_at("/quality?lang=bn").evaluate("() => [2e10, 8.5e6, 150000, 99999].map(Nagar.short)")
    # 2×10^10 = 2,000 crore (10^7); 8.5×10^6 = 85 lakh (10^5); below a lakh the full number
    assert bn == ["২,০০০\u00a0কোটি", "৮৫\u00a0লাখ", "১.৫\u00a0লাখ", "৯৯,৯৯৯"]
    en = page_at("/quality?lang=en").evaluate("() => [2e10, 8.5e6].map(Nagar.short)")
    assert en == ["20bn", "8.5m"]  # en-GB compact notation


def test_small_amounts_are_not_shown_as_zero(page_at):
    page = page_at("/quality?lang=en")
    got = page.evaluate("() => [Nagar.amount(0.0045, 1), Nagar.amount(0.04, 1), Nagar.amount(0, 1), Nagar.amount(2.56, 1)]")
    # 0.0045 t and 0.04 t have nothing in the first decimal: two significant digits instead of "0"
    assert got == ["0.0045", "0.04", "0", "2.6"]


def test_only_stations_measuring_air_pollutants_are_air_stations(page_at):
    page = page_at("/quality?lang=en")
    got = page.evaluate("""() => [
        Nagar.measuresAir({parameters: ["generation"]}),
        Nagar.measuresAir({parameters: ["temperature", "relativehumidity"]}),
        Nagar.measuresAir({parameters: ["pm25"]}),
        Nagar.measuresAir({parameters: ["generation", "no2"]}),
    ]""")
    assert got == [False, False, True, True]


@pytest.mark.parametrize("lang, detail, expected", [
    ("bn", "value 56 unchanged for 45 h (limit 6 h)", "মান ৫৬ ৪৫ ঘণ্টা অপরিবর্তিত (সীমা ৬ ঘণ্টা)"),
    ("ja", "value 56 unchanged for 45 h (limit 6 h)", "値 56 が45時間変化なし(上限 6時間)"),
    ("bn", "864.4 vs window median 39.9 (48.4 scaled MADs; jumps +836.0, -824.5 per reading)",
     "৮৬৪.৪, উইন্ডোর মধ্যমা ৩৯.৯ (৪৮.৪ স্কেল করা MAD; প্রতি পাঠে লাফ +৮৩৬ ও -৮২৪.৫)"),
    ("en", "negative value -3", "negative value -3"),
    ("bn", "a detail of a new kind", "a detail of a new kind"),  # unknown forms are shown as they are
])
def test_fault_details_are_translated(page_at, lang, detail, expected):
    page = page_at(f"/quality?lang={lang}")
    assert page.evaluate("(d) => nagarQuality.detailText(d)", detail) == expected


def test_air_quality_page_lists_no_station_without_air_pollutants(page_at, live_server):
    import json
    import urllib.request

    with urllib.request.urlopen(f"{live_server}/api/v1/stations") as r:
        stations = json.load(r)["items"]
    page = page_at("/?lang=en")
    page.wait_for_selector("#station-table tbody tr", timeout=30000)
    city = page.eval_on_selector("#city-select", "s => s.value")
    shown = page.eval_on_selector_all("#station-table tbody tr", "rows => rows.length")
    air = [s for s in stations if s["city"] == city and
           set(s.get("parameters") or ["pm25"]) & {"pm25", "pm10", "pm1", "o3", "no2", "no", "so2", "co"}]
    assert shown == len(air)
