"""MQTT ingestion against a real Mosquitto (see conftest.py): single readings, batches, FIWARE
AirQualityObserved, dead letters, city checks, device signatures, acknowledgement only after the
readings are durable (kill -9 of a subscriber process mid-stream), reconnection after a broker restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from nagar.core.settings import Settings
from nagar.ingest.mqtt import MqttConfig, MqttIngestor, content_key, decode_message, sign_envelope
from nagar.ingest.smartdatamodels import airquality_observed_rows
from nagar.security.tokens import device_secret
from nagar.store.duckdb import DuckDBStore
from nagar.store.mqtt_tables import MqttTables

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s" * 48
DHAKA = dict(id="dhaka", name="Dhaka", country="BD", timezone="Asia/Dhaka", lat=23.81, lon=90.41)
DELHI = dict(id="delhi", name="Delhi", country="IN", timezone="Asia/Kolkata", lat=28.61, lon=77.21)


# DuckDBStore carries the MQTT tables itself now; the subclass keeps older call sites working
S = DuckDBStore if issubclass(DuckDBStore, MqttTables) else type("S", (MqttTables, DuckDBStore), {})


def make_store(path: Path) -> S:
    s = S(path)
    s.upsert_city(DHAKA)
    s.upsert_city(DELHI)
    s.upsert_stations([dict(id=f"st{k}", city="dhaka", name=f"S{k}", lat=23.7, lon=90.4, parameters=["pm25"])
                       for k in range(1, 4)] + [dict(id="dl1", city="delhi", name="D1", lat=28.6, lon=77.2)])
    return s


@pytest.fixture
def store(tmp_path):
    s = make_store(tmp_path / "mqtt.duckdb")
    yield s
    s.close()


def publisher(broker, *, v5: bool = False, client_id: str = "test-pub"):
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                    protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311)
    c.max_inflight_messages_set(1000)
    c.connect(broker.host, broker.port)
    c.loop_start()
    return c


def publish(broker, messages, **kw) -> None:
    """Publish (topic, payload[, properties]) with QoS 1 and wait for the broker's acknowledgements."""
    c = publisher(broker, **kw)
    try:
        infos = [c.publish(m[0], m[1], qos=1, properties=m[2] if len(m) > 2 else None) for m in messages]
        for i in infos:
            i.wait_for_publish(timeout=10)
    finally:
        c.disconnect()
        c.loop_stop()


def wait_for(pred, timeout: float = 15.0) -> None:
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


@pytest.fixture
def ingestor(store, broker, request):
    """Factory: a started in-process subscriber on ``broker`` writing to ``store``."""
    started: list[MqttIngestor] = []

    def make(**cfg) -> MqttIngestor:
        kw = {"host": broker.host, "port": broker.port, "client_id": f"t-{request.node.name}"[:60],
              "batch_ms": 50, "idle_ms": 10, "reconnect_min_s": 0.2, "reconnect_max_s": 1.0, **cfg}
        ing = MqttIngestor(store, settings=Settings(), config=MqttConfig(**kw), secret_key=SECRET)
        ing.start()
        started.append(ing)
        assert ing.connected.wait(10)
        time.sleep(0.2)  # the SUBSCRIBE is on its way
        return ing

    yield make
    for ing in started:
        ing.stop()


def values(store, **kw) -> list[tuple]:
    return [(r["station"], r["parameter"], r["time"].strftime("%Y-%m-%dT%H:%M:%SZ"), round(r["value"], 3), r["unit"])
            for r in store.observations(**kw).to_pylist()]


# pure parts -----------------------------------------------------------------------------------------
def test_topic_layouts_and_payload_forms():
    d = decode_message("nagar/dhaka/st1/pm25", b" 41.5 ", received=1735689600.0)
    assert d.kind == "single" and d.rows[0]["value"] == 41.5 and d.rows[0]["unit"] == "µg/m³"
    assert d.rows[0]["time"] == "2025-01-01T00:00:00.000000Z" and d.key is None  # arrival time: no dedup key
    d = decode_message("nagar/dhaka/st1/o3", b'{"time": "2025-01-01T06:00:00Z", "value": 0.07, "unit": "ppm"}',
                       received=0.0)
    assert d.rows == [{"station": "st1", "parameter": "o3", "time": "2025-01-01T06:00:00Z", "value": 0.07,
                       "unit": "ppm"}]
    assert d.key == content_key("nagar/dhaka/st1/o3", b'{"time": "2025-01-01T06:00:00Z", "value": 0.07, "unit": "ppm"}')
    d = decode_message("nagar/dhaka/batch", b'{"observations": [{"station": "st1"}, 5]}', received=0.0)
    assert d.kind == "batch" and len(d.rows) == 1 and d.errors == [(1, "observations", "row must be a JSON object")]
    for topic, payload, words in [
        ("other/dhaka/st1/pm25", b"1", "not under 'nagar/'"),
        ("nagar/dhaka/st1", b"1", "topic must be"),
        ("nagar/dhaka//pm25", b"1", "empty level"),
        ("nagar/dhaka/st1/pm25", b"twelve", "neither a number"),
        ("nagar/dhaka/st1/pm25", b"{oops", "not valid JSON"),
        ("nagar/dhaka/st1/pm25", b'{"station": "st2", "value": 1}', "topic says 'st1'"),
        ("nagar/dhaka/batch", b'{"rows": []}', "batch payload must be"),
    ]:
        d = decode_message(topic, payload, received=0.0)
        assert d.refused and words in d.errors[0][2], (topic, d.errors)


