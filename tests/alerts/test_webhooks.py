"""Signed webhooks against a real HTTP server on a free loopback port: signature, retry with exponential
backoff after failures, dead letter after N attempts. Time is stepped with an injected clock (no sleeps)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from nagar.alerts import webhooks
from nagar.alerts.models import EndpointIn, RuleIn
from nagar.alerts.service import AlertEngine, add_endpoint, add_rule
from tests.alerts.conftest import T0, pm


class Receiver:
    """http.server in a thread; answers ``fail_first`` requests with 500, then 200; records each request."""

    def __init__(self, fail_first: int = 0):
        self.fail_first, self.requests = fail_first, []
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append((dict(self.headers), body))
                code = 500 if len(outer.requests) <= outer.fail_first else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class Clock:
    def __init__(self, t):
        self.t = t

    def __call__(self):
        return self.t


def test_sign_and_verify():
    body = b'{"a":1}'
    sig = webhooks.sign("s3cret", "1700000000", body)
    # the layout, recomputed with the standard library: HMAC-SHA256(secret, "<timestamp>.<body>")
    assert sig == "sha256=" + hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert webhooks.verify("s3cret", "1700000000", body, sig, now=1700000100)
    assert not webhooks.verify("s3cret", "1700000000", body + b" ", sig, now=1700000100)  # body changed
    assert not webhooks.verify("other", "1700000000", body, sig, now=1700000100)  # wrong secret
    assert not webhooks.verify("s3cret", "1700000000", body, sig, now=1700000000 + 301)  # replayed too late
    assert not webhooks.verify("s3cret", "soon", body, sig)


def _fire(astore, settings, url: str, max_attempts: int) -> dict:
    ep = add_endpoint(astore, city="dhaka", body=EndpointIn(name="ops", url=url, max_attempts=max_attempts),
                      actor="t", allow_private=True)  # the test's receiver is on loopback
    add_rule(astore, city="dhaka", body=RuleIn(name="pm high", rule={"kind": "observation", "parameter": "pm25",
                                                                    "threshold": 55, "station": "st1"}),
             actor="t", settings=settings)
    eng = AlertEngine(astore, settings, clock=lambda: T0 + timedelta(days=1))
    astore.on_write(eng.process_batch)
    astore.write_observations(pm("st1", [(0, 80)]))
    return ep


def test_retry_with_backoff_then_delivered_and_signed(astore, settings):
    with Receiver(fail_first=2) as rx:
        ep = _fire(astore, settings, rx.url, max_attempts=5)
        clock = Clock(T0 + timedelta(days=1))
        d = webhooks.Dispatcher(astore, base_delay=10, clock=clock, allow_private=True)
        assert d.process_due() == {"delivered": 0, "retry": 1, "dead": 0}
        row = astore.alert_deliveries(city="dhaka")[0]
        assert (row["status"], row["attempts"], row["last_status"]) == ("pending", 1, 500)
        assert row["next_attempt_at"] == clock.t + timedelta(seconds=10)  # 10 x 2^0
        assert d.process_due() == {"delivered": 0, "retry": 0, "dead": 0}  # not due yet
        clock.t += timedelta(seconds=10)
        assert d.process_due()["retry"] == 1
        row = astore.alert_deliveries(city="dhaka")[0]
        assert row["next_attempt_at"] == clock.t + timedelta(seconds=20)  # 10 x 2^1
        clock.t += timedelta(seconds=20)
        assert d.process_due()["delivered"] == 1
        row = astore.alert_deliveries(city="dhaka")[0]
        assert (row["status"], row["attempts"], row["last_status"]) == ("delivered", 3, 200)
    assert len(rx.requests) == 3
    headers, body = rx.requests[-1]
    doc = json.loads(body)
    assert doc["type"] == "alert.onset" and doc["scope"] == "st1" and doc["value"] == 80 and doc["rule"] == "pm high"
    assert headers["X-Nagar-Event"] == "alert.onset" and headers["X-Nagar-Delivery"] == str(row["id"])
    assert webhooks.verify(ep["secret"], headers["X-Nagar-Timestamp"], body, headers["X-Nagar-Signature"],
                           now=clock.t.timestamp())
    assert not webhooks.verify("whsec_wrong", headers["X-Nagar-Timestamp"], body, headers["X-Nagar-Signature"],
                               now=clock.t.timestamp())


def test_dead_letter_after_max_attempts(astore, settings):
    with Receiver(fail_first=99) as rx:
        _fire(astore, settings, rx.url, max_attempts=3)
        clock = Clock(T0 + timedelta(days=1))
        d = webhooks.Dispatcher(astore, base_delay=1, clock=clock, allow_private=True)
        outcomes = []
        for _ in range(5):
            outcomes.append(d.process_due())
            clock.t += timedelta(hours=1)
    assert [o["retry"] for o in outcomes] == [1, 1, 0, 0, 0] and [o["dead"] for o in outcomes] == [0, 0, 1, 0, 0]
    dead = astore.alert_deliveries(city="dhaka", status="dead")
    assert len(dead) == 1 and dead[0]["attempts"] == 3 and dead[0]["last_status"] == 500
    assert len(rx.requests) == 3


def test_unreachable_receiver_is_retried_then_dead(astore, settings):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _fire(astore, settings, f"http://127.0.0.1:{port}/hook", max_attempts=2)
    clock = Clock(T0 + timedelta(days=1))
    d = webhooks.Dispatcher(astore, base_delay=1, timeout=2, clock=clock, allow_private=True)
    assert d.process_due()["retry"] == 1
    clock.t += timedelta(seconds=1)
    assert d.process_due()["dead"] == 1
    dead = astore.alert_deliveries(city="dhaka", status="dead")[0]
    assert dead["last_status"] is None and dead["last_error"]


@pytest.mark.parametrize("attempts,expected", [(1, 5), (2, 10), (3, 20), (12, 3600)])
def test_backoff_doubles_and_is_capped(astore, attempts, expected):
    assert webhooks.Dispatcher(astore, base_delay=5, max_delay=3600).backoff(attempts) == expected


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/hook", "http://localhost/hook", "http://10.1.2.3/",
                                 "https://192.168.0.1/", "http://169.254.169.254/latest/meta-data/",
                                 "http://[::1]:9/", "http://[::ffff:127.0.0.1]/", "http://100.64.0.1/",
                                 "http://0.0.0.0/", "ftp://example.org/"])
def test_private_loopback_and_metadata_destinations_are_refused_at_registration(astore, url):
    from nagar.security.egress import RefusedDestination

    with pytest.raises(RefusedDestination) as exc:
        add_endpoint(astore, city="dhaka", body=EndpointIn(name="x", url=url) if url.startswith("http") else
                     EndpointIn.model_construct(name="x", url=url, max_attempts=3), actor="t")
    assert exc.value.field == "url"
    assert astore.alert_endpoints(city="dhaka") == []  # nothing registered


def test_a_name_resolving_to_a_private_address_is_refused_at_delivery(astore, settings, monkeypatch):
    """The host was public when registered and now resolves to loopback: the attempt fails, nothing is sent."""
    import socket

    from nagar.security import egress

    _fire(astore, settings, "http://hooks.example.org/hook", max_attempts=1)
    monkeypatch.setattr(egress.socket, "getaddrinfo",
                        lambda *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80))])
    sent = []
    monkeypatch.setattr(webhooks, "_post", lambda *a, **k: sent.append(a) or (200, None))
    d = webhooks.Dispatcher(astore, clock=Clock(T0 + timedelta(days=1)))
    assert d.process_due()["dead"] == 1 and sent == []
    dead = astore.alert_deliveries(city="dhaka", status="dead")[0]
    assert "refused destination" in dead["last_error"] and "loopback" in dead["last_error"]


@pytest.mark.parametrize("url", ["http://[/hook", "http://[::1/hook", "http://example.org:99999/hook",
                                 "http://example.org:port/hook"])
def test_malformed_urls_are_refused_with_a_message_not_a_server_error(astore, url):
    """Found by the schemathesis run: an unclosed IPv6 bracket made urlsplit raise ValueError (a 500);
    a bad port raises the same way when the port is read. Both are a 422 naming the field."""
    from nagar.security.egress import RefusedDestination

    with pytest.raises(RefusedDestination) as exc:
        add_endpoint(astore, city="dhaka", body=EndpointIn.model_construct(name="x", url=url, max_attempts=3),
                     actor="t")
    assert exc.value.field == "url" and "not a valid URL" in exc.value.message
    assert astore.alert_endpoints(city="dhaka") == []
