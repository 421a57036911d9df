"""MQTT ingestion benchmark: sustained messages/s and observations/s with QoS 1 and durable writes.

    .venv/bin/python bench/mqtt.py                 # all scenarios, default sizes
    .venv/bin/python bench/mqtt.py --messages 100000 --scenarios single,kill

A local mosquitto (throw-away config in a temp dir) relays between a publisher process and the
subscriber process (``python -m nagar.ingest.mqtt_cli run``, file-backed DuckDB, acknowledging each
message only after its write committed). The publisher is a minimal pipelined MQTT 3.1.1 QoS 1 client
written on a raw socket (paho's own publisher tops out near 5,000 messages/s here, below what is
measured), publishing as fast as the broker acknowledges, so the subscriber is the bottleneck.
Rates are messages the subscriber made durable and acknowledged, divided by the time from the first
publish to the subscriber's last write.

Scenarios
  single   one reading per message on nagar/<city>/<station>/pm25, JSON {"time","value","unit"}
  bare     one bare number per message (stamped on arrival)
  batch    100 Nagar rows per message on nagar/<city>/batch
  aqo      one FIWARE AirQualityObserved entity (5 pollutants + weather) per message
  acks     'single' again with one client.ack(mid, qos) per message instead of one PUBACK buffer
  kill     'single' with the subscriber killed (SIGKILL) mid-stream and restarted with the same client
           id: counts lost and duplicated rows (both must be 0) and checks the recorded counts
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MOSQUITTO = "/usr/sbin/mosquitto"
STATIONS = 100
T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


# broker -------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_broker(root: Path) -> tuple[subprocess.Popen, int]:
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = root / "mosquitto.conf"
    lines = [f"listener {port} 127.0.0.1", "allow_anonymous true", "persistence true",
             f"persistence_location {root}/", "max_inflight_messages 0", "max_queued_messages 0",
             f"log_dest file {root}/mosquitto.log"]
    if os.geteuid() == 0:
        lines.append("user root")
    conf.write_text("\n".join(lines) + "\n")
    p = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return p, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("mosquitto did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far [s] (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# publisher (its own process) ----------------------------------------------------------------------
def _varlen(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n % 128, n // 128
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def _str(x: str | bytes) -> bytes:
    x = x.encode() if isinstance(x, str) else x
    return struct.pack("!H", len(x)) + x


def message(kind: str, i: int) -> tuple[str, bytes]:
    """The i-th message of a scenario (distinct readings: no two share station, parameter and time)."""
    st = f"s{i % STATIONS:03d}"
    t = (T0 + timedelta(seconds=i // STATIONS)).strftime("%Y-%m-%dT%H:%M:%SZ")
    if kind in ("single", "acks", "kill"):
        return f"nagar/dhaka/{st}/pm25", b'{"time":"%s","value":%d.5,"unit":"\xc2\xb5g/m\xc2\xb3"}' % (
            t.encode(), i % 400)
    if kind == "warm":  # the warm-up reading: a time no scenario uses
        return "nagar/dhaka/s000/pm25", b'{"time":"2000-01-01T00:00:00Z","value":1}'
    if kind == "bare":
        return f"nagar/dhaka/{st}/pm25", b"%d.5" % (i % 400)
    if kind == "batch":
        base = i * 100
        rows = [{"station": f"s{(base + k) % STATIONS:03d}", "parameter": "pm25",
                 "time": (T0 + timedelta(seconds=(base + k) // STATIONS)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                 "value": (base + k) % 400 + 0.5, "unit": "µg/m³"} for k in range(100)]
        return "nagar/dhaka/batch", json.dumps(rows).encode()
    if kind == "aqo":
        e = {"id": f"aqo-{i}", "type": "AirQualityObserved", "dateObserved": t, "refDevice": f"urn:ngsi-ld:Device:{st}",
             "pm25": i % 300 + 0.5, "pm10": i % 500 + 0.5, "no2": 40.0, "o3": 60.0, "so2": 10.0, "co": 0.6,
             "temperature": 28.5, "relativeHumidity": 0.61, "co2": 410}
        return "nagar/dhaka/batch", json.dumps(e).encode()
    raise ValueError(kind)


def publish(port: int, kind: str, n: int, window: int = 5000) -> tuple[float, float]:
    """Publish n QoS 1 messages pipelined (at most ``window`` unacknowledged); return the Unix time
    of the first publish and the broker-acknowledged messages/s."""
    sk = socket.create_connection(("127.0.0.1", port))
    sk.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    body = _str("MQTT") + bytes([4, 0x02]) + struct.pack("!H", 60) + _str(f"bench-pub-{os.getpid()}")
    sk.sendall(b"\x10" + _varlen(len(body)) + body)
    if sk.recv(4)[:1] != b"\x20":
        raise RuntimeError("no CONNACK")
    acked = 0
    cond = threading.Condition()

    def reader() -> None:
        nonlocal acked
        buf = b""
        while acked < n:
            d = sk.recv(65536)
            if not d:
                return
            buf += d
            k = len(buf) // 4  # the broker only sends 4-byte PUBACKs to this client
            buf = buf[k * 4:]
            with cond:
                acked += k
                cond.notify_all()

    packets = []  # built before the clock starts: the load generator's own cost is not measured
    for i in range(n):
        topic, payload = message(kind, i)
        pkt = _str(topic) + struct.pack("!H", i % 65535 + 1) + payload
        packets.append(b"\x32" + _varlen(len(pkt)) + pkt)
    threading.Thread(target=reader, daemon=True).start()
    start, t = time.time(), time.perf_counter()
    sent = 0
    while sent < n:
        with cond:
            while sent - acked >= window:
                cond.wait()
            room = min(window - (sent - acked), n - sent, 1000)
        sk.sendall(b"".join(packets[sent:sent + room]))
        sent += room
    with cond:
        while acked < n:
            cond.wait()
    rate = n / (time.perf_counter() - t)
    sk.close()
    return start, rate


# subscriber (its own process) ---------------------------------------------------------------------
def make_db(path: Path) -> None:
    from nagar.ingest.mqtt_cli import open_mqtt_store
    from nagar.core.settings import Settings

    s = open_mqtt_store(Settings(db=path))
    s.upsert_city(dict(id="dhaka", name="Dhaka", country="BD", timezone="Asia/Dhaka", lat=23.81, lon=90.41))
    s.upsert_stations([dict(id=f"s{k:03d}", city="dhaka", name=f"S{k}", lat=23.7, lon=90.4, parameters=["pm25"])
                       for k in range(STATIONS)])
    s.close()


class Subscriber:
    def __init__(self, db: Path, port: int, *, client_id: str, env: dict | None = None, idle_exit: float | None = None):
        cmd = [sys.executable, "-m", "nagar.ingest.mqtt_cli", "run", "--db", str(db), "--port", str(port),
               "--client-id", client_id, "--json-lines"]
        if idle_exit is not None:
            cmd += ["--idle-exit", str(idle_exit)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT,
                                     env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
        self.lines: list[tuple[float, dict]] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            rec = json.loads(line)
            with self.cond:
                self.lines.append((time.time(), rec))
                self.cond.notify_all()

    def totals(self) -> dict:
        with self.cond:
            return self.lines[-1][1]["totals"] if self.lines else {}

    def wait(self, pred, timeout: float) -> bool:
        end = time.monotonic() + timeout
        with self.cond:
            while not pred(self.lines[-1][1]["totals"] if self.lines else {}):
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
        return True

    def stop(self, sig=signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        self.proc.wait(timeout=60)


def wait_connected(port: int, sub: Subscriber) -> None:
    """Publish one warm-up reading until the subscriber has written it (it is then subscribed)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        publish(port, "warm", 1)
        if sub.wait(lambda t: t.get("messages", 0) >= 1, 1.0):
            return
    raise RuntimeError("subscriber did not connect")