def test_buffered_publish_parsing():
    from nagar.ingest.mqtt import _BufferedSocket

    def pkt(topic: bytes, payload: bytes, mid: int, qos: int, dup: bool = False) -> bytes:
        body = len(topic).to_bytes(2, "big") + topic + (mid.to_bytes(2, "big") if qos else b"") + payload
        n, rl = len(body), b""
        while True:
            b, n = n % 128, n // 128
            rl += bytes([b | 0x80 if n else b])
            if not n:
                break
        return bytes([0x30 | qos << 1 | (8 if dup else 0)]) + rl + body

    big = pkt(b"nagar/a/b/pm25", b"x" * 300, 7, 1, dup=True)  # two-byte remaining length
    data = pkt(b"t/1", b"1.5", 1, 1) + big + pkt(b"t/0", b"", 0, 0) + pkt(b"t/2", b"q2", 9, 2) + pkt(b"t/3", b"3", 3, 1)

    class Sock:
        def __init__(self, chunks):
            self.chunks = list(chunks)

        def recv(self, n):
            if not self.chunks:
                raise BlockingIOError
            return self.chunks.pop(0)

    s = _BufferedSocket(Sock([data[:-3], data[-3:]]))
    s.recv(0)  # fills the buffer with the first chunk
    assert s.take_publishes() == [
        (b"t/1", b"1.5", 1, 1, False), (b"nagar/a/b/pm25", b"x" * 300, 7, 1, True), (b"t/0", b"", 0, 0, False)]
    left = len(data) - 3 - len(pkt(b"t/1", b"1.5", 1, 1) + big + pkt(b"t/0", b"", 0, 0))
    assert s.take_publishes() == [] and s.buffered() == left  # a QoS 2 PUBLISH is left to paho
    assert s.recv(1) == bytes([0x34])                          # which reads on from there
    s2 = _BufferedSocket(Sock([big[:5], big[5:]]))
    s2.recv(0)
    assert s2.take_publishes() == [] and s2.buffered() == 5    # not whole yet: left in place


def test_air_quality_observed_follows_the_smart_data_model():
    # the model's own key-values example (doc/spec.md): CO in mg/m³ (GP), others in µg/m³ (GQ),
    # relativeHumidity a fraction, dateObserved an interval
    madrid = {"id": "Madrid-AmbientObserved-28079004-2016-03-15T11:00:00", "type": "AirQualityObserved",
              "dateObserved": "2016-03-15T11:00:00/2016-03-15T12:00:00", "relativeHumidity": 0.54,
              "temperature": 12.2, "CO": 500, "NO": 45, "NO2": 69, "NOx": 139, "SO2": 11, "CO_Level": "good",
              "refPointOfInterest": "28079004-Pza. de España", "airQualityIndex": 65, "reliability": 0.9}
    res = airquality_observed_rows(madrid)
    got = {r["parameter"]: (r["value"], r["unit"], r["time"]) for r in res.rows}
    assert got["co"] == (500.0, "mg/m³", "2016-03-15T11:00:00")
    assert got["no2"][:2] == (69.0, "µg/m³") and got["so2"][:2] == (11.0, "µg/m³") and got["no"][:2] == (45.0, "µg/m³")
    assert got["relativehumidity"][:2] == (54.0, "%") and got["temperature"][:2] == (12.2, "°C")
    assert res.rows[0]["station"] == "28079004-Pza. de España" and "NOx" in res.ignored and not res.errors
    # normalized NGSI v2 (metadata.unitCode) and NGSI-LD (unitCode, observedAt), URN device ids
    v2 = {"type": "AirQualityObserved", "dateObserved": {"value": "2025-01-01T06:00:00Z"},
          "refDevice": {"type": "Relationship", "value": "urn:ngsi-ld:Device:st1"},
          "NO2": {"value": 40, "metadata": {"unitCode": {"value": "61"}}}, "pm25": {"value": 12.5}}
    ld = {"type": "AirQualityObserved", "dateObserved": {"type": "Property", "value": "2025-01-01T06:00:00Z"},
          "o3": {"type": "Property", "value": 0.05, "unitCode": "59", "observedAt": "2025-01-01T05:00:00Z"},
          "relativeHumidity": {"type": "Property", "value": 61, "unitCode": "P1"}}
    assert [(r["station"], r["parameter"], r["value"], r["unit"]) for r in airquality_observed_rows(v2).rows] == [
        ("st1", "no2", 40.0, "ppb"), ("st1", "pm25", 12.5, "µg/m³")]
    rows = airquality_observed_rows(ld, station="st2").rows
    assert [(r["parameter"], r["value"], r["unit"], r["time"]) for r in rows] == [
        ("o3", 0.05, "ppm", "2025-01-01T05:00:00Z"), ("relativehumidity", 61.0, "%", "2025-01-01T06:00:00Z")]
    bad = airquality_observed_rows({"type": "AirQualityObserved", "dateObserved": "2025-01-01T00:00:00Z",
                                    "refDevice": "st1", "relativeHumidity": 54, "pm10": "high"})
    assert not bad.rows and {f for f, _ in bad.errors} == {"relativeHumidity", "pm10"}
    assert airquality_observed_rows({"type": "AirQualityObserved", "pm25": 1}).errors[0][0] == "refDevice"


