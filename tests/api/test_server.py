"""How a server process runs the app (nagar.api.server): uvicorn's httptools protocol with one transport
write per event-loop turn (:class:`CoalescingHttpTools`), the garbage-collector settings (:func:`tune_gc`)
and the wiring of both into ``nagar serve`` / ``nagar demo`` and the app's lifespan.

The protocol is exercised on a real uvicorn server on a loopback port, spoken to with raw sockets, so the
bytes checked are the bytes on the wire. HTTP/1.1 framing is RFC 9112: message body length section 6.3
(Content-Length) and section 7.1 (chunked transfer coding), persistent connections section 9.3, closing
with ``Connection: close`` section 9.6; a 204 has no content (RFC 9110 section 15.3.5).
"""

from __future__ import annotations

import asyncio
import gc
import socket
import threading
import time

import pytest
import uvicorn
from fastapi.testclient import TestClient

from nagar.api import server
from nagar.api.server import GC_THRESHOLDS, CoalescingHttpTools, tune_gc


# a small ASGI app ----------------------------------------------------------------------------------------
PLAIN = b'{"hello":"world","n":42}'
CHUNKS = [b"first;", b"second;", b"third;", b"fourth;", b"fifth."]


async def _app(scope, receive, send):
    assert scope["type"] == "http"
    path = scope["path"]
    if path == "/plain":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(PLAIN)).encode())]})
        await send({"type": "http.response.body", "body": PLAIN})
    elif path.startswith("/echo"):
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        out = path.encode() + b"|" + body
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(out)).encode())]})
        await send({"type": "http.response.body", "body": out})
    elif path == "/stream":  # no Content-Length: uvicorn sends it chunked (RFC 9112 section 7.1)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for i, chunk in enumerate(CHUNKS):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if i % 2:  # some chunks in the same loop turn as the previous one, some in a later turn
                await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    elif path == "/empty":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
    else:
        await send({"type": "http.response.start", "status": 404, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})


# what reaches the real transport -------------------------------------------------------------------------
class _CountingTransport:
    """The real transport, recording every ``write`` it receives."""

    def __init__(self, transport, writes: list):
        self._t = transport
        self._writes = writes

    def write(self, data):
        self._writes.append(bytes(data))
        self._t.write(data)

    def writelines(self, lines):
        for data in lines:
            self.write(data)

    def __getattr__(self, name):
        return getattr(self._t, name)


WRITES: list[list[bytes]] = []
"""One list per connection, in the order the connections were made: the writes its real transport got."""


