"""The HTTP edge (nagar.security.http, nagar.security.ratelimit) on the real app from ``create_app``.

Limiter arithmetic uses a fake clock (no sleeping). Streaming uploads go through a real uvicorn server in a
thread, since TestClient sends a Content-Length for every body. ``-m browser`` renders /docs in Chromium.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from nagar.api.app import create_app
from nagar.core.errors import NagarError
from nagar.core.settings import Settings
from nagar.security.http import (
    CONTENT_SECURITY_POLICY,
    SecurityHeadersMiddleware,
    client_address,
    docs_router,
    install,
    parse_networks,
)
from nagar.security.ratelimit import RateLimited, RateLimiter
from nagar.store.duckdb import DuckDBStore

EDGE_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# --- the app under test -----------------------------------------------------------------------------------


@pytest.fixture
def make_app(tmp_path):
    """``make_app(**settings)``: ``create_app`` over a fresh DuckDB file, with the edge installed and the
    offline /docs mounted (done here only while ``create_app`` does not do it itself), plus one probe
    route that streams its body and reports what arrived."""
    stores = []

    def build(**fields) -> FastAPI:
        n = len(stores)
        settings = Settings(db=tmp_path / f"t{n}.duckdb", secret_key="test-secret-" + "x" * 32, **fields)
        store = DuckDBStore(tmp_path / f"t{n}.duckdb")
        stores.append(store)
        app = create_app(settings, store=store)
        if not any(m.cls is SecurityHeadersMiddleware for m in app.user_middleware):
            install(app, settings)
        if app.docs_url is not None:  # FastAPI's CDN page is still on: swap in the offline one
            default_docs = {app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url} - {None}
            app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", None) not in default_docs]
            app.docs_url = app.redoc_url = app.swagger_ui_oauth2_redirect_url = None
            app.include_router(docs_router)

        @app.post("/probe/stream", include_in_schema=False)
        async def probe(request: Request) -> dict:
            size = chunks = 0
            async for chunk in request.stream():
                size += len(chunk)
                chunks += 1
            return {"bytes": size, "chunks": chunks, "client_ip": request.state.client_ip}

        return app

    yield build
    for store in stores:
        store.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(app: FastAPI):
    """A real uvicorn server for ``app`` on a free loopback port, in a thread; yields its base URL.

    ``proxy_headers=False``: uvicorn must not rewrite the client address itself (the edge decides).
    """
    import uvicorn

    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
                            proxy_headers=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="nagar-edge-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# --- RateLimiter and RateLimited --------------------------------------------------------------------------


def test_limiter_allows_the_burst_then_announces_the_wait():
    clock = FakeClock()
    limiter = RateLimiter(rate_per_s=0.5, burst=3, clock=clock)
    assert [limiter.hit("a") for _ in range(3)] == [None, None, None]
    assert limiter.hit("a") == 2.0  # one token every 2 s
    clock.advance(1.0)
    assert limiter.hit("a") == 1.0  # a refusal takes nothing: half a token is there, 1 s to go
    clock.advance(1.0)
    assert limiter.hit("a") is None
    assert limiter.hit("a") == 2.0


def test_limiter_refills_no_more_than_the_burst():
    clock = FakeClock()
    limiter = RateLimiter(rate_per_s=10, burst=2, clock=clock)
    limiter.hit("a"), limiter.hit("a")
    clock.advance(3600)
    assert [limiter.hit("a") for _ in range(3)] == [None, None, 1.0]


@pytest.mark.parametrize(("rate", "cost", "expected"), [(0.3, 1, 4.0), (3.0, 1, 1.0), (1.0, 2.5, 2.0), (0.1, 1, 10.0)])
def test_retry_after_is_rounded_up_to_whole_seconds(rate, cost, expected):
    limiter = RateLimiter(rate_per_s=rate, burst=3, clock=FakeClock())
    while limiter.hit("a", cost) is None:
        pass
    assert limiter.hit("a", cost) == expected


def test_limiter_keys_are_independent():
    limiter = RateLimiter(rate_per_s=1, burst=1, clock=FakeClock())
    assert limiter.hit("a") is None
    assert limiter.hit("a") == 1.0
    assert limiter.hit("b") is None
    limiter.reset("a")
    assert limiter.hit("a") is None


def test_limiter_drops_idle_buckets_without_changing_answers():
    clock = FakeClock()
    limiter = RateLimiter(rate_per_s=2, burst=4, clock=clock)  # a bucket is full again after 2 s
    for i in range(50):
        limiter.hit(f"k{i}")
    assert len(limiter) == 50
    clock.advance(2.0)
    assert limiter.hit("fresh") is None
    assert len(limiter) == 1
    assert [limiter.hit("k0") for _ in range(5)] == [None, None, None, None, 1.0]


def test_limiter_memory_is_capped():
    limiter = RateLimiter(rate_per_s=1, burst=5, clock=FakeClock(), max_keys=100)
    for i in range(10_000):
        limiter.hit(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter) == 100
    limiter.hit("10.0.39.15")  # the most recent keys are the ones kept
    assert limiter.hit("10.0.39.15") is None and len(limiter) == 100


def test_limiter_is_thread_safe():
    limiter = RateLimiter(rate_per_s=1e-6, burst=3000, clock=FakeClock())
    allowed = []

    def worker():
        allowed.append(sum(limiter.hit("shared") is None for _ in range(500)))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(allowed) == 3000


@pytest.mark.parametrize("kwargs", [dict(rate_per_s=0, burst=1), dict(rate_per_s=float("inf"), burst=1),
                                    dict(rate_per_s=1, burst=0), dict(rate_per_s=1, burst=1, max_keys=0)])
def test_limiter_rejects_impossible_settings(kwargs):
    with pytest.raises(ValueError):
        RateLimiter(**kwargs)


def test_limiter_rejects_a_cost_it_could_never_allow():
    limiter = RateLimiter(rate_per_s=1, burst=2)
    with pytest.raises(ValueError):
        limiter.hit("a", 3)
    with pytest.raises(ValueError):
        limiter.hit("a", -1)


def test_rate_limited_error():
    err = RateLimited("slow down", retry_after=1.2)
    assert isinstance(err, NagarError) and err.status_code == 429
    assert err.retry_after == 2
    assert err.headers == {"Retry-After": "2"}
    assert err.to_dict() == {"error": "rate_limited", "message": "slow down", "retry_after": 2}


# --- client address ---------------------------------------------------------------------------------------


def _scope(peer: str | None, forwarded: list[str] = ()) -> dict:
    return {"type": "http", "client": (peer, 5000) if peer else None,
            "headers": [(b"x-forwarded-for", v.encode()) for v in forwarded]}


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("203.0.113.9", ["198.51.100.1"], [], "203.0.113.9"),  # untrusted peer: header ignored
        ("10.0.0.2", ["198.51.100.1"], ["10.0.0.0/8"], "198.51.100.1"),
        ("10.0.0.2", ["6.6.6.6, 198.51.100.1"], ["10.0.0.0/8"], "198.51.100.1"),  # left part forged
        ("10.0.0.2", ["198.51.100.1, 10.0.0.7"], ["10.0.0.0/8"], "198.51.100.1"),  # two proxies
        ("10.0.0.2", ["198.51.100.1", "10.0.0.7"], ["10.0.0.0/8"], "198.51.100.1"),  # repeated header
        ("10.0.0.2", ["not-an-ip, 10.0.0.7"], ["10.0.0.0/8"], "10.0.0.7"),  # garbage stops the walk
        ("10.0.0.2", [], ["10.0.0.0/8"], "10.0.0.2"),
        ("::ffff:10.0.0.2", ["2001:db8::1"], ["10.0.0.2"], "2001:db8::1"),
        ("127.0.0.1", ["[2001:db8::5]:443"], ["127.0.0.1"], "2001:db8::5"),
        (None, [], [], "unknown"),
    ],
)
def test_client_address(peer, forwarded, trusted, expected):
    assert client_address(_scope(peer, forwarded), parse_networks(trusted)) == expected


def test_bad_trusted_proxy_or_origin_fails_at_install(make_app):
    with pytest.raises(ValueError, match="trusted_proxies"):
        make_app(trusted_proxies=["10.0.0.0/8", "proxy.local"])
    with pytest.raises(ValueError, match="cors_origins"):
        make_app(cors_origins=["https://city.example.org/"])


# --- security headers -------------------------------------------------------------------------------------


def _assert_edge_headers(r: httpx.Response) -> None:
    for name, value in EDGE_HEADERS.items():
        assert r.headers.get(name) == value, name
    policy = r.headers["permissions-policy"]
    assert "geolocation=()" in policy and "camera=()" in policy and "microphone=()" in policy
    assert "content-security-policy" in r.headers


def test_headers_on_an_api_answer(make_app):
    with TestClient(make_app()) as c:
        r = c.get("/api/v1/health")
        assert r.status_code == 200
        _assert_edge_headers(r)
        assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert r.headers["cache-control"] == "no-store"
        assert "strict-transport-security" not in r.headers
        missing = c.get("/api/v1/no-such-thing")
        assert missing.status_code == 404 and missing.headers["cache-control"] == "no-store"
        _assert_edge_headers(missing)


def test_headers_on_the_dashboard_keep_its_own_csp(make_app):
    with TestClient(make_app(tile_url="https://{s}.tile.example.org/{z}/{x}/{y}.png")) as c:
        r = c.get("/")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        for name, value in EDGE_HEADERS.items():
            if name != "referrer-policy":
                assert r.headers.get(name) == value, name
        # the page's own choices win; one value each, none that leaks the path to other sites
        assert r.headers.get_list("referrer-policy") in (["no-referrer"], ["same-origin"])
        assert "geolocation=()" in r.headers["permissions-policy"]
        assert "https://*.tile.example.org" in r.headers["content-security-policy"]
        assert len(r.headers.get_list("content-security-policy")) == 1
        assert r.headers.get("cache-control") != "no-store"


def test_headers_on_a_static_file(make_app):
    with TestClient(make_app()) as c:
        r = c.get("/static/js/docs.js")
        assert r.status_code == 200 and "javascript" in r.headers["content-type"]
        _assert_edge_headers(r)
        assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "no-store" not in r.headers.get("cache-control", "")


def test_hsts_only_over_https(make_app):
    app = make_app(trusted_proxies=["10.0.0.0/8"])
    with TestClient(app, base_url="https://testserver") as c:
        assert c.get("/api/v1/health").headers["strict-transport-security"].startswith("max-age=")
    proxied = {"X-Forwarded-Proto": "https"}
    with TestClient(app, client=("10.0.0.2", 4000)) as c:  # a trusted TLS-terminating proxy
        assert "strict-transport-security" in c.get("/api/v1/health", headers=proxied).headers
    with TestClient(app, client=("203.0.113.9", 4000)) as c:  # anyone else may not claim TLS
        assert "strict-transport-security" not in c.get("/api/v1/health", headers=proxied).headers


# --- request body limit -----------------------------------------------------------------------------------


def _assert_413(r: httpx.Response) -> None:
    assert r.status_code == 413, r.text
    body = r.json()
    assert body["error"] == "payload_too_large" and body["field"] == "body" and "1024" in body["message"]
    assert r.headers["x-content-type-options"] == "nosniff"


def test_413_for_an_oversized_content_length(make_app):
    with TestClient(make_app(max_body_bytes=1024)) as c:
        _assert_413(c.post("/api/v1/observations", content=b"[" + b" " * 2048 + b"]",
                           headers={"Content-Type": "application/json"}))
        _assert_413(c.post("/probe/stream", content=b"x" * 1025))
        assert c.post("/probe/stream", content=b"x" * 1024).json()["bytes"] == 1024


def _chunks(count: int, size: int = 512):
    for _ in range(count):
        yield b"x" * size


def test_413_for_an_oversized_chunked_body(make_app):
    app = make_app(max_body_bytes=1024)
    with serving(app) as base, httpx.Client(base_url=base, timeout=10) as http:
        r = http.post("/probe/stream", content=_chunks(16))
        assert "content-length" not in r.request.headers and r.request.headers["transfer-encoding"] == "chunked"
        _assert_413(r)
        ok = http.post("/probe/stream", content=_chunks(2))
        assert ok.status_code == 200 and ok.json()["bytes"] == 1024


def test_413_for_a_chunked_batch_on_the_ingest_route(make_app):
    from tests.conftest import bearer, make_user

    app = make_app(max_body_bytes=1024)
    admin = make_user(app.state.store, "root", platform_admin=True)
    with serving(app) as base, httpx.Client(base_url=base, timeout=10, headers=bearer(app, admin)) as http:
        rows = [dict(station="st1", parameter="pm25", time="2024-05-01T00:00:00Z", value=12.0)] * 40
        data = json.dumps(rows).encode()
        assert len(data) > 1024
        r = http.post("/api/v1/observations", content=(data[i:i + 100] for i in range(0, len(data), 100)),
                      headers={"Content-Type": "application/json"})
        _assert_413(r)
        assert r.headers["cache-control"] == "no-store"


def test_413_is_sent_while_the_body_is_still_arriving(make_app):
    """Bytes are counted as they come: the answer arrives before the client has finished its body."""
    app = make_app(max_body_bytes=1024)
    with serving(app) as base:
        host, port = urlsplit(base).hostname, urlsplit(base).port
        with socket.create_connection((host, port), timeout=10) as sock:
            sock.sendall(b"POST /probe/stream HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
            for _ in range(3):  # 1536 bytes, and no final zero-length chunk
                sock.sendall(b"200\r\n" + b"x" * 512 + b"\r\n")
            answer = b""
            while b"\r\n\r\n" not in answer:
                part = sock.recv(4096)
                if not part:
                    break
                answer += part
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"connection: close" in answer.lower()


# --- rate limit -------------------------------------------------------------------------------------------


def test_429_after_the_burst_and_recovery(make_app):
    app = make_app(ip_rate_per_s=0.5, ip_burst=3)
    assert isinstance(app.state.ip_limiter, RateLimiter) and isinstance(app.state.key_limiter, RateLimiter)
    clock = FakeClock()
    app.state.ip_limiter = RateLimiter(0.5, 3, clock=clock)
    with TestClient(app) as c:
        assert [c.get("/api/v1/health").status_code for _ in range(3)] == [200, 200, 200]
        r = c.get("/api/v1/health")
        assert r.status_code == 429
        assert r.headers["retry-after"] == "2"
        body = r.json()
        assert body["error"] == "rate_limited" and body["message"] and body["retry_after"] == 2
        _assert_edge_headers(r)
        assert c.get("/static/js/docs.js").status_code == 429  # every path counts
        clock.advance(2)
        assert c.get("/api/v1/health").status_code == 200
        assert c.get("/api/v1/health").status_code == 429


def test_the_real_clock_recovers(make_app):
    """The installed limiter runs on time.monotonic: one short real wait (the arithmetic is tested above)."""
    with TestClient(make_app(ip_rate_per_s=1, ip_burst=1)) as c:
        assert c.get("/api/v1/health").status_code == 200
        r = c.get("/api/v1/health")
        assert r.status_code == 429 and r.headers["retry-after"] == "1"
        time.sleep(float(r.headers["retry-after"]))
        assert c.get("/api/v1/health").status_code == 200


def test_rate_limit_per_client_behind_a_trusted_proxy(make_app):
    app = make_app(ip_rate_per_s=0.01, ip_burst=2, trusted_proxies=["127.0.0.1"])
    with serving(app) as base, httpx.Client(base_url=base, timeout=10) as http:
        def status(client_ip: str) -> int:
            return http.get("/api/v1/health", headers={"X-Forwarded-For": client_ip}).status_code

        assert [status("198.51.100.1") for _ in range(3)] == [200, 200, 429]
        assert status("198.51.100.2") == 200  # another client behind the same proxy
        assert [status("2001:db8:1:1::1"), status("2001:db8:1:1::2"), status("2001:db8:1:2::1")] == [200, 200, 200]
        assert status("2001:db8:1:1::3") == 429  # one /64 shares a bucket
        seen = http.post("/probe/stream", content=b"{}", headers={"X-Forwarded-For": "6.6.6.6, 198.51.100.7"})
        assert seen.json()["client_ip"] == "198.51.100.7"  # what the routes see as request.state.client_ip


def test_x_forwarded_for_is_ignored_from_an_untrusted_peer(make_app):
    app = make_app(ip_rate_per_s=0.01, ip_burst=2)
    with serving(app) as base, httpx.Client(base_url=base, timeout=10) as http:
        codes = [http.get("/api/v1/health", headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code
                 for i in range(3)]
        assert codes == [200, 200, 429]


# --- CORS -------------------------------------------------------------------------------------------------

ORIGIN = "https://map.city.example.org"


def test_cors_is_off_by_default(make_app):
    with TestClient(make_app()) as c:
        r = c.get("/api/v1/health", headers={"Origin": ORIGIN})
        assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
        pre = c.options("/api/v1/health", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"})
        assert "access-control-allow-origin" not in pre.headers


def test_cors_for_a_configured_origin(make_app):
    with TestClient(make_app(cors_origins=[ORIGIN], ip_rate_per_s=0.01, ip_burst=4)) as c:
        r = c.get("/api/v1/health", headers={"Origin": ORIGIN})
        assert r.headers["access-control-allow-origin"] == ORIGIN
        assert "access-control-allow-credentials" not in r.headers
        assert "Retry-After" in r.headers["access-control-expose-headers"]
        other = c.get("/api/v1/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        pre = c.options("/api/v1/observations", headers={
            "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type"})
        assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == ORIGIN
        assert "POST" in pre.headers["access-control-allow-methods"]
        bad = c.options("/api/v1/observations", headers={"Origin": "https://evil.example",
                                                         "Access-Control-Request-Method": "POST"})
        assert bad.status_code == 400 and "access-control-allow-origin" not in bad.headers
        for _ in range(4):
            limited = c.get("/api/v1/health", headers={"Origin": ORIGIN})
        assert limited.status_code == 429
        assert limited.headers["access-control-allow-origin"] == ORIGIN  # the page can read Retry-After


def test_install_twice_adds_nothing(make_app):
    app = make_app()
    count = len(app.user_middleware)
    install(app, app.state.settings)
    assert len(app.user_middleware) == count


# --- offline API docs -------------------------------------------------------------------------------------


class _PageParts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[tuple[dict, str]] = []
        self.urls: list[str] = []
        self.inline: list[str] = []
        self._script: dict | None = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.inline += [f"{tag} {name}" for name in attrs if name.startswith("on") or name == "style"]
        if tag == "style":
            self.inline.append("style element")
        for name in ("src", "href"):
            if attrs.get(name):
                self.urls.append(attrs[name])
        if tag == "script":
            self._script, self._text = attrs, ""

    def handle_data(self, data):
        if self._script is not None:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script, self._text))
            self._script = None


def test_docs_page_has_no_inline_script_and_only_local_assets(make_app):
    with TestClient(make_app()) as c:
        r = c.get("/docs")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "unsafe-inline" not in r.headers["content-security-policy"]
        page = _PageParts()
        page.feed(r.text)
        assert len(page.scripts) == 2
        assert all(attrs.get("src") and not text.strip() for attrs, text in page.scripts)
        assert page.inline == []
        assert page.urls and all(u.startswith("/static/") for u in page.urls), page.urls
        assert 'data-openapi-url="/openapi.json"' in r.text
        kinds = {}
        for url in page.urls:
            asset = c.get(url)
            assert asset.status_code == 200, url
            kinds[url.split("?")[0].rsplit(".", 1)[-1]] = asset.headers["content-type"]
        assert "javascript" in kinds["js"] and kinds["css"].startswith("text/css")
        assert c.get("/openapi.json").status_code == 200
        assert "/docs" not in c.get("/openapi.json").json()["paths"]


def test_vendored_swagger_ui_is_pinned_and_licensed():
    vendor = Path(__file__).resolve().parents[2] / "nagar/web/static/vendor/swagger-ui"
    version = (vendor / "VERSION").read_text()
    assert version.startswith("swagger-ui-dist 5.35.0")
    assert "Apache License" in (vendor / "LICENSE").read_text()
    import hashlib

    for name in ("swagger-ui-bundle.js", "swagger-ui.css"):
        digest = hashlib.sha256((vendor / name).read_bytes()).hexdigest()
        assert f"{digest}  {name}" in version, name


@pytest.mark.browser
def test_docs_render_the_operations_in_chromium(make_app, chromium):
    app = make_app()
    spec = app.openapi()
    operations = sum(1 for item in spec["paths"].values() for method in item
                     if method in ("get", "put", "post", "delete", "options", "head", "patch", "trace"))
    assert operations > 5
    with serving(app) as base:  # the one Playwright session of this process: tests/conftest.py `chromium`
        page = chromium.new_page(viewport={"width": 1280, "height": 16000})  # tall: every tag section in view
        try:
            problems: list[str] = []
            host = urlsplit(base).netloc
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                    if m.type in ("error", "warning") else None)
            page.on("request", lambda req: problems.append(f"outside request: {req.url}")
                    if req.url.startswith(("http:", "https:")) and urlsplit(req.url).netloc != host else None)
            page.goto(f"{base}/docs")
            page.wait_for_selector("body[data-state='ready'], body[data-state='error']", state="attached",
                                   timeout=20_000)
            assert page.get_attribute("body", "data-state") == "ready", problems
            # Swagger UI draws a tag section's operations only once the section is in view (hence the tall
            # viewport) and tag by tag: poll until all are there (the page's CSP forbids the string
            # evaluation wait_for_function uses)
            page.wait_for_selector(".opblock", timeout=20_000)
            deadline = time.monotonic() + 30
            while page.locator(".opblock").count() < operations and time.monotonic() < deadline:
                page.wait_for_timeout(200)
            assert page.locator(".opblock").count() == operations, problems[:5]
            assert page.locator(".opblock-summary-path", has_text="/api/v1/health").count() == 1
            assert page.locator(".information-container .title").first.inner_text().startswith(app.title)
            assert problems == []
        finally:
            page.close()
