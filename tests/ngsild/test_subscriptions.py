"""Subscriptions and notifications to a real local HTTP receiver (ETSI GS CIM 009 V1.6.1 clauses
5.8.1-5.8.5, 5.2.12 Subscription, 5.2.14 NotificationParams, 5.3.1 Notification, 5.8.6 notification
behaviour)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.ngsild.conftest import E

S = "/ngsi-ld/v1/subscriptions"


@pytest.fixture
def receiver():
    got: list = []
    event = threading.Event()

    class H(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append((dict(self.headers), json.loads(body)))
            self.send_response(204 if self.path == "/ok" else 500)
            self.end_headers()
            event.set()

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", got, event
    srv.shutdown()


def _wait(cond, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return False


def test_subscription_notifies_with_q_watched_and_format(api, receiver):
    """Clause 5.8.1 (Create Subscription, 201 + Location) and 5.8.6: a change of a watched attribute of a
    matching entity for which q holds is notified (Notification data in notification.format, with only
    notification.attributes); a change of an unwatched attribute or one failing q is not; timesSent /
    lastNotification / lastSuccess are kept (clause 5.2.14)."""
    url, got, _ = receiver
    r = api.post(S, {"type": "Subscription", "entities": [{"type": "Vehicle"}], "watchedAttributes": ["speed"],
                     "q": "speed>50", "notification": {"format": "keyValues", "attributes": ["speed"],
                                                       "endpoint": {"uri": url + "/ok"}}})
    assert r.status_code == 201, r.text
    sid = r.headers["location"].rsplit("/", 1)[-1]
    api.post(E, {"id": "urn:ngsi-ld:Vehicle:1", "type": "Vehicle", "speed": 80, "brand": "x"})
    assert _wait(lambda: len(got) == 1)
    headers, note = got[0]
    assert note["type"] == "Notification" and note["subscriptionId"] == sid
    assert note["data"] == [{"id": "urn:ngsi-ld:Vehicle:1", "type": "Vehicle", "speed": 80}]
    assert headers["NGSILD-Tenant"] == "dhaka"
    api.patch(E + "/urn:ngsi-ld:Vehicle:1/attrs", {"brand": "y"})  # not watched
    api.patch(E + "/urn:ngsi-ld:Vehicle:1/attrs", {"speed": 20})  # q fails
    api.post(E, {"id": "urn:ngsi-ld:Bike:1", "type": "Bike", "speed": 99})  # other type
    api.patch(E + "/urn:ngsi-ld:Vehicle:1/attrs", {"speed": 70})
    assert _wait(lambda: len(got) == 2)
    assert got[1][1]["data"][0]["speed"] == 70
    sub = api.get(f"{S}/{sid}").json()
    assert _wait(lambda: api.get(f"{S}/{sid}").json()["notification"].get("timesSent") == 2)
    sub = api.get(f"{S}/{sid}").json()
    assert sub["status"] == "active" and "lastSuccess" in sub["notification"]
    assert "lastNotification" in sub["notification"]
    assert len(got) == 2


def test_throttling_pause_failure_and_crud(api, receiver):
    """Clause 5.8.2 (Update Subscription: isActive false pauses, status "paused"), throttling (at most one
    notification per period), a failing receiver recorded as lastFailure, clause 5.8.4 (Query
    Subscriptions) and 5.8.5 (Delete Subscription)."""
    url, got, _ = receiver
    r = api.post(S, {"type": "Subscription", "entities": [{"type": "Vehicle"}], "throttling": 60,
                     "notification": {"endpoint": {"uri": url + "/fail"}}})
    sid = r.headers["location"].rsplit("/", 1)[-1]
    api.post(E, {"id": "urn:ngsi-ld:Vehicle:1", "type": "Vehicle", "speed": 1})
    api.patch(E + "/urn:ngsi-ld:Vehicle:1/attrs", {"speed": 2})
    assert _wait(lambda: "lastFailure" in api.get(f"{S}/{sid}").json()["notification"])
    time.sleep(0.2)
    assert len(got) == 1 and got[0][1]["data"][0]["speed"]["value"] == 1  # the second was throttled
    assert api.patch(f"{S}/{sid}", {"isActive": False}).status_code == 204
    assert api.get(f"{S}/{sid}").json()["status"] == "paused"
    assert [s["id"] for s in api.get(S).json()] == [sid]
    assert api.delete(f"{S}/{sid}").status_code == 204
    assert api.get(f"{S}/{sid}").status_code == 404
    bad = api.post(S, {"type": "Subscription", "entities": [{"type": "Vehicle"}],
                       "notification": {"endpoint": {"uri": "ftp://x"}}})
    assert bad.status_code == 400


def test_observations_from_another_path_notify(api, receiver):
    """Clause 5.8.6 with Nagar's mapping: readings of a mapped station that arrive through the ingest API
    (not NGSI-LD) change the AirQualityObserved entity, so a subscription watching pm25 is notified with
    the new value (Nagar's canonical unit)."""
    url, got, _ = receiver
    r = api.post(E, {"id": "urn:ngsi-ld:AirQualityObserved:dhaka-agargaon", "type": "AirQualityObserved",
                     "dateObserved": "2024-06-01T00:00:00Z", "pm25": 10.0})
    assert r.status_code == 201, r.text
    r = api.post(S, {"type": "Subscription", "entities": [{"type": "AirQualityObserved"}],
                     "watchedAttributes": ["pm25"], "notification": {"format": "keyValues",
                                                                     "endpoint": {"uri": url + "/ok"}}})
    assert r.status_code == 201
    r = api.c.post("/api/v1/observations", headers=api.auth, json=[
        {"station": "dhaka-agargaon", "parameter": "pm25", "time": "2024-06-01T01:00:00Z", "value": 77.0,
         "unit": "µg/m³"}])
    assert r.status_code == 200 and r.json()["inserted"] == 1
    assert _wait(lambda: len(got) == 1)
    assert got[0][1]["data"][0]["pm25"] == 77.0


@pytest.mark.parametrize("uri", ["http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:8080/",
                                 "http://localhost/x", "http://10.0.0.5/"])
def test_a_notification_endpoint_on_a_private_address_is_refused(api, uri):
    """CIM 009 V1.6.1 clause 5.8.1 (Create Subscription) answers BadRequestData for an invalid
    subscription; Nagar treats an endpoint that is not a public address as one (server-side request
    forgery guard, nagar.security.egress), unless NAGAR_EGRESS_ALLOW_PRIVATE."""
    settings = api.app.state.settings
    settings.egress_allow_private = False
    try:
        r = api.post("/ngsi-ld/v1/subscriptions", json={
            "type": "Subscription", "entities": [{"type": "AirQualityObserved"}],
            "notification": {"endpoint": {"uri": uri}}})
        assert r.status_code == 400, r.text
        assert r.json()["type"].endswith("/BadRequestData") and "public addresses" in r.json()["detail"]
        assert api.get("/ngsi-ld/v1/subscriptions").json() == []
    finally:
        settings.egress_allow_private = True