class _CountingProtocol(CoalescingHttpTools):
    def connection_made(self, transport) -> None:
        writes: list[bytes] = []
        WRITES.append(writes)
        super().connection_made(_CountingTransport(transport, writes))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def live():
    """A uvicorn server with the counting subclass of CoalescingHttpTools, in a thread; yields its port."""
    port = _free_port()
    config = uvicorn.Config(_app, host="127.0.0.1", port=port, http=_CountingProtocol, lifespan="off",
                            log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    yield port
    srv.should_exit = True
    thread.join(10)


def _connect(port: int) -> socket.socket:
    WRITES.clear()
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return s


class _Reader:
    """Reads HTTP/1.1 responses off a socket (RFC 9112 section 6.3 message length)."""

    def __init__(self, sock: socket.socket):
        self.sock, self.buf = sock, b""

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        self.buf += data
        return bool(data)

    def _until(self, sep: bytes) -> bytes:
        while sep not in self.buf:
            assert self._fill(), f"connection closed before {sep!r}; got {self.buf!r}"
        head, self.buf = self.buf.split(sep, 1)
        return head

    def _take(self, n: int) -> bytes:
        while len(self.buf) < n:
            assert self._fill(), f"connection closed after {len(self.buf)} of {n} bytes"
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def response(self) -> tuple[int, dict[str, str], bytes, list[bytes]]:
        """(status, headers with lower-case names, body, the chunks as sent when chunked)."""
        head = self._until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        status = int(head[0].split(" ")[1])
        assert head[0].startswith("HTTP/1.1 ")
        headers: dict[str, str] = {}
        for line in head[1:]:
            k, v = line.split(":", 1)
            assert k.lower() not in headers, f"header {k} twice"
            headers[k.lower()] = v.strip()
        chunks: list[bytes] = []
        if status in (204, 304):
            return status, headers, b"", chunks
        if headers.get("transfer-encoding") == "chunked":
            while True:
                size = int(self._until(b"\r\n").split(b";")[0], 16)
                if size == 0:
                    assert self._until(b"\r\n") == b""  # no trailers, then the final CRLF
                    return status, headers, b"".join(chunks), chunks
                chunks.append(self._take(size))
                assert self._take(2) == b"\r\n"
        return status, headers, self._take(int(headers["content-length"])), chunks

    def closed(self, wait: float = 3.0) -> bool:
        """True if the server closes the connection (EOF) within ``wait`` seconds with nothing more sent."""
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        self.buf += data
        return data == b""


def _get(path: str, extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: t\r\n{extra}\r\n".encode()


# CoalescingHttpTools ----------------------------------------------------------------------------------------
def test_plain_response_arrives_complete(live):
    with _connect(live) as s:
        s.sendall(_get("/plain"))
        status, headers, body, _ = _Reader(s).response()
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert headers["content-length"] == str(len(PLAIN))
    assert body == PLAIN


def test_head_and_body_of_a_small_response_leave_in_one_write(live):
    with _connect(live) as s:
        s.sendall(_get("/plain"))
        status, _, body, _ = _Reader(s).response()
        assert (status, body) == (200, PLAIN)
    assert len(WRITES) == 1
    writes = WRITES[0]
    assert len(writes) == 1, writes  # uvicorn's own protocol writes the head and the body separately
    assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n") and writes[0].endswith(b"\r\n\r\n" + PLAIN)


def test_two_requests_on_one_keep_alive_connection(live):
    """RFC 9112 section 9.3: the connection persists after a response; two answers, each in order."""
    with _connect(live) as s:
        r = _Reader(s)
        s.sendall(b"POST /echo/one HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nalpha")
        first = r.response()
        s.sendall(b"POST /echo/two HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nbeta")
        second = r.response()
        assert not r.closed(wait=0.3)  # still open
    assert (first[0], first[2]) == (200, b"/echo/one|alpha")
    assert (second[0], second[2]) == (200, b"/echo/two|beta")
    assert "connection" not in first[1]
    assert len(WRITES) == 1  # one connection served both


def test_pipelined_requests_answered_in_order(live):
    """RFC 9112 section 9.3.2: responses to pipelined requests come in the order of the requests."""
    with _connect(live) as s:
        s.sendall(_get("/echo/a") + _get("/echo/b") + _get("/plain"))
        r = _Reader(s)
        got = [r.response() for _ in range(3)]
    assert [(g[0], g[2]) for g in got] == [(200, b"/echo/a|"), (200, b"/echo/b|"), (200, PLAIN)]


def test_streamed_response_arrives_complete_and_in_order(live):
    """A body sent in several ``http.response.body`` messages with ``more_body`` (RFC 9112 section 7.1)."""
    with _connect(live) as s:
        r = _Reader(s)
        s.sendall(_get("/stream"))
        status, headers, body, chunks = r.response()
        s.sendall(_get("/plain"))  # the connection is usable after the last chunk
        after = r.response()
    assert status == 200 and headers["transfer-encoding"] == "chunked"
    assert chunks == CHUNKS
    assert body == b"".join(CHUNKS)
    assert (after[0], after[2]) == (200, PLAIN)
    raw = b"".join(WRITES[0])
    assert raw.index(b"first;") < raw.index(b"second;") < raw.index(b"fifth.") < raw.index(b"0\r\n\r\n")


def test_204_without_body(live):
    """RFC 9110 section 15.3.5: no content, and no chunked framing either."""
    with _connect(live) as s:
        r = _Reader(s)
        s.sendall(_get("/empty"))
        status, headers, body, _ = r.response()
        s.sendall(_get("/plain"))
        after = r.response()  # nothing stray between the 204 and the next answer
    assert (status, body) == (204, b"")
    assert "transfer-encoding" not in headers and "content-length" not in headers
    assert (after[0], after[2]) == (200, PLAIN)
    assert WRITES[0][0].startswith(b"HTTP/1.1 204 No Content\r\n")


def test_connection_close_closes_after_the_answer(live):
    """RFC 9112 section 9.6: with ``Connection: close`` the server closes once the answer is sent in full."""
    with _connect(live) as s:
        r = _Reader(s)
        s.sendall(_get("/plain", "Connection: close\r\n"))
        status, headers, body, _ = r.response()
        assert (status, body) == (200, PLAIN)
        assert headers.get("connection") == "close"
        assert r.closed(), "the server kept the connection open"
        assert r.buf == b""


def test_error_answer_to_a_malformed_request_is_sent_before_the_close(live):
    """uvicorn answers a request it cannot parse with a 400 and closes (write then close in one turn)."""
    with _connect(live) as s:
        s.sendall(b"GARBAGE\r\n\r\n")
        r = _Reader(s)
        status, _, _, _ = r.response()
        assert status == 400
        assert r.closed()


# the demo / serve path ---------------------------------------------------------------------------------------
def test_run_hands_uvicorn_the_protocol_and_the_access_log_setting(monkeypatch):
    from types import SimpleNamespace

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))

    class _App:
        class state:
            pass

    app = _App()
    settings = SimpleNamespace(host="127.0.0.1", port=8123, db="x.duckdb")
    server.run(app, settings, access_log=False)  # uvicorn is the default
    assert len(calls) == 1
    got, kw = calls[0]
    assert got is app
    assert kw["http"] is CoalescingHttpTools
    assert kw["access_log"] is False
    assert (kw["host"], kw["port"]) == ("127.0.0.1", 8123)
    assert kw["proxy_headers"] is False  # client addresses only from NAGAR_TRUSTED_PROXIES
    assert app.state.tune_gc is True
    server.run(app, settings, server="uvicorn")
    assert calls[1][1]["access_log"] is True  # the default logs requests
    with pytest.raises(ValueError, match="server must be one of granian, uvicorn"):
        server.run(app, settings, server="hypercorn")


