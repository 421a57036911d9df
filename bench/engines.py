"""Benchmark: the dashboard question on three engines.

100 stations x one year of minute PM2.5 data (52,560,000 rows, synthetic and deterministic); for each
engine: load time, then the hourly mean per station (all hours of the year, fetched to the client),
the hourly NowCast AQI per station (US EPA 2024) and the latest value per station, and the peak memory
of the engine's process tree (anonymous + shared proportional set size: shared memory is counted once,
page cache of mapped files not at all).

- DuckDB: the Nagar store file, loaded through ``DuckDBStore.write_observations`` (the ingest path);
  queries through ``store.observations(aggregation="hour")``, the air service's windows + NumPy AQI,
  and one ``arg_max`` query.
- PostgreSQL 15: a throw-away server (``initdb`` in a temporary folder as the ``postgres`` OS user, a
  free port, Unix socket only; never the machine's own 5432 service), loaded with ``COPY`` into the
  same integer-coded table, then ``CREATE INDEX ON observations (station_key, time)`` and ``ANALYZE``
  (counted in the load). Durability switched off for the load (``fsync``, ``synchronous_commit``,
  ``full_page_writes``), which does not change query times. The AQI uses the same windows query in
  PostgreSQL's SQL and the same NumPy step; the latest value is one index probe per station (LATERAL).
- Spark (local mode, all cores) on the Parquet lake: the load is ``nagar lake export`` of the DuckDB
  store; queries read the lake (the AQI is the Spark SQL job of ``nagar.lake.spark_job``; the latest
  value reads the newest date partition only).

Each engine runs in its own process (the lake export too, so its memory is its own); every query runs
two or three times and the fastest run is reported (Spark's first run also pays for its JIT and code
generation). Usage::

    .venv/bin/python bench/engines.py                       # the full 52.6 M rows (about 15 minutes)
    .venv/bin/python bench/engines.py --rows 5000000 --engines duckdb,postgres
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STATIONS = 100
FULL_ROWS = STATIONS * 365 * 1440
T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
CHUNK_MINUTES = 14 * 1440
SEED = 20241
PG_BIN = Path("/usr/lib/postgresql/15/bin")
STANDARD = "us-epa-2024"
CITY = dict(id="bench", name="Bench", country="BD", timezone="Asia/Dhaka", lat=23.8, lon=90.4, standard=STANDARD)


# --------------------------------------------------------------------------------------------------
# data


def chunks(rows: int):
    """Yield (station index int32, time datetime64[us] UTC, value float64) blocks, time-ordered.

    Per station a base level, a daily cycle with its own phase, a slow multi-day swing and
    multiplicative gamma noise, rounded to 0.1 µg/m³; block i uses seed (SEED, i), so every engine
    gets the same rows."""
    minutes = rows // STATIONS
    srng = np.random.default_rng(SEED)
    base = srng.uniform(8, 70, STATIONS)
    phase = srng.uniform(0, 1, STATIONS)
    for i, m0 in enumerate(range(0, minutes, CHUNK_MINUTES)):
        m1 = min(m0 + CHUNK_MINUTES, minutes)
        rng = np.random.default_rng([SEED, i])
        m = np.repeat(np.arange(m0, m1), STATIONS)
        s = np.tile(np.arange(STATIONS, dtype=np.int32), m1 - m0)
        day = m / 1440.0
        v = base[s] * (1 + 0.5 * np.sin(2 * np.pi * (day + phase[s]))) * (1 + 0.6 * np.sin(2 * np.pi * day / 9.3))
        v = np.round(v * rng.gamma(4.0, 0.25, len(m)), 1)
        t = np.datetime64(T0.replace(tzinfo=None), "us") + m.astype("timedelta64[m]")
        yield s, t, v


def station_ids() -> list[str]:
    return [f"b{k:03d}" for k in range(STATIONS)]


def span(rows: int) -> tuple[datetime, datetime]:
    return T0, T0 + timedelta(minutes=rows // STATIONS)


# --------------------------------------------------------------------------------------------------
# stages (each in its own process)


def _best(fn, runs: int = 2):
    best, out = None, None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        d = time.perf_counter() - t
        best = d if best is None else min(best, d)
    return best, out


def _store(db: Path, *, read_only: bool = False):
    from nagar.store.duckdb import DuckDBStore
    from nagar.store.lake_tables import LakeTables

    cls = DuckDBStore if issubclass(DuckDBStore, LakeTables) else type("S", (LakeTables, DuckDBStore), {})
    return cls(db, read_only=read_only)


def _plans(reader, rows: int):
    from nagar.core.settings import Settings
    from nagar.lake.aqi import plan_cities

    a, b = span(rows)
    return plan_cities(cities_meta=[CITY], stations_meta=[dict(id=s, city="bench") for s in station_ids()],
                       spans={}, settings=Settings(), standard=STANDARD, start=a, end=b)


HOURLY_SQL = """
    SELECT s.id AS station, h.hour, h.value, h.n
    FROM (SELECT station_key, date_trunc('hour', time) AS hour, avg(value) AS value, count(*) AS n
          FROM observations WHERE parameter = 1 AND flag <= 1 GROUP BY 1, 2) h
    JOIN stations s ON s.key = h.station_key
    ORDER BY h.hour, s.id
