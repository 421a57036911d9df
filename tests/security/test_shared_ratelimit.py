"""Rate limits shared through Redis (nagar.security.ratelimit.SharedRateLimiter, ``NAGAR_RATE_LIMIT_REDIS``).

A real ``redis-server`` (Debian package) on a free loopback port with nothing persisted, started per test
module; skipped with a reason when the binary is absent. Several limiter objects, or several apps from
``create_app``, stand for several Nagar processes behind one Redis.

Token-bucket arithmetic (the same rule as ``RateLimiter``): a bucket of ``burst`` tokens refilled at
``rate_per_s``; a refused request takes nothing and is told to wait ceil((cost - tokens) / rate) seconds.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import time

import pytest
from fastapi.testclient import TestClient

from nagar.security.ratelimit import RateLimiter, SharedRateLimiter, make_limiter

REDIS = os.environ.get("NAGAR_TEST_REDIS", shutil.which("redis-server") or "/usr/bin/redis-server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """One redis-server process on a free port, nothing written to disk; stop/start keep the port."""

    def __init__(self, root):
        self.port = _free_port()
        self.root = root
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        self.proc = subprocess.Popen([REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", str(self.root)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_timeout=1)
        for _ in range(100):
            try:
                if client.ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    if not os.access(REDIS, os.X_OK):
        pytest.skip(f"redis-server not found at {REDIS} (Debian package redis-server; or set NAGAR_TEST_REDIS)")
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def url(redis_server):
    import redis

    redis.Redis.from_url(redis_server.url).flushall()
    return redis_server.url


def test_two_processes_share_one_bucket(url):
    """burst 3, rate 0.5/s: three hits pass whichever process sends them; the fourth waits
    ceil((1 - 0) / 0.5) = 2 s (the refill since the first hit, a few ms, is 0.5 * 0.005 tokens)."""
    a = SharedRateLimiter(url, 0.5, 3, name="ip")
    b = SharedRateLimiter(url, 0.5, 3, name="ip")
    assert [a.hit("10.0.0.7"), b.hit("10.0.0.7"), a.hit("10.0.0.7")] == [None, None, None]
    assert b.hit("10.0.0.7") == 2.0
    assert a.hit("10.0.0.8") is None  # another key has its own bucket
    per_process = [RateLimiter(0.5, 3), RateLimiter(0.5, 3)]  # what each would allow on its own: 6 in all
    assert [per_process[i % 2].hit("10.0.0.7") for i in range(6)] == [None] * 6


def test_a_refused_hit_takes_nothing_and_the_bucket_refills(url):
    """burst 1, rate 10/s: a refused hit must wait ceil(1 / 10) = 1 s (at least one second, as a
    Retry-After); 0.15 s later 1.5 tokens would have come back, capped at 1, so one hit passes."""
    a = SharedRateLimiter(url, 10, 1, name="ip")
    assert a.hit("k") is None
    assert a.hit("k") == 1.0
    time.sleep(0.15)
    assert a.hit("k") is None


def test_names_keep_limits_apart_and_reset_forgets_everywhere(url):
    ip = SharedRateLimiter(url, 0.1, 1, name="ip")
    account = SharedRateLimiter(url, 0.1, 1, name="account")
    assert (ip.hit("x"), account.hit("x")) == (None, None)
    other = SharedRateLimiter(url, 0.1, 1, name="ip")
    assert other.hit("x") == 10.0  # ceil(1 / 0.1)
    ip.reset("x")
    assert other.hit("x") is None


def test_idle_buckets_expire_in_redis(url):
    """A key expires once its bucket would be full again: burst / rate = 2 / 4 = 0.5 s, plus 1 s slack."""
    import redis

    SharedRateLimiter(url, 4, 2, name="ip").hit("idle")
    ttl = redis.Redis.from_url(url).pttl("nagar:rl:ip:idle")
    assert 0 < ttl <= 1500


def test_redis_down_falls_back_to_the_process_and_comes_back(redis_server, caplog):
    """Redis stopped: hits are answered by the process's own buckets (never refused for the outage), one
    warning is logged; once Redis is back and the retry interval has passed, the shared bucket is used."""
    now = [100.0]
    a = SharedRateLimiter(redis_server.url, 0.5, 2, name="ip", clock=lambda: now[0], retry_after_s=5)
    redis_server.stop()
    try:
        with caplog.at_level(logging.WARNING, logger="nagar.security.ratelimit"):
            assert [a.hit("k"), a.hit("k"), a.hit("k")] == [None, None, 2.0]  # the local bucket: burst 2
        assert not a.shared
        assert sum("Redis unreachable" in r.getMessage() for r in caplog.records) == 1
    finally:
        redis_server.start()
    now[0] += 5
    assert a.shared
    b = SharedRateLimiter(redis_server.url, 0.5, 2, name="ip")
    assert [a.hit("k"), b.hit("k"), a.hit("k")] == [None, None, 2.0]  # the shared bucket again


def test_make_limiter_and_a_bad_url():
    assert type(make_limiter(1, 1, name="ip")) is RateLimiter
    with pytest.raises(ValueError, match="rate_limit_redis"):
        SharedRateLimiter("http://example.org", 1, 1, name="ip")


def test_two_apps_behind_one_redis_enforce_one_address_limit(url, tmp_path):
    """Two apps (two Nagar processes) with NAGAR_RATE_LIMIT_REDIS and a burst of 3 per address: the
    address's fourth request is a 429 whichever app it reaches; without Redis each would allow 3."""
    from nagar.api.app import create_app
    from nagar.core.settings import Settings
    from nagar.store.duckdb import DuckDBStore

    apps, stores = [], []
    for i in range(2):
        settings = Settings(db=tmp_path / f"a{i}.duckdb", secret_key="test-secret-" + "x" * 32, ip_burst=3,
                            ip_rate_per_s=0.01, rate_limit_redis=url)
        stores.append(DuckDBStore(settings.db))
        apps.append(create_app(settings, store=stores[-1]))
    try:
        clients = [TestClient(app) for app in apps]
        codes = [clients[i % 2].get("/api/v1/health").status_code for i in range(4)]
        assert codes == [200, 200, 200, 429]
        assert clients[0].get("/api/v1/health").headers["retry-after"] == "100"  # ceil(1 / 0.01)
    finally:
        for s in stores:
            s.close()


def test_a_bad_redis_url_is_a_settings_error_not_a_traceback(tmp_path):
    """``nagar serve`` with NAGAR_RATE_LIMIT_REDIS=http://... says what is wrong at start-up (the CLI turns
    a settings error into one line); an empty value means "off"."""
    from pydantic import ValidationError

    from nagar.core.settings import Settings

    with pytest.raises(ValidationError, match="redis://, rediss:// or unix://"):
        Settings(db=tmp_path / "x.duckdb", rate_limit_redis="http://example.org")
    assert Settings(db=tmp_path / "x.duckdb", rate_limit_redis="").rate_limit_redis is None
