"""NGSI-LD broker bench: the server as deployed (``nagar serve``: Granian by default, ``--server uvicorn``
for the other; one worker, the app over a temp DuckDB, no access log) and the load from separate processes: ``wrk`` (Debian package ``wrk``; Lua scripts for PATCH and varying ids) for
the throughput phases when it is installed, else httpx/asyncio from this process (32 in flight); httpx
for the batch upserts and the notification latency.

Measures entity updates/s (PATCH one attribute, X-API-Key like a FIWARE IoT Agent), batch upsert of 100
entities (entities/s), single-entity reads/s, queries/s (type + q), and notification latency p50/p95
(write sent -> notification received at a local HTTP receiver). Orion's figures are printed beside them
as the reference the issue quotes (Orion, C++: ~1,800 updates/s, ~4,200 reads/s); the target is
>= 5,000 updates/s and >= 10,000 reads/s on this 2-core machine.

    .venv/bin/python bench/ngsild.py [--seconds 5] [--server granian|uvicorn]

The server's CPU time per request (its processes, all threads) is printed beside each throughput: on a
machine shared with other work the throughput measures the share of CPU the server got, the CPU per
request does not.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
N_ENT = 1000
CONC = 32


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def setup(db: Path) -> str:
    from datetime import datetime, timezone

    from nagar.security import service as security
    from nagar.security.passwords import hash_password
    from nagar.security.permissions import Principal
    from nagar.store.duckdb import DuckDBStore

    s = DuckDBStore(db)
    s.upsert_city(dict(id="bench", name="Bench", country="BD", timezone="Asia/Dhaka", lat=23.8, lon=90.4,
                       standard="us-epa-2024", open_data=False))
    user = s.create_user(username="agent", password_hash=hash_password("bench-password-1"),
                         now=datetime.now(timezone.utc))
    s.set_grant(user_id=user["id"], city="bench", role="operator")
    key = security.create_api_key(s, principal=Principal(kind="user", user_id=user["id"], username="agent"),
                                  name="iot-agent", expires_days=1)["key"]
    s.close()
    return key


async def timed(client: httpx.AsyncClient, seconds: float, make) -> tuple[int, int]:
    """Requests made by ``make(i)`` (-> coroutine returning a response) for ``seconds``: (ok, failed)."""
    stop = time.perf_counter() + seconds
    counter = iter(range(10**9))
    ok = bad = 0

    async def worker():
        nonlocal ok, bad
        while time.perf_counter() < stop:
            r = await make(next(counter))
            if r.status_code < 300:
                ok += 1
            else:
                bad += 1

    await asyncio.gather(*(worker() for _ in range(CONC)))
    return ok, bad


_LUA = """
wrk.method = "%(method)s"
wrk.headers["X-API-Key"] = "%(key)s"
wrk.headers["NGSILD-Tenant"] = "bench"
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
  n = n + 1
  local i = n %% %(n_ent)d
  if wrk.method == "PATCH" then
    return wrk.format(nil, "/ngsi-ld/v1/entities/urn:ngsi-ld:Vehicle:" .. i .. "/attrs/speed", nil,
                      '{"value":' .. (n %% 1000) .. '}')
  elseif "%(what)s" == "query" then
    return wrk.format(nil, "/ngsi-ld/v1/entities?type=Vehicle&limit=20&q=speed%%3D%%3D" .. (n %% 100))
  end
  return wrk.format(nil, "/ngsi-ld/v1/entities/urn:ngsi-ld:Vehicle:" .. i)
