"""The shared pages nav looks the same on every dashboard page (real Chromium, computed styles)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

PAGES = ["/", "/climate", "/fund", "/ewaste", "/water", "/alerts", "/quality", "/requests"]


def _nav_style(page) -> dict:
    return page.eval_on_selector(
        ".pages-nav",
        """nav => {
            const a = nav.querySelector('a:not([aria-current])');
            const cur = nav.querySelector('a[aria-current="page"]');
            const s = getComputedStyle(a), n = getComputedStyle(nav), c = getComputedStyle(cur);
            return {display: n.display, decoration: s.textDecorationLine, weight: s.fontWeight,
                    colour: s.color, current_border: c.borderBottomStyle + ' ' + c.borderBottomWidth};
        }""",
    )


def test_pages_nav_is_styled_alike_on_every_page(chromium, live_server):
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    try:
        styles = {}
        for path in PAGES:
            page.goto(f"{live_server}{path}?lang=en", wait_until="load")
            styles[path] = _nav_style(page)
    finally:
        context.close()
    for path, style in styles.items():
        assert style["display"] == "flex", (path, style)
        assert style["decoration"] == "none", (path, style)
        assert int(style["weight"]) >= 600, (path, style)
        assert style["current_border"] == "solid 2px", (path, style)
    assert len({tuple(sorted(s.items())) for s in styles.values()}) == 1, styles