def test_store_failures_are_retried_and_a_poison_message_is_dead_lettered(store, monkeypatch):
    from nagar.core.errors import StoreError

    ing = MqttIngestor(store, settings=Settings(), config=MqttConfig(client_id="no-broker"))

    def raw(k: int, station: str = "st1") -> tuple:
        body = json.dumps({"time": f"2025-06-01T00:0{k}:00Z", "value": k}).encode()
        return (f"nagar/dhaka/{station}/pm25".encode(), body, k + 1, 1, False, None, 0, time.time())

    write = store.write_observations
    calls = []

    def flaky(batch, **kw):
        calls.append(batch.num_rows)
        if len(calls) <= 2:
            raise StoreError("disk unavailable", transient=True)
        return write(batch, **kw)

    monkeypatch.setattr(store, "write_observations", flaky)
    ing._flush_safely([ing._decode(raw(k)) for k in range(3)])
    assert calls == [3, 3, 3] and ing.stats.store_retries == 2
    assert (ing.stats.messages, ing.stats.inserted, store.stats().observations) == (3, 3, 3)

    def poison(batch, **kw):
        if "st2" in batch.column("station").to_pylist():
            raise RuntimeError("boom")
        return write(batch, **kw)

    monkeypatch.setattr(store, "write_observations", poison)
    ing._flush_safely([ing._decode(raw(k, f"st{1 + k % 2}")) for k in range(4, 8)])
    assert store.stats().observations == 5  # st1's two readings; st2's refused on their own
    dead = store.mqtt_dead_letters()
    assert [(d["topic"], d["reason"]) for d in dead] == [("nagar/dhaka/st2/pm25", "could not be stored: boom")] * 2
    assert store.mqtt_flush_totals()["messages"] == 7


# against the broker ------------------------------------------------------------------------------------
@pytest.mark.parametrize("cfg", [
    {},
    {"fast_paths": False, "coalesce_acks": False},  # paho's public API only: one client.ack per message
    {"protocol": "5"},
    {"max_pending": 1, "batch_messages": 1},          # back-pressure: one message at a time
], ids=["mqtt311", "plain-paho", "mqtt5", "backpressure"])
def test_single_readings_stored_with_units_converted(store, broker, ingestor, cfg):
    ing = ingestor(**cfg)
    publish(broker, [("nagar/dhaka/st1/pm25", b'{"time": "2025-01-01T06:00:00Z", "value": 41.5}'),
                     ("nagar/dhaka/st1/o3", b'{"time": "2025-01-01T06:00:00+06:00", "value": 0.07, "unit": "ppm"}'),
                     ("nagar/dhaka/st2/pm25", b"17")], v5=cfg.get("protocol") == "5")
    wait_for(lambda: ing.stats.messages == 3)
    assert ing.stats.inserted == 3 and ing.stats.dead_letters == 0 and ing.stats.acked == 3
    got = values(store, parameters=["pm25", "o3"], start=datetime(2025, 1, 1, tzinfo=timezone.utc),
                 end=datetime(2025, 1, 2, tzinfo=timezone.utc))
    assert got == [("st1", "o3", "2025-01-01T00:00:00Z", 70.0, "ppb"),
                   ("st1", "pm25", "2025-01-01T06:00:00Z", 41.5, "µg/m³")]
    bare = store.observations(stations=["st2"]).to_pylist()
    assert len(bare) == 1 and bare[0]["value"] == 17.0
    assert abs((bare[0]["time"] - datetime.now(timezone.utc)).total_seconds()) < 60  # stamped on arrival
    totals = store.mqtt_flush_totals()
    assert (totals["messages"], totals["inserted"]) == (3, 3)