def test_run_starts_granian_on_the_served_app_with_the_settings_in_its_environment(monkeypatch):
    """``--server granian``: Granian builds the app in its worker from nagar.api.server:served_app, so the
    CLI's --db/--host/--port must reach that process as NAGAR_* variables."""
    from types import SimpleNamespace

    import granian

    made = []

    class FakeGranian:
        def __init__(self, target, **kw):
            made.append((target, kw))

        def serve(self):
            made.append("served")

    monkeypatch.setattr(granian, "Granian", FakeGranian)
    for var in ("NAGAR_DB", "NAGAR_HOST", "NAGAR_PORT"):  # recorded, so that run()'s values are undone after
        monkeypatch.setenv(var, "before")
    settings = SimpleNamespace(host="127.0.0.2", port=8125, db="/tmp/somewhere/n.duckdb")
    server.run(object(), settings, server="granian", access_log=False)
    (target, kw), done = made
    assert target == "nagar.api.server:served_app" and kw["factory"] is True and done == "served"
    assert (kw["address"], kw["port"], kw["workers"], kw["log_access"]) == ("127.0.0.2", 8125, 1, False)
    import os

    assert (os.environ["NAGAR_DB"], os.environ["NAGAR_HOST"], os.environ["NAGAR_PORT"]) == (
        "/tmp/somewhere/n.duckdb", "127.0.0.2", "8125")


def test_served_app_reads_the_environment_and_asks_for_gc_tuning(monkeypatch, tmp_path):
    monkeypatch.setenv("NAGAR_DB", str(tmp_path / "w.duckdb"))
    monkeypatch.setenv("NAGAR_SECRET_KEY", "k" * 40)
    app = server.served_app()
    assert str(app.state.settings.db) == str(tmp_path / "w.duckdb") and app.state.tune_gc is True


def test_cli_serve_passes_no_access_log(monkeypatch, tmp_path):
    """``nagar serve --server uvicorn --no-access-log`` reaches server.run and through it uvicorn."""
    from typer.testing import CliRunner

    from nagar import cli

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    monkeypatch.setattr(cli, "_check_port", lambda host, port: None)
    monkeypatch.setenv("NAGAR_SECRET_KEY", "k" * 40)
    res = CliRunner().invoke(cli.app, ["serve", "--db", str(tmp_path / "s.duckdb"), "--port", "8124",
                                       "--no-access-log", "--server", "uvicorn"])
    assert res.exit_code == 0, res.output
    (app, kw), = calls
    assert kw["http"] is CoalescingHttpTools and kw["access_log"] is False and kw["port"] == 8124
    assert app.state.tune_gc is True


# tune_gc --------------------------------------------------------------------------------------------------
@pytest.fixture
def gc_state():
    """The interpreter's collector settings, put back afterwards (tune_gc freezes every live object)."""
    old = gc.get_threshold()
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.set_threshold(*old)


def test_tune_gc_freezes_and_raises_thresholds(gc_state, monkeypatch):
    monkeypatch.delenv("NAGAR_GC_TUNING", raising=False)
    assert gc.get_freeze_count() == 0
    tune_gc()
    assert gc.get_threshold() == GC_THRESHOLDS
    assert gc.get_freeze_count() > 0


@pytest.mark.parametrize("off", ["false", "0", "no", "off", " False "])
def test_tune_gc_off_changes_nothing(gc_state, monkeypatch, off):
    monkeypatch.setenv("NAGAR_GC_TUNING", off)
    gc.set_threshold(700, 10, 10)
    tune_gc()
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_freeze_count() == 0


# the app's lifespan ----------------------------------------------------------------------------------------
def _lifespan_calls(tmp_path, monkeypatch, flag: bool | None) -> int:
    from nagar.api.app import create_app
    from nagar.core.settings import Settings
    from nagar.store.duckdb import DuckDBStore

    calls = []
    monkeypatch.setattr(server, "tune_gc", lambda: calls.append(1))
    store = DuckDBStore(tmp_path / "l.duckdb")
    try:
        app = create_app(Settings(secret_key="s" * 32, db=tmp_path / "l.duckdb"), store=store)
        if flag is not None:
            app.state.tune_gc = flag
        with TestClient(app) as c:
            assert c.get("/api/v1/health").status_code == 200  # the app runs either way
        return len(calls)
    finally:
        store.close()


def test_lifespan_tunes_gc_when_asked(tmp_path, monkeypatch):
    assert _lifespan_calls(tmp_path, monkeypatch, True) == 1


@pytest.mark.parametrize("flag", [None, False])
def test_lifespan_leaves_gc_alone_otherwise(tmp_path, monkeypatch, flag):
    assert _lifespan_calls(tmp_path, monkeypatch, flag) == 0