"""
"""The hourly question, the same SQL text for DuckDB and PostgreSQL: aggregate on the integer keys, then
name the stations (876,000 rows for a year)."""


def stage_duckdb(rows: int, work: Path) -> dict:
    from nagar.lake.aqi import aqi_duckdb
    from nagar.store.base import OBSERVATION_SCHEMA

    db = work / "nagar.duckdb"
    db.unlink(missing_ok=True)
    s = _store(db)
    s.upsert_city(CITY)
    ids = station_ids()
    s.upsert_stations([dict(id=x, city="bench", name=x, lat=23.8, lon=90.4, parameters=["pm25"]) for x in ids])
    id_dict = pa.array(ids, pa.string())
    t = time.perf_counter()
    for si, tt, v in chunks(rows):
        n = len(v)
        s.write_observations(pa.table({
            "station": pa.DictionaryArray.from_arrays(pa.array(si), id_dict).cast(pa.string()),
            "parameter": pa.array(np.full(n, "pm25")),
            "time": pa.array(tt, pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC")),
            "value": pa.array(v),
            "unit": pa.array(np.full(n, "µg/m³")),
            "flag": pa.array(np.full(n, "valid")),
        }, schema=OBSERVATION_SCHEMA))
    s._con.execute("CHECKPOINT")
    load = time.perf_counter() - t
    cur = s._read()
    hourly, h = _best(lambda: cur.sql(HOURLY_SQL).to_arrow_table(), runs=3)
    api, h2 = _best(lambda: s.observations(city="bench", parameters=["pm25"], aggregation="hour"))
    assert h2.num_rows == h.num_rows
    aqi, a = _best(lambda: aqi_duckdb(None, _plans(s, rows), resolutions=("hour",), reader=s))
    latest, l = _best(lambda: cur.execute(
        "SELECT s.id, max(o.time), arg_max(o.value, o.time) FROM observations o JOIN stations s ON s.key = o.station_key "
        "WHERE o.flag <= 1 GROUP BY s.id").fetchall(), runs=3)
    s.close()
    return {"load": load, "hourly": hourly, "hourly_store_api": api, "aqi": aqi, "latest": latest,
            "hourly_rows": h.num_rows,
            "aqi_rows": sum(1 for x in a.column("level").to_pylist() if x == "station"), "latest_rows": len(l),
            "size_mb": db.stat().st_size / 2**20}


class _PG:
    """A throw-away PostgreSQL 15 server run as the ``postgres`` OS user in ``work``."""

    def __init__(self, work: Path):
        import pwd

        pw = pwd.getpwnam("postgres")
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        self.dir = work / "pg"
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        os.chown(self.dir, self.uid, self.gid)
        os.chmod(work, 0o755)
        with socket.socket() as sk:
            sk.bind(("127.0.0.1", 0))
            self.port = sk.getsockname()[1]
        self._run([str(PG_BIN / "initdb"), "-D", str(self.dir / "data"), "-U", "postgres", "--auth=trust",
                   "-E", "UTF8", "--no-locale"], check=True)
        self.proc = subprocess.Popen(
            [str(PG_BIN / "postgres"), "-D", str(self.dir / "data"), "-p", str(self.port), "-k", str(self.dir),
             "-c", "listen_addresses=", "-c", "shared_buffers=2GB", "-c", "work_mem=256MB",
             "-c", "maintenance_work_mem=1GB", "-c", "max_parallel_workers_per_gather=2", "-c", "fsync=off",
             "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_wal_size=8GB",
             "-c", "jit=off"],
            preexec_fn=self._drop, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if (self.dir / f".s.PGSQL.{self.port}").exists():
                break
            time.sleep(0.1)
        time.sleep(0.3)

    def _drop(self):
        os.setgid(self.gid)
        os.setuid(self.uid)

    def _run(self, cmd, **kw):
        return subprocess.run(cmd, preexec_fn=self._drop, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)

    def connect(self):
        import psycopg

        return psycopg.connect(host=str(self.dir), port=self.port, user="postgres", dbname="postgres",
                               autocommit=True)

    def stop(self):
        import signal

        self.proc.send_signal(signal.SIGINT)  # fast shutdown
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class _PGWindows:
    """``Store.hourly_windows`` in PostgreSQL's SQL (the DuckDB store's query, same frames), so the
    air service's NumPy step computes the AQI exactly as it does for DuckDB."""

    def __init__(self, con):
        self.con = con

    def hourly_windows(self, *, stations, parameters, start, end, scope=None) -> pa.Table:
        sql = """
            WITH h AS (
                SELECT s.id AS station, 'pm25' AS parameter, date_trunc('hour', o.time) AS hour, avg(o.value) AS v
                FROM observations o JOIN stations s ON s.key = o.station_key
                WHERE s.id = ANY(%(st)s) AND o.parameter = 1 AND o.flag <= 1
                  AND o.time >= %(s0)s - interval '23 hours' AND o.time < %(e0)s
                GROUP BY 1, 2, 3
            ), w AS (
                SELECT station, parameter, hour, v AS mean_1h,
                  avg(v) OVER w8 AS mean_8h, count(v) OVER w8 AS n_8h,
                  avg(v) OVER w24 AS mean_24h, count(v) OVER w24 AS n_24h
                FROM h
                WINDOW w8 AS (PARTITION BY station, parameter ORDER BY hour
                              RANGE BETWEEN interval '7 hours' PRECEDING AND CURRENT ROW),
                       w24 AS (PARTITION BY station, parameter ORDER BY hour
                              RANGE BETWEEN interval '23 hours' PRECEDING AND CURRENT ROW)
            )
            SELECT station, parameter, hour AS time, mean_1h, mean_8h, n_8h, mean_24h, n_24h
            FROM w WHERE hour >= %(s0)s ORDER BY station, parameter, hour
        """
        with self.con.cursor() as cur:
            utc = timezone.utc
            cur.execute(sql, {"st": list(stations), "s0": start.astimezone(utc).replace(tzinfo=None),
                              "e0": end.astimezone(utc).replace(tzinfo=None)})
            rows = cur.fetchall()
        cols = list(zip(*rows)) if rows else [[]] * 8
        return pa.table({
            "station": pa.array(cols[0], pa.string()), "parameter": pa.array(cols[1], pa.string()),
            "time": pa.array(cols[2], pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC")),
            "mean_1h": pa.array(cols[3], pa.float64()),
            "mean_8h": pa.array(cols[4], pa.float64()), "n_8h": pa.array(cols[5], pa.int64()),
            "mean_24h": pa.array(cols[6], pa.float64()), "n_24h": pa.array(cols[7], pa.int64()),
        })


def stage_postgres(rows: int, work: Path) -> dict:
    import pyarrow.csv as pacsv

    from nagar.lake.aqi import aqi_duckdb

    pg = _PG(work)
    try:
        con = pg.connect()
        con.execute("SET TIME ZONE 'UTC'")
        con.execute("CREATE TABLE stations (key integer PRIMARY KEY, id text NOT NULL UNIQUE)")
        con.execute("INSERT INTO stations SELECT k, 'b' || lpad(k::text, 3, '0') FROM generate_series(0, %s) k",
                    [STATIONS - 1])
        con.execute("""CREATE TABLE observations (station_key integer NOT NULL, parameter smallint NOT NULL,
                       time timestamp NOT NULL, value double precision NOT NULL, flag smallint NOT NULL)""")
        t = time.perf_counter()
        opts = pacsv.WriteOptions(include_header=False)
        with con.cursor() as cur, cur.copy("COPY observations FROM STDIN (FORMAT csv)") as cp:
            for si, tt, v in chunks(rows):
                n = len(v)
                tab = pa.table({"station_key": pa.array(si), "parameter": pa.array(np.ones(n, np.int16)),
                                "time": pa.array(tt, pa.timestamp("us")),  # naive UTC, as the DuckDB store
                                "value": pa.array(v), "flag": pa.array(np.zeros(n, np.int16))})
                sink = pa.BufferOutputStream()
                pacsv.write_csv(tab, sink, write_options=opts)
                cp.write(sink.getvalue().to_pybytes())
        copy_s = time.perf_counter() - t
        con.execute("CREATE INDEX ON observations (station_key, time)")
        con.execute("ANALYZE observations")
        load = time.perf_counter() - t

        def hourly():
            with con.cursor() as cur:
                cur.execute(HOURLY_SQL)
                return cur.fetchall()

        hourly_s, h = _best(hourly, runs=3)
        aqi_s, a = _best(lambda: aqi_duckdb(None, _plans(None, rows), resolutions=("hour",), reader=_PGWindows(con)))

        def latest():
            with con.cursor() as cur:
                cur.execute("""SELECT s.id, l.time, l.value FROM stations s CROSS JOIN LATERAL (
                                   SELECT time, value FROM observations o
                                   WHERE o.station_key = s.key AND o.flag <= 1 ORDER BY time DESC LIMIT 1) l""")
                return cur.fetchall()

        latest_s, l = _best(latest, runs=3)
        size = con.execute("SELECT pg_total_relation_size('observations')").fetchone()[0] / 2**20
        con.close()
    finally:
        pg.stop()
    return {"load": load, "copy": copy_s, "hourly": hourly_s, "aqi": aqi_s, "latest": latest_s, "hourly_rows": len(h),
            "aqi_rows": sum(1 for x in a.column("level").to_pylist() if x == "station"), "latest_rows": len(l),
            "size_mb": size}


def stage_lake(rows: int, work: Path) -> dict:
    """``nagar lake export`` of the DuckDB store: Spark's load."""
    from nagar.lake.export import export_lake

    lake = work / "lake"
    shutil.rmtree(lake, ignore_errors=True)
    s = _store(work / "nagar.duckdb", read_only=True)
    t = time.perf_counter()
    r = export_lake(s, out=lake)
    load = time.perf_counter() - t
    t = time.perf_counter()
    again = export_lake(s, out=lake)
    incremental = time.perf_counter() - t
    s.close()
    size = sum(p.stat().st_size for p in lake.rglob("*.parquet")) / 2**20
    return {"load": load, "partitions": r.partitions, "rows": r.rows, "incremental_export": incremental,
            "incremental_written": len(again.written), "size_mb": size}


def stage_spark(rows: int, work: Path) -> dict:
    from nagar.lake.spark_job import aqi_spark, spark_session

    lake = work / "lake"
    t = time.perf_counter()
    spark = spark_session("local[*]", conf={"spark.driver.memory": "4g", "spark.sql.shuffle.partitions": "8"})
    spark.sparkContext.setLogLevel("ERROR")
    session = time.perf_counter() - t
    from pyspark.sql import functions as F

    def obs():
        return spark.read.parquet(str(lake)).where("flag IN ('valid', 'estimated') AND parameter = 'pm25'")

    def hourly():
        return (obs().groupBy("station", F.date_trunc("hour", "time").alias("hour"))
                .agg(F.avg("value").alias("value"), F.count("*").alias("n")).toArrow())

    hourly_s, h = _best(hourly)
    aqi_s, a = _best(lambda: aqi_spark(spark, str(lake), _plans(None, rows), resolutions=("hour",)))

    def latest():
        from nagar.lake.layout import read_manifest

        last = max(read_manifest(lake).column("date").to_pylist())
        df = spark.read.option("basePath", str(lake)).parquet(str(lake / "city=bench" / f"date={last.isoformat()}"))
        out = df.where("flag IN ('valid', 'estimated')").groupBy("station").agg(
            F.max("time").alias("time"), F.max_by("value", "time").alias("value")).collect()
        if len(out) < STATIONS:  # a station silent on the last day: fall back to the whole lake
            out = obs().groupBy("station").agg(F.max("time"), F.max_by("value", "time")).collect()
        return out

    latest_s, l = _best(latest, runs=3)
    spark.stop()
    size = sum(p.stat().st_size for p in lake.rglob("*.parquet")) / 2**20
    return {"hourly": hourly_s, "aqi": aqi_s, "latest": latest_s, "session": session, "hourly_rows": h.num_rows, "aqi_rows": sum(1 for x in a.column("level").to_pylist() if x == "station"),
            "latest_rows": len(l), "size_mb": size}


STAGES = {"duckdb": stage_duckdb, "postgres": stage_postgres, "lake": stage_lake, "spark": stage_spark}


# --------------------------------------------------------------------------------------------------
# orchestration


def _proc_mem(p) -> int:
    """Anonymous + shared-memory proportional set size of one process [bytes].

    File-backed pages are left out: they are page cache (Spark memory-maps its shuffle files, every
    engine maps its libraries), not memory the engine needs. PostgreSQL's shared buffers are shared
    memory and are counted once across its processes (PSS)."""
    try:
        with open(f"/proc/{p.pid}/smaps_rollup") as f:
            kb = {k: int(v.split()[0]) for k, v in (line.split(":", 1) for line in f if ":" in line and "kB" in line)}
        return (kb.get("Pss_Anon", 0) + kb.get("Pss_Shmem", 0)) * 1024
    except (OSError, ValueError):
        mi = p.memory_full_info()
        return getattr(mi, "pss", mi.rss)


def _tree_mem(pid: int) -> int:
    """:func:`_proc_mem` summed over a process and its descendants [bytes]."""
    import psutil

    try:
        procs = [psutil.Process(pid)]
        procs += procs[0].children(recursive=True)
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for p in procs:
        try:
            total += _proc_mem(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


def run_stage(name: str, rows: int, work: Path) -> dict:
    proc = subprocess.Popen([sys.executable, __file__, "--stage", name, "--rows", str(rows), "--dir", str(work)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _tree_mem(proc.pid))
            done.wait(0.25)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out, errtxt = proc.communicate()
    done.set()
    th.join()
    if proc.returncode != 0:
        raise SystemExit(f"stage {name} failed:\n{errtxt[-4000:]}")
    res = json.loads(next(line for line in reversed(out.splitlines()) if line.startswith("{")))
    res["peak_mb"] = peak[0] / 2**20
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=FULL_ROWS, help=f"rows (default {FULL_ROWS:,}: a year of minutes)")
    ap.add_argument("--engines", default="duckdb,postgres,spark")
    ap.add_argument("--dir", type=Path, default=None, help="work folder (default: a new one in /tmp, removed)")
    ap.add_argument("--stage", choices=list(STAGES), help=argparse.SUPPRESS)
    a = ap.parse_args()
    rows = a.rows - a.rows % STATIONS
    if a.stage:
        print(json.dumps(STAGES[a.stage](rows, a.dir)))
        return
    engines = [e.strip() for e in a.engines.split(",") if e.strip()]
    work = a.dir or Path(tempfile.mkdtemp(prefix="nagar-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    order = [e for e in STAGES if e in engines or (e in ("duckdb", "lake") and "spark" in engines)]
    results = {}
    try:
        for e in order:
            print(f"{e}: running ({rows:,} rows)...", file=sys.stderr, flush=True)
            results[e] = run_stage(e, rows, work)
            print(f"{e}: {json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in results[e].items()})}",
                  file=sys.stderr, flush=True)
    finally:
        if a.dir is None:
            shutil.rmtree(work, ignore_errors=True)
    from rich.console import Console
    from rich.table import Table

    days = rows // STATIONS / 1440
    t = Table(title=f"Dashboard question: {STATIONS} stations x {days:.0f} days of minute PM2.5 = {rows:,} rows "
                    f"({os.cpu_count()} cores)")
    for c in ("engine", "load [s]", "hourly mean [s]", "AQI per station [s]", "latest per station [s]",
              "peak memory [MB]", "on disk [MB]"):
        t.add_column(c, justify="left" if c == "engine" else "right")
    label = {"duckdb": "DuckDB (store file)", "postgres": "PostgreSQL 15 (+ index)",
             "lake": "  lake export (DuckDB -> Parquet)", "spark": "Spark local (on the lake)"}
    for e, r in results.items():
        if e == "lake":
            t.add_row(label[e], f"{r['load']:.1f}", "", "", "", f"{r['peak_mb']:,.0f}", f"{r['size_mb']:,.0f}")
            continue
        load = results["lake"]["load"] if e == "spark" else r["load"]
        t.add_row(label[e], f"{load:.1f}", f"{r['hourly']:.2f}", f"{r['aqi']:.2f}", f"{r['latest']:.3f}",
                  f"{r['peak_mb']:,.0f}", f"{r.get('size_mb', results.get('lake', {}).get('size_mb', 0)):,.0f}")
    Console(width=150).print(t)
    if "duckdb" in results and "postgres" in results:
        d, p = results["duckdb"], results["postgres"]
        print(f"DuckDB vs PostgreSQL, hourly mean: {p['hourly'] / d['hourly']:.1f}x faster "
              f"(target >= 20x; DuckDB {d['hourly']:.2f} s, target < 2 s); PostgreSQL COPY {p['copy']:.1f} s of its load.")
    if "duckdb" in results:
        print(f"DuckDB hourly mean through the store API (store.observations(aggregation='hour'), which groups by "
              f"station id and parameter key after joining them): {results['duckdb']['hourly_store_api']:.2f} s.")
    if "spark" in results:
        s, lk = results["spark"], results["lake"]
        print(f"Spark: session start {s['session']:.1f} s (not in the query times); its load is the lake export "
              f"({lk['partitions']} partitions); a second export with nothing changed took "
              f"{lk['incremental_export']:.1f} s ({lk['incremental_written']} partitions written).")
    for e, r in results.items():
        if e == "lake":
            continue
        print(f"{e}: hourly rows {r['hourly_rows']:,}, AQI station-hours {r['aqi_rows']:,}, latest {r['latest_rows']}")


if __name__ == "__main__":
    main()