def test_batches_keep_good_rows_and_dead_letter_the_rest(store, broker, ingestor):
    ing = ingestor()
    rows = [{"station": "st1", "parameter": "pm25", "time": "2025-01-01T00:00:00Z", "value": 10, "unit": "µg/m³"},
            {"station": "st2", "parameter": "pm25", "time": "2025-01-01T00:00:00Z", "value": -4, "unit": "µg/m³"},
            {"station": "dl1", "parameter": "pm25", "time": "2025-01-01T00:00:00Z", "value": 50, "unit": "µg/m³"},
            {"station": "ghost", "parameter": "pm25", "time": "2025-01-01T00:00:00Z", "value": 5, "unit": "µg/m³"},
            {"station": "st3", "parameter": "no2", "time": "2025-01-01T00:00:00Z", "value": 94.1, "unit": "µg/m³"}]
    publish(broker, [("nagar/dhaka/batch", json.dumps(rows).encode()),
                     ("nagar/dhaka/batch", json.dumps({"observations": rows[:1]}).encode())])  # same reading again
    wait_for(lambda: ing.stats.messages == 2)
    assert values(store) == [("st1", "pm25", "2025-01-01T00:00:00Z", 10.0, "µg/m³"),
                             ("st3", "no2", "2025-01-01T00:00:00Z", 50.011, "ppb")]  # 94.1 µg/m³ at 25 °C
    s = ing.stats
    assert (s.observations, s.inserted, s.updated, s.rejected, s.dead_letters) == (6, 2, 1, 3, 3)
    dead = {d["item"]: d for d in store.mqtt_dead_letters()}
    assert dead[1]["field"] == "value" and "impossible value" in dead[1]["reason"]
    assert dead[2]["field"] == "city" and "registered in city 'delhi', not 'dhaka'" in dead[2]["reason"]
    assert dead[3]["reason"] == "unknown station 'ghost'"
    assert json.loads(dead[2]["payload"])["station"] == "dl1" and dead[2]["topic"] == "nagar/dhaka/batch"


def test_air_quality_observed_messages(store, broker, ingestor):
    ing = ingestor()
    kv = {"id": "aqo-1", "type": "AirQualityObserved", "dateObserved": "2025-01-01T06:00:00Z/2025-01-01T07:00:00Z",
          "refDevice": "urn:ngsi-ld:Device:st1", "pm25": 35.5, "pm10": 80, "no2": 94.1, "o3": 98.1, "so2": 26.2,
          "co": 1.1456, "temperature": 31.5, "relativeHumidity": 0.72, "co2": 420, "airQualityLevel": "moderate"}
    ld = {"id": "urn:ngsi-ld:AirQualityObserved:2", "type": "AirQualityObserved",
          "dateObserved": {"type": "Property", "value": "2025-01-01T06:00:00Z"},
          "pm25": {"type": "Property", "value": 20.0, "unitCode": "GQ"}}
    publish(broker, [("nagar/dhaka/batch", json.dumps(kv).encode()),
                     ("nagar/dhaka/st2/AirQualityObserved", json.dumps(ld).encode()),
                     ("nagar/delhi/batch", json.dumps({**kv, "id": "aqo-3"}).encode())])  # st1 is not in Delhi
    wait_for(lambda: ing.stats.messages == 3)
    got = {(st, p): (v, u) for st, p, t, v, u in values(store)}
    assert got[("st1", "pm25")] == (35.5, "µg/m³") and got[("st1", "pm10")] == (80.0, "µg/m³")
    assert got[("st1", "no2")] == (pytest.approx(50.0, rel=1e-3), "ppb")   # 94.1 µg/m³ at 25 °C
    assert got[("st1", "o3")] == (pytest.approx(50.0, rel=1e-3), "ppb")
    assert got[("st1", "so2")] == (pytest.approx(10.0, rel=1e-3), "ppb")
    assert got[("st1", "co")] == (pytest.approx(1.0, rel=1e-3), "ppm")     # 1.1456 mg/m³
    assert got[("st1", "temperature")] == (31.5, "°C") and got[("st1", "relativehumidity")] == (72.0, "%")
    assert got[("st2", "pm25")] == (20.0, "µg/m³") and len(got) == 9
    assert {r["time"] for r in store.observations().to_pylist()} == {datetime(2025, 1, 1, 6, tzinfo=timezone.utc)}
    dead = store.mqtt_dead_letters()
    assert len(dead) == 8 and {d["topic"] for d in dead} == {"nagar/delhi/batch"}  # its 8 readings
    assert all("registered in city 'dhaka', not 'delhi'" in d["reason"] for d in dead)


