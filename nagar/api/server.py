"""How ``nagar serve`` (and the demo) runs the app: uvicorn by default, with two measured changes for a
server process, or Granian (``--server granian``, :func:`run`).

1. **One write per response** (:class:`CoalescingHttpTools`). uvicorn's httptools protocol writes the
   response head and the body with two ``transport.write`` calls, i.e. two ``send`` system calls and two
   wake-ups of the client. The protocol here hands uvicorn a transport whose writes made in one turn of
   the event loop are joined and sent at the end of that turn (``loop.call_soon``), so a head and body sent
   together leave in one segment. Order is kept, a close sends what is pending first, and nothing waits
   longer than the current loop iteration. uvicorn takes a protocol class through its documented ``http``
   setting. Measured (bench/ngsild.py's machine, a 60-byte ASGI answer, wrk 32 connections): 38 -> 32 µs of
   server CPU per request, 25,000 -> 29,600 requests/s.
2. **Garbage-collector settings for a long-running server** (:func:`tune_gc`, applied once the app has
   started): the objects alive after start-up (modules, routes, models: several hundred thousand) are
   moved out of the collector's reach with ``gc.freeze()``, and the young generation is collected every
   50,000 net allocations instead of 700. Python frees almost everything a request allocates by reference
   counting; the collector only finds reference cycles, and with the default threshold it ran every few
   requests, walking the survivors each time. Measured in-process (bench machine, NGSI-LD edge requests):
   a read 47 -> 26 µs, an attribute update 240 -> 140 µs of CPU. Cost: cyclic garbage lives a little
   longer (bounded by the 50,000 threshold), and objects made at start-up that later become cyclic
   garbage are never collected (the usual trade of ``gc.freeze``; see the Python ``gc`` documentation).
   Off with ``NAGAR_GC_TUNING=false``.
"""

from __future__ import annotations

import gc
import os

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

GC_THRESHOLDS = (50_000, 20, 100)


class _CoalescingTransport:
    """A transport whose writes within one event-loop turn leave as one ``write`` at its end."""

    __slots__ = ("_t", "_buf", "_loop", "_scheduled")

    def __init__(self, transport, loop):
        self._t = transport
        self._buf: list[bytes] = []
        self._loop = loop
        self._scheduled = False

    def write(self, data: bytes) -> None:
        self._buf.append(data)
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._flush)

    def writelines(self, lines) -> None:
        for data in lines:
            self.write(data)

    def _flush(self) -> None:
        self._scheduled = False
        if not self._buf:
            return
        data = self._buf[0] if len(self._buf) == 1 else b"".join(self._buf)
        self._buf.clear()
        if not self._t.is_closing():
            self._t.write(data)

    def close(self) -> None:
        self._flush()
        self._t.close()

    def __getattr__(self, name):
        return getattr(self._t, name)


class CoalescingHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with :class:`_CoalescingTransport` (see the module text)."""

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self.transport = _CoalescingTransport(transport, self.loop)


def tune_gc() -> None:
    """Freeze the objects alive now and raise the collector's thresholds (see the module text)."""
    if os.environ.get("NAGAR_GC_TUNING", "true").strip().lower() in ("0", "false", "no", "off"):
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


SERVERS = ("granian", "uvicorn")


def run(application, settings, *, server: str = "uvicorn", access_log: bool = True) -> None:
    """Serve until stopped (what ``nagar serve`` and ``nagar demo`` call).

    ``uvicorn`` (the default) serves in this process. ``granian``: Granian's HTTP/1.1 server (Rust: parsing and socket I/O outside the Python
    interpreter lock) with one worker process that builds the app with :func:`served_app` from the same
    settings, handed over as ``NAGAR_*`` environment variables. ``application`` (built here from them)
    only checks the settings before the server starts. Granian forks its worker: a parent that has used
    Polars (whose thread pool does not survive a fork) before, as ``nagar demo`` does, leaves the worker
    stuck in its first Polars call, which is why uvicorn (with :class:`CoalescingHttpTools`) is the default. Either way the GC settings of :func:`tune_gc` apply after start-up.
    Measured with bench/ngsild.py on the 2-core machine (NGSI-LD reads, wrk 32 connections): uvicorn
    ~9,500 reads/s at ~100 µs of server CPU each, Granian ~16,500 reads/s at ~83 µs (of which ~25 µs in
    its I/O threads, in parallel with the interpreter).
    """
    if server not in SERVERS:
        raise ValueError(f"server must be one of {', '.join(SERVERS)}, not {server!r}")
    if server == "uvicorn":
        import uvicorn

        application.state.tune_gc = True  # the lifespan calls tune_gc() once start-up is done
        # proxy_headers off: client addresses for rate limits come only from NAGAR_TRUSTED_PROXIES' rules
        uvicorn.run(application, host=settings.host, port=settings.port, log_level="info", proxy_headers=False,
                    server_header=False, http=CoalescingHttpTools, access_log=access_log)
        return
    from granian import Granian
    from granian.constants import Interfaces, Loops

    os.environ.update(NAGAR_DB=str(settings.db), NAGAR_HOST=settings.host, NAGAR_PORT=str(settings.port))
    # Granian rewrites no client address from proxy headers: rate limits read NAGAR_TRUSTED_PROXIES' rules
    Granian("nagar.api.server:served_app", factory=True, address=settings.host, port=settings.port,
            interface=Interfaces.ASGI, workers=1, loop=Loops.uvloop, websockets=False,
            log_access=access_log).serve()


def served_app():
    """The app as a server worker runs it: settings from the environment, GC tuned after start-up."""
    from nagar.api.app import create_app
    from nagar.core.settings import Settings

    application = create_app(Settings.from_env())
    application.state.tune_gc = True
    return application