end
"""


def run_wrk(url: str, key: str, seconds: float, pid: int | None = None, queries: bool = True) -> dict:
    """The three throughput phases with wrk (1 thread; 256 connections for writes, so that group commits are large, 32 for reads). With the
    server's pid, also its CPU time per request (user + system, all threads): on a machine shared with
    other work the throughput measures the share of CPU the server got, the CPU per request does not."""
    import re

    import psutil

    proc = psutil.Process(pid) if pid else None

    def cpu_now() -> float:  # the server and its worker processes (Granian serves from a child process)
        if proc is None:
            return 0.0
        total = 0.0
        for p in [proc, *proc.children(recursive=True)]:
            try:
                total += sum(p.cpu_times()[:2])
            except psutil.NoSuchProcess:
                pass
        return total

    out = {}
    phases = (("entity updates (PATCH attr)/s", "PATCH", "patch", 256), ("single-entity reads/s", "GET", "read", 32),
              ("queries (type + q)/s", "GET", "query", 32))
    with tempfile.TemporaryDirectory() as tmp:
        for name, method, what, conns in phases:
            if what == "query" and not queries:
                continue
            script = Path(tmp) / f"{what}.lua"
            script.write_text(_LUA % {"method": method, "key": key, "n_ent": N_ENT, "what": what})
            cpu0 = cpu_now()
            res = subprocess.run(["wrk", "-t1", f"-c{conns}", f"-d{max(1, int(seconds))}s", "--latency", "-s",
                                  str(script), url], capture_output=True, text=True, check=True).stdout
            cpu = cpu_now() - cpu0
            rps = float(re.search(r"Requests/sec:\s+([\d.]+)", res).group(1))
            total = int(re.search(r"(\d+) requests in", res).group(1))
            if proc and total:
                per = cpu / total * 1e6
                out[name.replace("/s", "") + " server CPU/request (us)"] = per
                out[name.replace("/s", "") + " => per free core (/s)"] = 1e6 / per
            bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", res)
            p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", res)
            out[name] = rps
            if p50:
                out[name.replace("/s", "") + " p50 latency"] = p50.group(1) + p50.group(2)
            if bad:
                out[name + " non-2xx"] = int(bad.group(1))
    return out


class Receiver:
    def __init__(self):
        self.got: dict[int, float] = {}
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                now = time.perf_counter()
                for e in body["data"]:
                    outer.got.setdefault(int(e["speed"]), now)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}/notify"


async def run(url: str, key: str, seconds: float, pid: int | None = None) -> dict:
    H = {"X-API-Key": key, "NGSILD-Tenant": "bench", "Content-Type": "application/json"}
    out: dict = {}
    limits = httpx.Limits(max_connections=CONC, max_keepalive_connections=CONC)
    async with httpx.AsyncClient(base_url=url, headers=H, limits=limits, timeout=30) as c:
        # batch upsert of 100 entities
        t = time.perf_counter()
        for b in range(N_ENT // 100):
            ents = [{"id": f"urn:ngsi-ld:Vehicle:{b * 100 + i}", "type": "Vehicle", "speed": i % 100,
                     "location": {"type": "Point", "coordinates": [90.4 + i / 1000, 23.8]}} for i in range(100)]
            r = await c.post("/ngsi-ld/v1/entityOperations/upsert", content=json.dumps(ents))
            assert r.status_code in (201, 204), r.text
        out["batch upsert (entities/s)"] = N_ENT / (time.perf_counter() - t)
        t = time.perf_counter()
        for b in range(N_ENT // 100):  # again: all updates (replace)
            ents = [{"id": f"urn:ngsi-ld:Vehicle:{b * 100 + i}", "type": "Vehicle", "speed": (i + 1) % 100}
                    for i in range(100)]
            r = await c.post("/ngsi-ld/v1/entityOperations/upsert", content=json.dumps(ents))
            assert r.status_code == 204, r.text

        def patch(i):
            return c.patch(f"/ngsi-ld/v1/entities/urn:ngsi-ld:Vehicle:{i % N_ENT}/attrs/speed",
                           content=json.dumps({"value": i % 1000}))

        def read(i):
            return c.get(f"/ngsi-ld/v1/entities/urn:ngsi-ld:Vehicle:{i % N_ENT}")

        def query(i):
            return c.get("/ngsi-ld/v1/entities", params={"type": "Vehicle", "q": f"speed=={i % 100}", "limit": 20})

        import shutil

        if shutil.which("wrk"):
            out.update(run_wrk(url, key, seconds, pid))
        else:
            for name, fn in (("entity updates (PATCH attr)/s", patch), ("single-entity reads/s", read),
                             ("queries (type + q)/s", query)):
                ok, bad = await timed(c, seconds, fn)
                out[name] = ok / seconds
                if bad:
                    out[name + " failed"] = bad
        # notification latency
        rec = Receiver()
        r = await c.post("/ngsi-ld/v1/subscriptions", content=json.dumps({
            "type": "Subscription", "entities": [{"type": "Vehicle", "id": "urn:ngsi-ld:Vehicle:0"}],
            "watchedAttributes": ["speed"], "notification": {"format": "keyValues", "attributes": ["speed"],
                                                             "endpoint": {"uri": rec.url}}}))
        assert r.status_code == 201, r.text
        sent = {}
        for v in range(1000, 1200):
            sent[v] = time.perf_counter()
            r = await c.patch("/ngsi-ld/v1/entities/urn:ngsi-ld:Vehicle:0/attrs/speed", content=json.dumps({"value": v}))
            assert r.status_code == 204
            await asyncio.sleep(0.005)
        end = time.perf_counter() + 5
        while len(rec.got) < len(sent) and time.perf_counter() < end:
            await asyncio.sleep(0.05)
        lat = sorted((rec.got[v] - t0) * 1000 for v, t0 in sent.items() if v in rec.got)
        rec.srv.shutdown()
        out["notification p50 (ms)"] = lat[len(lat) // 2] if lat else float("nan")
        out["notification p95 (ms)"] = lat[int(len(lat) * 0.95)] if lat else float("nan")
        out["notifications received"] = f"{len(lat)}/{len(sent)}"
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--server", choices=("granian", "uvicorn"), default="granian")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="nagar-ngsild-bench-") as tmp:
        db = Path(tmp) / "bench.duckdb"
        key = setup(db)
        port = free_port()
        env = {**os.environ, "NAGAR_DB": str(db), "NAGAR_SECRET_KEY": "b" * 48, "NAGAR_IP_RATE_PER_S": "1000000",
               "NAGAR_IP_BURST": "1000000", "NAGAR_KEY_RATE_PER_S": "1000000", "NAGAR_KEY_BURST": "1000000",
               "NAGAR_EGRESS_ALLOW_PRIVATE": "true"}  # the notification receiver is on loopback
        # the server as deployed (`nagar serve`, nagar.api.server), without its per-request access log line
        server = subprocess.Popen([str(Path(sys.executable).parent / "nagar"), "serve", "--port", str(port),
                                   "--no-access-log", "--server", args.server], env=env, cwd=ROOT,
                                  stdout=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    httpx.get(url + "/api/v1/health", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            res = asyncio.run(run(url, key, args.seconds, server.pid))
        finally:
            server.terminate()
            server.wait(10)
    orion = {"entity updates (PATCH attr)/s": "1,800", "single-entity reads/s": "4,200"}
    target = {"entity updates (PATCH attr)/s": ">= 5,000", "single-entity reads/s": ">= 10,000"}
    print(f"{'measure':42s} {'Nagar':>12s} {'Orion (ref)':>12s} {'target':>10s}")
    for k, v in res.items():
        val = f"{v:,.1f}" if isinstance(v, float) else str(v)
        print(f"{k:42s} {val:>12s} {orion.get(k, '-'):>12s} {target.get(k, '-'):>10s}")
    print(f"(server: {args.server}; load average when done: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; the figures are this "
          "machine's, shared with other work)")


if __name__ == "__main__":
    main()