def test_malformed_messages_go_to_dead_letters_and_the_subscriber_goes_on(store, broker, ingestor):
    ing = ingestor(payload_keep_bytes=64)
    big = json.dumps([{"station": "st1", "parameter": "pm25", "time": "2025-01-01T00:00:00Z", "value": "x" * 500}])
    publish(broker, [("nagar/dhaka/st1/pm25", b"{not json"),
                     ("nagar/dhaka/ghost/pm25", b"12"),
                     ("nagar/atlantis/st1/pm25", b"12"),
                     ("nagar/delhi/st1/pm25", b"12"),              # st1 is registered in Dhaka
                     ("nagar/dhaka/st1/pm25", b"\xff\xfe"),
                     ("nagar/dhaka/st1/xenon", b"3"),
                     ("nagar/dhaka/st1/pm25", b'{"time": "2025-01-01T00:00:00", "value": 3}'),
                     ("nagar/dhaka/st1/pm25/extra", b"3"),
                     ("nagar/dhaka/batch", big.encode()),
                     ("nagar/dhaka/st1/pm25", b'{"time": "2025-01-01T00:00:00Z", "value": 3}')])
    wait_for(lambda: ing.stats.messages == 10)
    assert ing.stats.inserted == 1 and ing.stats.dead_letters == 9 and ing.stats.acked == 10
    reasons = {d["topic"] + " " + d["reason"] for d in store.mqtt_dead_letters()}
    for words in ["nagar/dhaka/st1/pm25 payload is not valid JSON", "nagar/dhaka/ghost/pm25 unknown station 'ghost'",
                  "nagar/atlantis/st1/pm25 unknown city 'atlantis'",
                  "nagar/delhi/st1/pm25 station 'st1' is registered in city 'dhaka', not 'delhi'",
                  "nagar/dhaka/st1/pm25 payload is neither a number", "nagar/dhaka/st1/xenon unknown parameter 'xenon'",
                  "nagar/dhaka/st1/pm25 time has no UTC offset", "nagar/dhaka/st1/pm25/extra topic must be",
                  "nagar/dhaka/batch value must be a number, got str"]:
        assert any(r.startswith(words) for r in reasons), (words, reasons)
    d = [d for d in store.mqtt_dead_letters() if d["topic"] == "nagar/dhaka/batch"][0]
    assert d["truncated"] and len(d["payload"].encode()) <= 64 and d["payload_bytes"] > 500 and d["item"] == 0


def test_signed_messages(store, broker, ingestor):
    now = datetime.now(timezone.utc)
    store.create_device_key({"id": "dev1", "station": "st1", "created_by": None, "created_at": now})
    secret = device_secret(SECRET, "dev1")
    ing = ingestor(require_signature=True)
    reading = json.dumps({"time": "2025-01-01T00:00:00Z", "value": 12.0})
    good = sign_envelope(secret, key_id="dev1", body=reading, nonce="nonce-good-1")
    forged = json.loads(sign_envelope(secret, key_id="dev1", body=reading, nonce="nonce-forged"))
    forged["body"] = json.dumps({"time": "2025-01-01T00:00:00Z", "value": 999.0})
    batch = json.dumps([{"station": s, "parameter": "pm25", "time": "2025-01-01T01:00:00Z", "value": 5, "unit": "µg/m³"}
                        for s in ("st1", "st2")])
    publish(broker, [("nagar/dhaka/st1/pm25", good),
                     ("nagar/dhaka/st1/pm25", good),                                    # replayed
                     ("nagar/dhaka/st1/pm25", json.dumps(forged).encode()),             # body changed
                     ("nagar/dhaka/st2/pm25", sign_envelope(secret, key_id="dev1", body=reading)),  # not its station
                     ("nagar/dhaka/st1/pm25", sign_envelope(secret, key_id="dev1", body=reading,
                                                             timestamp=int(time.time()) - 3600)),  # too old
                     ("nagar/dhaka/batch", sign_envelope(secret, key_id="dev1", body=batch)),
                     ("nagar/dhaka/st1/pm25", reading.encode())])                        # unsigned
    wait_for(lambda: ing.stats.messages == 7)
    assert values(store) == [("st1", "pm25", "2025-01-01T00:00:00Z", 12.0, "µg/m³"),
                             ("st1", "pm25", "2025-01-01T01:00:00Z", 5.0, "µg/m³")]
    reasons = sorted(d["reason"] for d in store.mqtt_dead_letters())
    assert reasons == ["bad signature", "nonce already used (replayed message)", "signed message is older than 300 s",
                       "this device may only write station 'st1'", "this device may only write station 'st1'",
                       "unsigned message (this subscriber requires device signatures)"]
    # the nonce is shared with the HTTP path: the same signed request cannot be replayed there
    assert store.use_nonce(key_id="dev1", nonce="nonce-good-1", now=now, forget_before=datetime(2000, 1, 1)) is False