def run_rate(kind: str, n: int, tmp: Path, *, env: dict | None = None) -> dict:
    proc, port = start_broker(tmp / f"broker-{kind}")
    db = tmp / f"{kind}.duckdb"
    make_db(db)
    sub = Subscriber(db, port, client_id=f"bench-{kind}", env=env)
    try:
        wait_connected(port, sub)
        base = sub.totals()["messages"]
        cpu0, bcpu0 = cpu_seconds(sub.proc.pid), cpu_seconds(proc.pid)
        pub = subprocess.run([sys.executable, __file__, "_publish", str(port), kind, str(n)], capture_output=True,
                             text=True, check=True)
        t0, pub_rate = json.loads(pub.stdout)
        ok = sub.wait(lambda t: t.get("messages", 0) >= base + n, 600)
        t1 = sub.lines[-1][0]
        tot = sub.totals()
        cpu1, bcpu1 = cpu_seconds(sub.proc.pid), cpu_seconds(proc.pid)
        sub.stop()
    finally:
        proc.terminate()
        proc.wait()
    secs = t1 - t0
    obs = tot["observations"] - 1
    return {"scenario": kind, "messages": tot["messages"] - base, "complete": ok, "seconds": secs,
            "msg_per_s": (tot["messages"] - base) / secs, "obs_per_s": obs / secs, "publisher_msg_per_s": pub_rate,
            "writes": tot["flushes"], "dead_letters": tot["dead_letters"],
            "sub_cpu_us_per_msg": (cpu1 - cpu0) / n * 1e6, "broker_cpu_us_per_msg": (bcpu1 - bcpu0) / n * 1e6,
            "load_average": os.getloadavg()[0]}


