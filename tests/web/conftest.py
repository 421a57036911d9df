"""Fixtures of the dashboard tests: a small app with only the web router (fast tests), and a real
server on a free port running the whole API over demo data (browser tests).

``NAGAR_DASHBOARD_URL=http://host:port`` makes the browser tests drive an already running server
instead of starting one (useful to check the page against another build of the API).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from nagar.core.settings import Settings
from nagar.web import views

from tests.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402,F401  (the browser fixture is there too)

DEMO_SEED = 20240501
DEMO_DAYS = 8


def web_app(settings: Settings | None = None) -> FastAPI:
    """An app with only the dashboard mounted (no API): enough for the page and its assets."""
    app = FastAPI()
    app.state.settings = settings or Settings()
    app.include_router(views.router)
    views.mount_static(app)
    return app


@pytest.fixture
def client() -> TestClient:
    with TestClient(web_app()) as c:
        yield c


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _open_store(settings: Settings):
    """The store the API will read, through whichever opener ``nagar.store`` provides."""
    import nagar.store as store_pkg

    for name in ("open_store", "get_store", "connect"):
        opener = getattr(store_pkg, name, None)
        if callable(opener):
            return opener(settings)
    from nagar.store.duckdb import DuckDBStore  # type: ignore[import-not-found]

    return DuckDBStore(settings.db)


def _ensure_dashboard(app: FastAPI) -> None:
    """Mount the dashboard if ``create_app`` does not (yet) do so itself."""
    paths = {getattr(route, "path", None) for route in app.routes}
    if "/" not in paths:
        app.include_router(views.router)
    if "/static" not in paths:
        views.mount_static(app)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> str:
    """Base URL of a real uvicorn server in a thread: ``create_app(settings)`` over demo data."""
    external = os.environ.get("NAGAR_DASHBOARD_URL")
    if external:
        yield external.rstrip("/")
        return
    api_app = pytest.importorskip("nagar.api.app", reason="nagar.api.app (create_app) is not there yet")
    demo = pytest.importorskip("nagar.demo.service", reason="nagar.demo.service (load_demo) is not there yet")
    import uvicorn

    settings = Settings(db=tmp_path_factory.mktemp("web") / "t.duckdb")
    store = _open_store(settings)
    try:
        demo.load_demo(store, seed=DEMO_SEED, days=DEMO_DAYS)
    finally:
        close = getattr(store, "close", None)
        if callable(close):
            close()
    app = api_app.create_app(settings)
    _ensure_dashboard(app)

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="nagar-live-server", daemon=True)
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