def test_replays_older_than_the_nonce_table_are_still_caught(store, broker, ingestor):
    """With a signature age limit above the HTTP skew, the shared nonce table may have forgotten a
    nonce (the HTTP path prunes it after 2 x skew); the dedup keys still know the message."""
    store.create_device_key({"id": "dev2", "station": "st3", "created_by": None,
                             "created_at": datetime.now(timezone.utc)})
    ing = ingestor(signature_max_age_s=7200)
    msg = sign_envelope(device_secret(SECRET, "dev2"), key_id="dev2", timestamp=int(time.time()) - 1800,
                        body=json.dumps({"time": "2025-01-01T00:00:00Z", "value": 3.0}), nonce="old-but-valid")
    publish(broker, [("nagar/dhaka/st3/pm25", msg)])
    wait_for(lambda: ing.stats.messages == 1)
    assert ing.stats.inserted == 1
    with store._tx() as con:
        con.execute("DELETE FROM nonces")  # as the HTTP path's pruning would
    publish(broker, [("nagar/dhaka/st3/pm25", msg)])
    wait_for(lambda: ing.stats.messages == 2)
    assert [d["reason"] for d in store.mqtt_dead_letters()] == ["nonce already used (replayed message)"]


def test_signed_with_mqtt5_user_properties(store, broker, ingestor):
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    from nagar.security.devices import sign

    store.create_device_key({"id": "dev5", "station": "st2", "created_by": None,
                             "created_at": datetime.now(timezone.utc)})
    ing = ingestor(protocol="5", require_signature=True)
    body = b'{"time": "2025-02-01T00:00:00Z", "value": 7.5}'

    def props(sig: str | None = None) -> Properties:
        ts = str(int(time.time()))
        p = Properties(PacketTypes.PUBLISH)
        p.UserProperty = [("x-nagar-key", "dev5"), ("x-nagar-timestamp", ts), ("x-nagar-nonce", "mqtt5-nonce-1"),
                          ("x-nagar-signature", sig or sign(device_secret(SECRET, "dev5"), timestamp=ts,
                                                            nonce="mqtt5-nonce-1", body=body))]
        return p

    publish(broker, [("nagar/dhaka/st2/pm25", body, props()), ("nagar/dhaka/st2/pm25", body, props("0" * 64))], v5=True)
    wait_for(lambda: ing.stats.messages == 2)
    assert values(store) == [("st2", "pm25", "2025-02-01T00:00:00Z", 7.5, "µg/m³")]
    assert [d["reason"] for d in store.mqtt_dead_letters()] == ["bad signature"]


def test_durable_but_unacknowledged_messages_are_redelivered_and_counted_once(store, broker, ingestor):
    """A write that committed but whose PUBACKs never left (a crash at that point): the broker
    redelivers with DUP set, the keys are found, nothing is written twice, each message counts once."""
    ing = ingestor(client_id="redeliver")
    ing._ack = lambda batch: None  # the acknowledgements are lost
    msgs = [(f"nagar/dhaka/st{1 + k % 3}/pm25", json.dumps({"time": f"2025-03-01T00:{k:02d}:00Z", "value": k}).encode())
            for k in range(20)]
    publish(broker, msgs)
    wait_for(lambda: ing.stats.messages == 20)
    ing.stop()
    again = ingestor(client_id="redeliver")
    wait_for(lambda: again.stats.duplicates == 20)
    assert again.stats.messages == 0 and again.stats.acked == 20
    totals = store.mqtt_flush_totals()
    assert (totals["messages"], totals["duplicates"], totals["inserted"], totals["updated"]) == (20, 20, 20, 0)
    assert store.stats().observations == 20
    # acknowledged this time: a third subscriber gets nothing
    again.stop()
    third = ingestor(client_id="redeliver")
    time.sleep(0.5)
    assert third.stats.messages == third.stats.duplicates == 0