def run_kill(n: int, tmp: Path) -> dict:
    import duckdb

    proc, port = start_broker(tmp / "broker-kill")
    db = tmp / "kill.duckdb"
    make_db(db)
    sub = Subscriber(db, port, client_id="bench-kill")
    try:
        wait_connected(port, sub)
        t0 = time.time()
        pub = subprocess.Popen([sys.executable, __file__, "_publish", str(port), "kill", str(n)],
                               stdout=subprocess.PIPE, text=True)
        sub.wait(lambda t: t.get("messages", 0) >= n // 3, 300)
        before = sub.totals()["messages"]
        sub.stop(signal.SIGKILL)
        pub.wait(timeout=300)
        sub2 = Subscriber(db, port, client_id="bench-kill", idle_exit=3.0)
        sub2.proc.wait(timeout=600)
        t1 = time.time()
        sub3 = Subscriber(db, port, client_id="bench-kill", idle_exit=2.0)  # everything was acknowledged?
        sub3.proc.wait(timeout=120)
        left = sub3.totals()
    finally:
        proc.terminate()
        proc.wait()
    con = duckdb.connect(str(db), read_only=True)
    rows, distinct = con.execute(
        "SELECT count(*), count(DISTINCT (station_key, parameter, time)) FROM observations").fetchone()
    f = con.execute("SELECT sum(messages), sum(duplicates), sum(inserted), sum(updated), sum(observations) "
                    "FROM mqtt_flushes").fetchone()
    from nagar.ingest.mqtt import content_key

    warm_topic, warm_payload = message("warm", 0)
    warmups = con.execute("SELECT count(*) FROM mqtt_seen WHERE key = ?",
                          [content_key(warm_topic, warm_payload)]).fetchone()[0]  # each publish is a message
    con.close()
    expected = n + 1  # + the warm-up reading
    return {"scenario": "kill", "messages": n, "seconds": t1 - t0, "killed_after": before,
            "lost_rows": expected - distinct, "duplicate_rows": rows - distinct,
            "messages_recorded": int(f[0]), "duplicates_skipped": int(f[1]),
            "redelivered_after_clean_stop": left.get("messages", 0) + left.get("duplicates", 0),
            "inserted": int(f[2]), "updated": int(f[3]),
            "counts_consistent": int(f[2]) <= rows <= int(f[2]) + int(f[3]) and int(f[2]) + int(f[3]) <= int(f[4])
            and int(f[0]) == n + warmups}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=200_000, help="messages per single/bare/acks/kill run")
    ap.add_argument("--batch-messages", type=int, default=5_000, help="messages (x100 rows) in the batch run")
    ap.add_argument("--aqo-messages", type=int, default=50_000)
    ap.add_argument("--scenarios", default="single,bare,batch,aqo,acks,kill")
    a = ap.parse_args()
    if not os.path.exists(MOSQUITTO):
        sys.exit(f"{MOSQUITTO} not found (apt-get install mosquitto)")
    tmp = Path(tempfile.mkdtemp(prefix="nagar-mqtt-bench-"))
    results = []
    try:
        for kind in a.scenarios.split(","):
            if kind == "kill":
                results.append(run_kill(a.messages, tmp))
            elif kind == "acks":
                r = run_rate("acks", a.messages, tmp, env={"NAGAR_MQTT_COALESCE_ACKS": "false"})
                r["scenario"] = "single, one client.ack per message"
                results.append(r)
            else:
                n = {"batch": a.batch_messages, "aqo": a.aqo_messages}.get(kind, a.messages)
                results.append(run_rate(kind, n, tmp))
            print(json.dumps(results[-1]), file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"MQTT ingestion, QoS 1, durable before PUBACK ({os.cpu_count()} CPUs, publisher, broker "
                    "and subscriber on this machine)")
    for c in ("scenario", "messages", "seconds", "messages/s", "observations/s", "subscriber CPU µs/msg",
              "msg/s per subscriber CPU-s", "broker CPU µs/msg", "writes", "load avg"):
        t.add_column(c, justify="right" if c != "scenario" else "left")
    for r in results:
        if r["scenario"] == "kill":
            continue
        t.add_row(r["scenario"], f"{r['messages']:,}", f"{r['seconds']:.1f}", f"{r['msg_per_s']:,.0f}",
                  f"{r['obs_per_s']:,.0f}", f"{r['sub_cpu_us_per_msg']:.1f}", f"{1e6 / r['sub_cpu_us_per_msg']:,.0f}",
                  f"{r['broker_cpu_us_per_msg']:.1f}", f"{r['writes']:,}", f"{r['load_average']:.1f}")
    console = Console(width=200)
    console.print(t)
    for r in results:
        if r["scenario"] == "kill":
            k = Table(title="Kill -9 mid-stream, restart with the same client id")
            k.add_column("check")
            k.add_column("value", justify="right")
            for key in ("messages", "killed_after", "lost_rows", "duplicate_rows", "messages_recorded",
                        "duplicates_skipped", "inserted", "updated", "counts_consistent",
                        "redelivered_after_clean_stop"):
                v = r[key]
                k.add_row(key, f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v))
            console.print(k)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_publish":
        print(json.dumps(publish(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))))
    else:
        main()
