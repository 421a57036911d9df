"""Subscriptions on Nagar's water views are notified when lab samples load (ETSI GS CIM 009 V1.6.1 clause 5.8.6
notification behaviour; clause 5.8.1 Create Subscription; clause 5.2.12 Subscription members ``entities``,
``watchedAttributes``, ``q``, ``throttling``, ``isActive``; clause 5.2.14 NotificationParams ``format`` and
``attributes``; clause 5.3.1 Notification). Samples go through the water domain (its HTTP API, or its service
function as ``nagar water load`` calls it), never through NGSI-LD; notifications reach a real local HTTP
receiver (``egress_allow_private`` in the test app's settings)."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from nagar.water import service as water
from tests.ngsild.conftest import E
from tests.ngsild.test_subscriptions import S, _wait

WQO = "urn:ngsi-ld:WaterQualityObserved:"
BURI, TURAG = WQO + "buri-1", WQO + "turag-2"
SAMPLES = "/api/v1/cities/dhaka/water/samples"


@pytest.fixture
def receiver():
    """A local HTTP receiver: ``/ok`` answers 204 at once, ``/slow`` after a second (it holds the notification
    worker, whose one thread sends notifications one after the other)."""
    got: list = []

    class H(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.path == "/slow":
                time.sleep(1.0)
            got.append((dict(self.headers), json.loads(body)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", got, None
    srv.shutdown()


@pytest.fixture
def wapi(api):
    """dhaka's water stations buri-1 and turag-2 and chattogram's karnaphuli-1, no samples yet."""
    with api.store._tx() as con:
        for table in ("water_samples", "water_stations"):
            con.execute(f"DELETE FROM {table}")
    water.put_stations(api.store, city="dhaka", actor="test", stations=[
        {"id": "buri-1", "name": "Buriganga at Sadarghat", "water_body": "Buriganga", "lat": 23.705, "lon": 90.41},
        {"id": "turag-2", "name": "Turag at Mirpur", "water_body": "Turag", "lat": 23.80, "lon": 90.34}])
    water.put_stations(api.store, city="chattogram", actor="test", stations=[
        {"id": "karnaphuli-1", "name": "Karnaphuli at Sadarghat", "water_body": "Karnaphuli", "lat": 22.33,
         "lon": 91.84}])
    return api


def _subscribe(api, url: str, **members) -> str:
    body = {"type": "Subscription", "entities": [{"type": "WaterQualityObserved"}],
            "notification": {"format": "keyValues", "endpoint": {"uri": url + "/ok"}}, **members}
    r = api.post(S, body)
    assert r.status_code == 201, r.text
    return r.headers["location"].rsplit("/", 1)[-1]


def _load(api, *samples) -> None:
    """Samples through the water API (POST /api/v1/cities/dhaka/water/samples), as a laboratory sends them."""
    r = api.c.post(SAMPLES, headers=api.auth, json={"samples": list(samples)})
    assert r.status_code == 200, r.text


def _quiet(got: list, n: int) -> None:
    """Nothing beyond ``n`` notifications arrives (the worker is one thread draining a FIFO queue, so a
    later notification that did arrive shows the earlier changes were dealt with; this waits a little more)."""
    time.sleep(0.3)
    assert len(got) == n, [g[1] for g in got]


def test_sample_load_through_the_water_api_notifies(wapi, receiver):
    """Clause 5.8.6: a sample load changes the water view's pH and O2, which a subscription on type
    WaterQualityObserved watching pH, with q pH>7, hears of: one Notification (clause 5.3.1) for the
    subscription, in the tenant of the station's city, carrying the view as it is after the load in
    notification.format keyValues with only notification.attributes. Values worked by hand: pH 7.4 is
    unitless; dissolved oxygen 2100 µg/L = 2.1 mg/L (Nagar's canonical unit). A second subscription selecting
    turag-2 by id (clause 5.2.12 entities.id) hears nothing, and one selecting buri-1 by idPattern in the
    normalized format gets the Property with observedAt and unitCode Q30 (UN/CEFACT Rec. 20 pH)."""
    url, got, _ = receiver
    sid = _subscribe(wapi, url, watchedAttributes=["pH"], q="pH>7",
                     notification={"format": "keyValues", "attributes": ["pH", "O2"],
                                   "endpoint": {"uri": url + "/ok"}})
    _subscribe(wapi, url, entities=[{"type": "WaterQualityObserved", "id": TURAG}])
    by_pattern = _subscribe(wapi, url, entities=[{"type": "WaterQualityObserved", "idPattern": ".*:buri-[0-9]+"}],
                            notification={"attributes": ["pH"], "endpoint": {"uri": url + "/ok"}})
    _load(wapi, {"station": "buri-1", "parameter": "ph", "time": "2025-03-01T10:00:00+06:00", "value": 7.4},
          {"station": "buri-1", "parameter": "do", "time": "2025-03-01T10:00:00+06:00", "value": 2100,
           "unit": "µg/L"})
    assert _wait(lambda: len(got) == 2)
    _quiet(got, 2)
    notes = {n["subscriptionId"]: (h, n) for h, n in got}
    headers, note = notes[sid]
    assert note["type"] == "Notification" and headers["NGSILD-Tenant"] == "dhaka"
    assert note["data"] == [{"id": BURI, "type": "WaterQualityObserved", "pH": 7.4, "O2": 2.1}]
    assert notes[by_pattern][1]["data"] == [{"id": BURI, "type": "WaterQualityObserved", "pH": {
        "type": "Property", "value": 7.4, "observedAt": "2025-03-01T04:00:00Z", "unitCode": "Q30"}}]
    assert _wait(lambda: wapi.get(f"{S}/{sid}").json()["notification"].get("timesSent") == 1)


def test_samples_of_unwatched_attributes_do_not_notify(wapi, receiver):
    """Clause 5.8.6 with clause 5.2.12 watchedAttributes: the view already shows pH and O2 (loaded before the
    subscription); a load of turbidity and BOD samples changes neither watched attribute, so nothing is sent;
    a later dissolved-oxygen sample does notify."""
    url, got, _ = receiver
    _load(wapi, {"station": "buri-1", "parameter": "ph", "time": "2025-02-01", "value": 7.2},
          {"station": "buri-1", "parameter": "do", "time": "2025-02-01", "value": 6.0, "unit": "mg/L"})
    _subscribe(wapi, url, watchedAttributes=["pH", "O2"])
    _load(wapi, {"station": "buri-1", "parameter": "turbidity", "time": "2025-03-01", "value": 48, "unit": "NTU"},
          {"station": "buri-1", "parameter": "bod", "time": "2025-03-01", "value": 11.0, "unit": "mg/L"})
    _load(wapi, {"station": "buri-1", "parameter": "do", "time": "2025-03-02", "value": 5.0, "unit": "mg/L"})
    assert _wait(lambda: len(got) == 1)
    _quiet(got, 1)
    assert got[0][1]["data"][0]["O2"] == 5.0 and got[0][1]["data"][0]["pH"] == 7.2
    assert got[0][1]["data"][0]["turbidity"] == 48.0


def test_samples_for_which_q_does_not_hold_do_not_notify(wapi, receiver):
    """Clause 5.8.6 with clause 5.2.12 q: the view after the first load has pH 6.5, for which q pH>7 is
    false: nothing is sent for it, even when the notification worker only gets to it after the second load
    (it is held by a slow receiver meanwhile: q is judged on the view as that load left it); after the second
    load the view's pH is 7.8 (the newest sample) and it is sent."""
    url, got, _ = receiver
    slow = wapi.post(S, {"type": "Subscription", "entities": [{"type": "Vehicle"}],
                         "notification": {"endpoint": {"uri": url + "/slow"}}})
    assert slow.status_code == 201, slow.text
    sid = _subscribe(wapi, url, watchedAttributes=["pH"], q="pH>7")
    assert wapi.post(E, {"id": "urn:ngsi-ld:Vehicle:1", "type": "Vehicle", "speed": 1}).status_code == 201
    time.sleep(0.2)  # the worker is now posting to /slow
    _load(wapi, {"station": "buri-1", "parameter": "ph", "time": "2025-03-01", "value": 6.5})
    _load(wapi, {"station": "buri-1", "parameter": "ph", "time": "2025-03-02", "value": 7.8})
    assert _wait(lambda: len(got) == 2)
    _quiet(got, 2)
    got = [g for g in got if g[1]["subscriptionId"] == sid]
    assert len(got) == 1 and got[0][1]["data"] == [{"id": BURI, "type": "WaterQualityObserved", "name": "Buriganga at Sadarghat",
                                  "location": {"type": "Point", "coordinates": [90.41, 23.705]},
                                  "dateObserved": "2025-03-02T00:00:00Z", "pH": 7.8}]


def test_samples_of_another_city_do_not_notify(wapi, receiver):
    """Clause 5.8.6 within clause 4.14 multi-tenancy (tenant = Nagar city): chattogram's samples (loaded by the
    water service, as `nagar water load` does) change chattogram's view only; dhaka's subscription on every
    WaterQualityObserved hears nothing of them, and then hears of a dhaka load."""
    url, got, _ = receiver
    _subscribe(wapi, url, watchedAttributes=["pH"])
    water.load_samples(wapi.store, city="chattogram", actor="test",
                       rows=[{"station": "karnaphuli-1", "parameter": "ph", "time": "2025-03-01", "value": 7.1}])
    _load(wapi, {"station": "turag-2", "parameter": "ph", "time": "2025-03-01", "value": 8.1})
    assert _wait(lambda: len(got) == 1)
    _quiet(got, 1)
    assert [e["id"] for e in got[0][1]["data"]] == [TURAG] and got[0][0]["NGSILD-Tenant"] == "dhaka"


def test_a_failed_sample_load_does_not_notify(wapi, receiver):
    """Clause 5.8.6 notifies changes of entities, and a load that fails changes nothing: a load refused by the
    water API (pH 15 is outside the plausible range 0-14, 422; all or nothing) and a sample write inside a
    store transaction that rolls back send nothing; the same write in a transaction that commits is sent once
    it has committed, not before."""
    url, got, _ = receiver
    _subscribe(wapi, url, watchedAttributes=["pH"])
    r = wapi.c.post(SAMPLES, headers=wapi.auth, json={"samples": [
        {"station": "buri-1", "parameter": "ph", "time": "2025-03-01", "value": 7.2},
        {"station": "buri-1", "parameter": "ph", "time": "2025-03-02", "value": 15}]})
    assert r.status_code == 422, r.text
    assert wapi.get("/ngsi-ld/v1/entities/" + BURI).json().get("pH") is None
    store = wapi.store
    row = {"station": "buri-1", "parameter": "ph", "time": datetime(2025, 3, 3, tzinfo=timezone.utc), "value": 7.3,
           "qualifier": "", "source": None}
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.upsert_water_samples([row])
            raise RuntimeError("rolled back")
    assert wapi.get("/ngsi-ld/v1/entities/" + BURI).json().get("pH") is None
    with store.transaction():
        store.upsert_water_samples([{**row, "value": 7.6}])
        time.sleep(0.3)
        assert got == []  # not committed yet: not heard of
    assert _wait(lambda: len(got) == 1)
    _quiet(got, 1)
    assert got[0][1]["data"][0]["pH"] == 7.6


def test_throttling_and_paused_subscriptions_hold_for_water_views(wapi, receiver):
    """Clause 5.8.6 with clause 5.2.12 throttling (at most one notification per 60 s period) and isActive false
    (status paused, clause 5.8.2): two loads give one notification to the throttled subscription and none to
    the paused one."""
    url, got, _ = receiver
    throttled = _subscribe(wapi, url, throttling=60)
    paused = _subscribe(wapi, url)
    assert wapi.patch(f"{S}/{paused}", {"isActive": False}).status_code == 204
    _load(wapi, {"station": "buri-1", "parameter": "ph", "time": "2025-03-01", "value": 7.0})
    assert _wait(lambda: len(got) == 1)
    _load(wapi, {"station": "buri-1", "parameter": "ph", "time": "2025-03-02", "value": 7.1})
    _quiet(got, 1)
    assert got[0][1]["subscriptionId"] == throttled and got[0][1]["data"][0]["pH"] == 7.0