def test_reconnects_after_the_broker_restarts(store, broker, ingestor):
    ing = ingestor(client_id="restart")
    publish(broker, [("nagar/dhaka/st1/pm25", json.dumps({"time": "2025-04-01T00:00:00Z", "value": 1}).encode())])
    wait_for(lambda: ing.stats.messages == 1)
    broker.restart()  # same port, persistence file kept: the subscriber's session survives
    publish(broker, [("nagar/dhaka/st1/pm25", json.dumps({"time": f"2025-04-01T0{h}:00:00Z", "value": h}).encode())
                     for h in range(1, 6)])  # queued for the session while the subscriber reconnects
    wait_for(lambda: ing.stats.messages == 6, timeout=20)
    assert ing.stats.connects >= 2 and ing.stats.disconnects >= 1
    assert store.stats().observations == 6


def test_messages_of_a_lost_connection_are_not_written_twice(store, broker, ingestor):
    """Messages written while their connection dropped are not acknowledged on the new one; the broker
    redelivers them (DUP, same packet id) and they are recognised, even bare numbers without a key."""
    ing = ingestor(client_id="lost-connection")
    ack = ing._ack

    def connection_lost_before_ack(batch):
        ing._gen += 1  # as if on_connect had run for a new connection meanwhile
        ack(batch)

    ing._ack = connection_lost_before_ack
    publish(broker, [(f"nagar/dhaka/st{k}/pm25", str(10 * k).encode()) for k in (1, 2, 3)])
    wait_for(lambda: ing.stats.messages == 3)
    assert ing.stats.acked == 0 and len(ing._stale) == 3
    ing._ack = ack
    broker.restart()
    wait_for(lambda: ing.stats.duplicates == 3, timeout=20)
    assert ing.stats.messages == 3 and ing.stats.acked == 3 and not ing._stale
    assert sorted(r["value"] for r in store.observations().to_pylist()) == [10.0, 20.0, 30.0]


KILL_N = 6000


def _child(db: Path, broker, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "nagar.ingest.mqtt_cli", "run", "--db", str(db), "--host", broker.host,
         "--port", str(broker.port), "--client-id", "kill-test", "--json-lines", "--batch-ms", "50", *extra],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "NAGAR_SECRET_KEY": SECRET})


class _Lines:
    """The child's JSON lines (one per acknowledged write), read in a thread."""

    def __init__(self, proc: subprocess.Popen):
        self.totals: dict = {}
        self._t = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._t.start()

    def _read(self, proc) -> None:
        for line in proc.stdout:
            self.totals = json.loads(line)["totals"]


def test_the_subscriber_flags_a_stuck_sensor_as_the_messages_arrive(tmp_path, broker):
    """`nagar ingest-mqtt run` wires fault detection (nagar.reactions): ten hourly readings of exactly
    the same PM2.5 (flat for 9 h, beyond the 6 h a PM monitor may plausibly stay flat) are flagged stuck."""
    db = tmp_path / "react.duckdb"
    make_store(db).close()
    child = _child(db, broker, "--idle-exit", "4")
    out = _Lines(child)
    try:
        messages = [("nagar/dhaka/st1/pm25", json.dumps({"time": f"2025-05-01T{h:02d}:00:00Z", "value": 42.0}).encode())
                    for h in range(10)]
        deadline = time.monotonic() + 30
        while out.totals.get("messages", 0) < 1:  # connected and subscribed (the same first reading again)
            assert time.monotonic() < deadline and child.poll() is None
            publish(broker, messages[:1])
            time.sleep(0.3)
        publish(broker, messages[1:])
        assert child.wait(30) == 0
    finally:
        if child.poll() is None:
            child.kill()
    s = make_store(db)
    try:
        faults = s.quality_faults(city="dhaka", station="st1")
        assert faults and {f["kind"] for f in faults} == {"stuck"}
        assert {r["flag"] for r in s.observations(include_flagged=True).to_pylist()} >= {"suspect"}
        assert s.stats().observations == 10  # the raw values are kept
    finally:
        s.close()


