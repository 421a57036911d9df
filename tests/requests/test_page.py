"""The /requests dashboard page: served with the strict headers, linked from every page, translated."""

from __future__ import annotations


def test_requests_page_renders_and_is_linked(world):
    r = world.client.get("/requests?city=dhaka")
    assert r.status_code == 200 and "Content-Security-Policy" in r.headers
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    html = r.text
    assert 'data-city="dhaka"' in html and "/static/js/requests.js" in html and "/static/vendor/leaflet/" in html
    assert "<script>" not in html and "style=" not in html  # no inline script or style
    for page in ("/", "/climate", "/fund", "/requests"):
        assert 'href="/requests?lang=' in world.client.get(page).text, page
    assert "নাগরিক সেবা অনুরোধ" in world.client.get("/requests?lang=bn").text
    assert world.client.get("/requests?city=<x>").status_code == 422
    assert world.client.get("/static/js/requests.js").status_code == 200


def test_the_page_data_has_no_personal_data(world):
    world.post(service_code="GARBAGE", lat=23.78, long=90.38, email="x.y@example.com", phone="+8801700000000")
    j = world.client.get("/api/v1/service-requests/summary", params={"city": "dhaka"}).json()
    assert len(j["open"]) == 1 and {c["n"] for c in j["counts"]} == {1}
    assert "example.com" not in str(j) and "+8801700000000" not in str(j)