def test_kill_mid_stream_loses_nothing_and_duplicates_nothing(tmp_path, broker):
    db = tmp_path / "kill.duckdb"
    make_store(db).close()
    first = _child(db, broker)
    out = _Lines(first)
    try:
        warm = ("nagar/dhaka/st1/pm25", b'{"time": "2000-01-01T00:00:00Z", "value": 1}')
        deadline = time.monotonic() + 30
        while out.totals.get("messages", 0) < 1:  # connected and subscribed
            assert time.monotonic() < deadline and first.poll() is None
            publish(broker, [warm])
            time.sleep(0.3)
        pub = publisher(broker, client_id="kill-pub")
        infos = []

        def stream() -> None:
            for k in range(KILL_N):
                body = json.dumps({"time": f"2025-05-{1 + k // 1440:02d}T{k // 60 % 24:02d}:{k % 60:02d}:00Z",
                                   "value": k % 500})
                infos.append(pub.publish(f"nagar/dhaka/st{1 + k % 3}/pm25", body, qos=1))

        t = threading.Thread(target=stream)
        t.start()
        wait_for(lambda: out.totals.get("messages", 0) >= KILL_N // 4, timeout=30)
        first.send_signal(signal.SIGKILL)  # mid-stream: no flush, no acknowledgement, no goodbye
        first.wait(10)
        t.join()
        for i in infos:
            i.wait_for_publish(timeout=30)
        pub.disconnect()
        pub.loop_stop()
        killed_at = out.totals["messages"]
        assert 0 < killed_at < KILL_N
        second = _child(db, broker, "--idle-exit", "1.5")  # same client id: the broker redelivers
        _Lines(second)
        assert second.wait(60) == 0
    finally:
        if first.poll() is None:
            first.kill()
    s = S(db)
    try:
        rows = s._rows("SELECT count(*) AS n, count(DISTINCT (station_key, parameter, time)) AS d FROM observations")[0]
        assert rows["d"] == KILL_N + 1                     # zero loss (the readings are all distinct)
        assert rows["n"] == rows["d"]                      # zero duplicate rows
        f = s.mqtt_flush_totals()
        assert f["messages"] == KILL_N + _warmups(s)      # each message counted once, redelivered or not
        assert f["inserted"] <= rows["n"] <= f["inserted"] + f["updated"]
        assert f["inserted"] + f["updated"] + f["rejected"] == f["observations"]
    finally:
        s.close()


def _warmups(s) -> int:
    """How many warm-up publishes were counted (identical bytes, no DUP flag: each is a message)."""
    return int(s._rows("SELECT count(*) AS n FROM mqtt_seen WHERE key = ?",
                       [content_key("nagar/dhaka/st1/pm25", b'{"time": "2000-01-01T00:00:00Z", "value": 1}')])[0]["n"])


def test_dead_letters_command(tmp_path):
    from typer.testing import CliRunner

    from nagar.ingest.mqtt_cli import app

    db = tmp_path / "cli.duckdb"
    s = make_store(db)
    ing = MqttIngestor(s, settings=Settings(), config=MqttConfig(client_id="cli"))
    ing._flush_safely([ing._decode((b"nagar/dhaka/ghost/pm25", b"12", 1, 1, False, None, 0, time.time()))])
    s.close()
    res = CliRunner().invoke(app, ["dead-letters", "--db", str(db), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["total"] == 1 and out["items"][0]["reason"] == "unknown station 'ghost'"
    res = CliRunner().invoke(app, ["dead-letters", "--db", str(db)])
    assert res.exit_code == 0 and "ghost" in res.output
    assert CliRunner().invoke(app, ["dead-letters", "--db", str(tmp_path / "none.duckdb")]).exit_code == 2


def test_decoding_never_raises():
    """Whatever arrives becomes rows and/or reasons, never an exception (property-based)."""
    from hypothesis import given, settings as hsettings, strategies as st

    scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
    jsons = st.recursive(scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(
        st.sampled_from(["type", "time", "value", "unit", "station", "dateObserved", "pm25", "refDevice",
                         "measurand", "relativeHumidity", "observations", "signature", "body", "key", "nonce"])
        | st.text(max_size=8), c, max_size=6), max_leaves=20)
    aqo = st.fixed_dictionaries({"type": st.just("AirQualityObserved")}, optional={
        "dateObserved": jsons, "pm25": jsons, "refDevice": jsons, "measurand": jsons, "relativeHumidity": jsons,
        "NO2": jsons})
    topics = st.sampled_from(["nagar/dhaka/st1/pm25", "nagar/dhaka/batch", "nagar/dhaka/st1/AirQualityObserved",
                              "nagar/x", "nagar/dhaka/st1/pm25/x", ""])

    @hsettings(max_examples=300, deadline=None)
    @given(topics, st.one_of(st.binary(max_size=40), jsons.map(lambda j: json.dumps(j).encode()),
                             aqo.map(lambda j: json.dumps(j).encode())))
    def check(topic, payload):
        d = decode_message(topic, payload, received=0.0)
        assert all(isinstance(r, dict) for r in d.rows) and len(d.items) == len(d.rows) == len(d.sources)

    check()
