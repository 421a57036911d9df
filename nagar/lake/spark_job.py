"""The lake's AQI job on Apache Spark, written as Spark SQL / DataFrame operations.

Run from the CLI (``nagar lake aqi --engine spark``) or submit this file to a cluster (docs/lake.md)::

    spark-submit --master <url> nagar/lake/spark_job.py --lake s3a://bucket/lake --out s3a://bucket/aqi

Everything runs in the JVM: no Python UDF, so executors need no Python packages; only the driver
imports Nagar (to read the standard's table and generate the expressions). The steps mirror the store
path (``DuckDBStore.hourly_windows`` -> ``nagar.air.service.hourly_grid`` / ``daily_grid`` ->
``nagar.air.aqi.compute_aqi``) operation for operation, so that the integer AQI, the category and the
dominant pollutant come out the same:

1. Hourly means of counted flags (valid, estimated) per station, parameter and UTC hour (hours are
   integer indices, ``floor(unix_micros / 3.6e9)``), read from the partitions of the span only.
2. Trailing 8-h and 24-h means of the hourly means with the number of hours present (``RANGE BETWEEN
   7 / 23 PRECEDING``), kept where the standard's completeness holds (6 of 8, 18 of 24 hours).
3. NowCast (PM): each hourly mean is spread to the 12 hours it counts for, then grouped back so each
   hour holds its last 12 hourly means as 12 columns; the weight factor (min/max, clipped to
   [0.5, 1]), the weighted mean (numerator and denominator summed in NumPy's pairwise order), the
   2-of-3-latest-hours rule and the truncation are column expressions. An hour without data of its own
   still gets a NowCast, as in the store path.
4. Daily values per local day of the city (``from_utc_timestamp``): mean of hourly means (>= 18 h),
   highest valid 8-h mean, highest hourly mean.
5. The index: each pollutant's concentration is put on its table's integer grid (truncate or round,
   with the same 1e-12 tolerance), the breakpoint row is found with a ``CASE`` generated from the
   table's rows, the interpolation and index rounding use the same floating-point operations in the
   same order as NumPy; then the standard's rules (above-top cap / none / extrapolate, ``only_when``,
   minimum pollutants, ``requires_any``), the largest sub-index (ties to the table's order) and the
   category band.
6. The city value: per hour / day, the station with the highest AQI (ties to the first station id).

Floating-point sums (averages, NowCast) may differ from DuckDB / NumPy in the last bit; both paths
truncate with a relative tolerance of 1e-12, far above that and far below any measurement resolution,
so the integer AQI and category agree (tested against the store path in tests/lake).
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date, datetime, timedelta, timezone

import pyarrow as pa

from nagar.lake.aqi import RESOLUTIONS, SORT_KEYS, CityPlan, output_schema

H_US = 3_600_000_000
"""Microseconds per hour."""
NOWCAST_HOURS = 12
_REL_TOL = 1e-12  # nagar.air.aqi._REL_TOL and the NowCast's truncation tolerance


def spark_session(master: str | None = "local[*]", *, app_name: str = "nagar-lake", conf: dict | None = None):
    """A SparkSession with the settings the job relies on (UTC session time zone).

    ``master=None`` leaves the master to ``spark-submit``. In local mode the Spark UI is off and the
    driver binds to 127.0.0.1 unless ``SPARK_LOCAL_IP`` says otherwise.
    """
    from pyspark.sql import SparkSession

    local = master is not None and master.startswith("local")
    if local:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    b = SparkSession.builder.appName(app_name)
    if master is not None:
        b = b.master(master)
    settings = {"spark.sql.session.timeZone": "UTC"}
    if local:
        settings.update({"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": str(2 * (os.cpu_count() or 2))})
    settings.update(conf or {})
    for k, v in settings.items():
        b = b.config(k, v)
    spark = b.getOrCreate()
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    return spark


def _lake_path(lake: str, *parts: str) -> str:
    return "/".join([lake.rstrip("/"), *parts])


def spark_lake_meta(spark, lake: str) -> tuple[list[dict], list[dict], dict[str, tuple[datetime, datetime]]]:
    """Cities, stations and each city's data span, read through Spark (works on s3a:// too)."""
    from pyspark.errors import AnalysisException
    from pyspark.sql import functions as F

    from nagar.core.errors import NotFound

    try:
        cities = [r.asDict() for r in spark.read.parquet(_lake_path(lake, "_meta", "cities.parquet")).collect()]
        stations = [r.asDict(recursive=True)
                    for r in spark.read.parquet(_lake_path(lake, "_meta", "stations.parquet")).collect()]
    except AnalysisException as exc:
        raise NotFound(f"no lake at {lake} (run `nagar lake export` first): {exc}", field="lake") from None
    spans: dict[str, tuple[datetime, datetime]] = {}
    try:
        man = spark.read.parquet(_lake_path(lake, "_meta", "partitions.parquet"))
    except AnalysisException:
        return cities, stations, spans
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    for r in man.groupBy("city").agg(F.unix_micros(F.min("min_time")).alias("lo"),
                                     F.unix_micros(F.max("max_time")).alias("hi")).collect():
        spans[r["city"]] = (epoch + timedelta(microseconds=r["lo"]), epoch + timedelta(microseconds=r["hi"]))
    return cities, stations, spans


# --------------------------------------------------------------------------------------------------
# reading


def _read(spark, lake: str, cities: list[str], d_lo: date, d_hi: date):
    """Observations of ``cities`` in UTC dates [d_lo, d_hi]: only those partition folders are listed
    (one path per city) and read (partition filter on ``date``)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DateType, DoubleType, StringType, StructField, StructType, TimestampType

    schema = StructType([
        StructField("station", StringType()), StructField("parameter", StringType()),
        StructField("time", TimestampType()), StructField("value", DoubleType()),
        StructField("unit", StringType()), StructField("flag", StringType()),
        StructField("city", StringType()), StructField("date", DateType()),
    ])
    paths = [_lake_path(lake, f"city={c}") for c in sorted(cities)]
    df = spark.read.schema(schema).option("basePath", lake).parquet(*paths)
    return df.where(F.col("date").between(F.lit(d_lo), F.lit(d_hi)))


def _exists(spark, path: str) -> bool:
    """Whether ``path`` exists, through Hadoop's file system API (local, hdfs://, s3a:// ...)."""
    jvm = spark.sparkContext._jvm
    p = jvm.org.apache.hadoop.fs.Path(path)
    return bool(p.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).exists(p))


def _us(t: datetime) -> int:
    return (t - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)


# --------------------------------------------------------------------------------------------------
# expressions


def _d(x: float) -> str:
    """A Spark SQL DOUBLE literal that parses back to exactly ``x`` (shortest round-trip repr)."""
    return repr(float(x)).upper() + "D"


def _s(x: str) -> str:
    return "'" + str(x).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _np_sum(terms: list[str]) -> str:
    """SQL sum of ``terms`` in the order NumPy's pairwise summation adds 8 <= n <= 128 values."""
    assert 8 <= len(terms) <= 128
    r = [f"({t})" for t in terms[:8]]
    i = 8
    while i + 8 <= len(terms):
        r = [f"({r[j]} + ({terms[i + j]}))" for j in range(8)]
        i += 8
    res = f"((({r[0]} + {r[1]}) + ({r[2]} + {r[3]})) + (({r[4]} + {r[5]}) + ({r[6]} + {r[7]})))"
    for t in terms[i:]:
        res = f"({res} + ({t}))"
    return res


def _with_nowcast(df, keep: list[str], scale: str):
    """Add ``nc``, the NowCast from columns ``v0`` .. ``v11`` (hourly mean k hours ago, null when
    missing), as ``nagar.air.nowcast._windows_nowcast`` computes it: the same operations in the same
    order. One projection per step, so Spark does not inline the shared terms 12 times over; the
    expressions are SQL text (one call to the JVM each instead of one per operator)."""
    hours = NOWCAST_HOURS
    w = [f"w{k}" for k in range(hours)]
    df = df.selectExpr(*keep, *[f"CASE WHEN v{k} < 0 THEN 0.0D ELSE v{k} END AS w{k}" for k in range(hours)],
                       "(" + " + ".join(f"CAST(v{k} IS NOT NULL AS INT)" for k in range(3)) + ") >= 2 AS ok",
                       f"{scale} AS scale")
    keep2 = [*keep, *w, "ok", "scale"]
    df = df.selectExpr(*keep2, f"greatest({', '.join(w)}) AS cmax", f"least({', '.join(w)}) AS cmin")
    df = df.selectExpr(*keep2, "least(greatest(CASE WHEN cmax > 0 THEN try_divide(cmin, cmax) ELSE 1.0D END, "
                               "0.5D), 1.0D) AS wf")
    df = df.selectExpr(*keep2, *[f"CASE WHEN w{k} IS NULL THEN 0.0D ELSE power(wf, {_d(k)}) END AS p{k}"
                                 for k in range(hours)])
    oldest_first = list(range(hours - 1, -1, -1))  # NumPy's window: column j is (hours - 1 - j) hours ago
    num = _np_sum([f"p{k} * CASE WHEN w{k} IS NULL THEN 0.0D ELSE w{k} END" for k in oldest_first])
    den = _np_sum([f"p{k}" for k in oldest_first])
    df = df.selectExpr(*keep, "ok", "scale", f"{num} AS num", f"{den} AS den")
    df = df.selectExpr(*keep, "scale", "CASE WHEN ok THEN try_divide(num, den) END * scale AS x")
    # truncate like nagar.air.nowcast: x += x * 1e-12 + 1e-12; floor(x) / scale
    return df.selectExpr(*keep, f"CAST(floor(x + (x * {_d(1e-12)} + {_d(1e-12)})) AS DOUBLE) / scale AS nc")


def _grid_sql(c: str, decimals: int, rounding: str) -> str:
    """``floor(c * 10**decimals (+0.5))`` with the tolerance of ``nagar.air.aqi._grid`` (null stays null)."""
    mult = float(10**decimals) * (1.0 + _REL_TOL)
    add = _REL_TOL + 0.5 if rounding == "round" else _REL_TOL
    return f"CAST(floor({c} * {_d(mult)} + {_d(add)}) AS DOUBLE)"


def _interp_sql(x: str, pol, index_rounding: str) -> str:
    """Sub-index of grid values ``x`` by the pollutant's breakpoint rows (``nagar.air.aqi._interp``):
    a CASE generated from the table, the same arithmetic in the same order."""
    n = len(pol.c_hi)

    def row(j: int) -> str:
        blo, bhi, ilo, ihi = (float(a[j]) for a in (pol.c_lo, pol.c_hi, pol.i_lo, pol.i_hi))
        frac = f"{_d(ihi - ilo)} * ({x} - {_d(blo)}) / {_d(bhi - blo)}"
        if index_rounding == "round":
            frac = f"CAST(floor({frac} + 0.5D) AS DOUBLE)"  # halves up
        return f"CASE WHEN {x} >= {_d(blo)} THEN {_d(ilo)} + {frac} END"  # below the row: no index

    if pol.above_top == "cap":
        above = _d(pol.i_hi[-1])
    elif pol.above_top == "nan":
        above = "CAST(NULL AS DOUBLE)"
    else:  # extrapolate the last row
        above = row(n - 1)
    cases = " ".join(f"WHEN {x} <= {_d(pol.c_hi[j])} THEN {row(j)}" for j in range(n))
    return f"CASE WHEN {x} IS NULL THEN CAST(NULL AS DOUBLE) {cases} ELSE {above} END"


def _with_aqi(df, std):
    """Add ``i_<key>``, ``aqi``, ``category`` and ``dominant`` to a frame of ``c_<key>`` columns
    (``nagar.air.aqi.compute_aqi`` and ``_combine``), one projection per step."""
    pols = std.pollutants
    base = list(df.columns)
    df = df.selectExpr(*base, *[f"{_grid_sql(f'c_{p.key}', p.decimals, p.rounding)} AS _x_{p.key}" for p in pols])
    subs = []
    for pol in pols:
        x = f"(CASE WHEN _x_{pol.key} >= 0 THEN _x_{pol.key} END)"  # negative on the grid: no index
        s = _interp_sql(x, pol, std.index_rounding)
        if pol.only_when is not None:  # the other pollutant is tested before the grid (compute_aqi)
            other = std.pollutant(pol.only_when.key)
            g = f"(CASE WHEN c_{other.key} >= 0 THEN _x_{other.key} / {_d(other.scale)} END)"
            s = f"CASE WHEN {g} IS NULL OR {g} > {_d(pol.only_when.above)} THEN {s} END"
        subs.append(f"{s} AS i_{pol.key}")
    df = df.selectExpr(*base, *subs)
    keys = [p.key for p in pols]
    best = f"greatest({', '.join('i_' + k for k in keys)})" if len(keys) > 1 else f"i_{keys[0]}"
    has: dict[str, list[str]] = {}
    for pol in pols:
        has.setdefault(pol.parameter, []).append(f"i_{pol.key} IS NOT NULL")
    has_sql = {p: "(" + " OR ".join(v) + ")" for p, v in has.items()}
    valid = "(" + " + ".join(f"CAST({h} AS INT)" for h in has_sql.values()) + f") >= {int(std.min_pollutants)}"
    if std.requires_any:
        req = [has_sql[p] for p in std.requires_any if p in has_sql] or ["false"]
        valid += " AND (" + " OR ".join(req) + ")"
    df = df.selectExpr(*base, *[f"i_{k}" for k in keys], f"CASE WHEN {valid} THEN {best} END AS aqi")
    dom = " ".join(f"WHEN i_{k} = aqi THEN {_s(k)}" for k in keys)  # ties: the table's first pollutant
    cat = " ".join(f"WHEN aqi >= {_d(c.lo)} THEN {_s(c.key)}" for c in reversed(std.categories))
    return df.selectExpr("*", f"CASE {dom} END AS dominant", f"CASE {cat} END AS category")


# --------------------------------------------------------------------------------------------------
# the pipeline


class _Bounds:
    """Per-city spans of one run as map literals looked up by ``city`` (no join, no broadcast job).

    ``read``: observations used, [read_lo, read_hi) in µs since the epoch (23 h of history for the
    24-h window); ``out``: hourly buckets reported, start in [out_lo, out_hi); ``tz``: the city's zone.
    """

    def __init__(self, plans: list[CityPlan], resolution: str):
        self.values: dict[str, dict] = {}
        for p in plans:
            lo, hi = (p.start, p.end) if resolution == "hour" else (p.day_start, p.day_end)
            self.values[p.city] = {"read_lo": _us(lo) - 23 * H_US, "read_hi": _us(hi), "out_lo": _us(lo),
                                   "out_hi": _us(hi), "tz": p.timezone}

    def sql(self, name: str) -> str:
        def lit(v):
            return _s(v) if isinstance(v, str) else f"{int(v)}L"

        kv = ", ".join(f"{_s(c)}, {lit(v[name])}" for c, v in sorted(self.values.items()))
        return f"map({kv})[city]"

    def dates(self) -> tuple[date, date]:
        epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
        lo = min(v["read_lo"] for v in self.values.values())
        hi = max(v["read_hi"] for v in self.values.values())
        return (epoch + timedelta(microseconds=lo)).date(), (epoch + timedelta(microseconds=hi - 1)).date()


def _hourly_means(obs, b: _Bounds, std):
    """Hourly means of the standard's parameters (counted rows inside each city's read span),
    hash-partitioned by (city, station): the windows, the NowCast spread and the daily groups then work
    within a station and need no further shuffle."""
    from pyspark.sql import functions as F

    from nagar.store.base import COUNTED_FLAGS

    flags = ", ".join(_s(f) for f in COUNTED_FLAGS)
    params = ", ".join(_s(p) for p in sorted({p.parameter for p in std.pollutants}))
    o = obs.where(F.expr(f"flag IN ({flags}) AND parameter IN ({params}) AND unix_micros(time) >= {b.sql('read_lo')} "
                         f"AND unix_micros(time) < {b.sql('read_hi')}"))
    hi = F.expr(f"(unix_micros(time) - pmod(unix_micros(time), {H_US}L)) div {H_US}L")
    h = o.groupBy("city", "station", "parameter", hi.alias("hi")).agg(F.avg("value").alias("v"))
    return h.repartition("city", "station")


def _windows(hourly):
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    spec = Window.partitionBy("city", "station", "parameter").orderBy("hi")
    w8, w24 = spec.rangeBetween(-7, 0), spec.rangeBetween(-23, 0)
    return hourly.select(
        "city", "station", "parameter", "hi", F.col("v").alias("mean_1h"),
        F.avg("v").over(w8).alias("mean_8h"), F.count("v").over(w8).alias("n_8h"),
        F.avg("v").over(w24).alias("mean_24h"), F.count("v").over(w24).alias("n_24h"),
    )


def _in_output(df, b: _Bounds, col: str = "hi"):
    from pyspark.sql import functions as F

    return df.where(F.expr(f"{col} * {H_US}L >= {b.sql('out_lo')} AND {col} * {H_US}L < {b.sql('out_hi')}"))


def _factor(pol) -> float:
    from nagar.core.units import PARAMETERS, conversion_factor

    return conversion_factor(pol.parameter, PARAMETERS[pol.parameter].unit, pol.unit)


def _pivot(pol, value: str) -> str:
    """This pollutant's value in its table's unit, from the rows of its parameter (max of one row)."""
    return f"max(CASE WHEN parameter = {_s(pol.parameter)} THEN ({value}) * {_d(_factor(pol))} END) AS c_{pol.key}"


def _hourly_wide(obs, b: _Bounds, std):
    """Per city, station and hour in the output span: the concentration each table is entered with."""
    from pyspark.sql import functions as F

    from nagar.air.nowcast import PM_DECIMALS
    from nagar.air.service import MIN_HOURS

    hourly = _hourly_means(obs, b, std)
    nc_pols = [p for p in std.pollutants if p.hourly == "nowcast"]
    cols = ["city", "station", "parameter", "hi", "mean_1h", "mean_8h", "n_8h", "mean_24h", "n_24h", "nc"]
    long = _in_output(_windows(hourly), b).selectExpr("*", "CAST(NULL AS DOUBLE) AS nc")
    if nc_pols:
        params = sorted({p.parameter for p in nc_pols})
        src = hourly.where(F.col("parameter").isin(*params))
        # each hourly mean counts for the NowCast of its hour and the 11 after it
        spread = src.selectExpr("city", "station", "parameter", "v", "hi", f"explode(sequence(0, {NOWCAST_HOURS - 1})) AS k")
        last12 = spread.groupBy("city", "station", "parameter", (F.col("hi") + F.col("k")).alias("t")).agg(
            *[F.expr(f"max(CASE WHEN k = {k} THEN v END) AS v{k}") for k in range(NOWCAST_HOURS)])
        last12 = _in_output(last12, b, "t").withColumnRenamed("t", "hi")
        scale = "CASE " + " ".join(f"WHEN parameter = {_s(p)} THEN {_d(10 ** PM_DECIMALS[p])}" for p in params) + " END"
        nc = _with_nowcast(last12, ["city", "station", "parameter", "hi"], scale)
        long = long.unionByName(nc.selectExpr("city", "station", "parameter", "hi", "CAST(NULL AS DOUBLE) AS mean_1h",
                                              "CAST(NULL AS DOUBLE) AS mean_8h", "0L AS n_8h",
                                              "CAST(NULL AS DOUBLE) AS mean_24h", "0L AS n_24h", "nc"))

    def value(p) -> str:
        if p.hourly == "nowcast":
            return "nc"
        if p.averaging == "1h":
            return "mean_1h"
        if p.averaging == "8h":
            return f"CASE WHEN n_8h >= {MIN_HOURS['8h']} THEN mean_8h END"
        return f"CASE WHEN n_24h >= {MIN_HOURS['24h']} THEN mean_24h END"

    wide = long.select(*cols).groupBy("city", "station", "hi").agg(*[F.expr(_pivot(p, value(p))) for p in std.pollutants])
    return wide.selectExpr("*", f"timestamp_micros(hi * {H_US}L) AS time",
                           f"to_date(from_utc_timestamp(timestamp_micros(hi * {H_US}L), {b.sql('tz')})) AS date")


def _daily_wide(obs, b: _Bounds, std):
    """Per city, station and local day: the daily concentration of each pollutant (``daily_grid``), and
    ``_withheld``: some pollutant had readings that day but fewer than ``DAILY_MIN`` hourly (or valid
    8-h) means, so the day gets no AQI (``nagar.air.service.grid_aqi``)."""
    from pyspark.sql import functions as F

    from nagar.air.service import DAILY_MIN, MIN_HOURS

    win = _in_output(_windows(_hourly_means(obs, b, std)), b)
    win = win.selectExpr("*", f"to_date(from_utc_timestamp(timestamp_micros(hi * {H_US}L), {b.sql('tz')})) AS day")
    valid8 = f"CASE WHEN n_8h >= {MIN_HOURS['8h']} THEN mean_8h END"
    day = win.groupBy("city", "station", "parameter", "day").agg(
        F.avg("mean_1h").alias("d24"), F.count("mean_1h").alias("n24"), F.max("mean_1h").alias("d1"),
        F.expr(f"max({valid8}) AS d8"), F.expr(f"count({valid8}) AS n8"))

    def count(p) -> str:
        return "n8" if p.averaging == "8h" else "n24"

    def value(p) -> str:
        col = {"24h": "d24", "8h": "d8"}.get(p.averaging, "d1")
        return f"CASE WHEN {count(p)} >= {DAILY_MIN} THEN {col} END"

    def short(p) -> str:
        return (f"max(CASE WHEN parameter = {_s(p.parameter)} THEN CAST(n24 > 0 AND {count(p)} < {DAILY_MIN} "
                f"AS INT) END) AS _short_{p.key}")

    wide = day.groupBy("city", "station", "day").agg(*[F.expr(_pivot(p, value(p))) for p in std.pollutants],
                                                     *[F.expr(short(p)) for p in std.pollutants])
    shorts = [f"coalesce(_short_{p.key}, 0)" for p in std.pollutants]
    withheld = f"greatest({', '.join(shorts)}) > 0" if len(shorts) > 1 else f"{shorts[0]} > 0"
    keep = [c for c in wide.columns if not c.startswith("_short_")]
    return wide.selectExpr(*keep, f"{withheld} AS _withheld",
                           f"to_utc_timestamp(CAST(day AS TIMESTAMP), {b.sql('tz')}) AS time", "day AS date")


def aqi_spark_frame(spark, lake: str, plans: list[CityPlan], *, resolutions=RESOLUTIONS):
    """The AQI table as a Spark DataFrame (columns of :func:`nagar.lake.aqi.output_schema`), or None
    when no planned city has data."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    spark.conf.set("spark.sql.session.timeZone", "UTC")  # local dates below rely on it
    schema = output_schema(p.standard for p in plans)
    frames = []
    by_std: dict[str, list[CityPlan]] = {}
    for p in plans:
        if p.stations and _exists(spark, _lake_path(lake, f"city={p.city}")):
            by_std.setdefault(p.standard.id, []).append(p)
    for group in by_std.values():
        std = group[0].standard
        for res in resolutions:
            b = _Bounds(group, res)
            obs = _read(spark, lake, [p.city for p in group], *b.dates())
            wide = _hourly_wide(obs, b, std) if res == "hour" else _daily_wide(obs, b, std)
            # never let a NaN reach floor() (it would read as 0)
            wide = wide.selectExpr(*[f"CASE WHEN NOT isnan({c}) THEN {c} END AS {c}" if c.startswith("c_") else c
                                     for c in wide.columns])
            st = _with_aqi(wide, std)
            if res == "day":  # an incomplete day gets no AQI (nagar.air.service.grid_aqi)
                st = st.withColumn("aqi", F.when(F.col("_withheld"), F.lit(None)).otherwise(F.col("aqi")))
            st = st.withColumn("resolution", F.lit(res)).withColumn("standard", F.lit(std.id))
            # every row is a station row; the worst station of each city and period is also the city row.
            # Rows without an AQI sort last and are dropped after the window: a filter on ``aqi`` before
            # it would be pushed down with the whole index expression inlined into it.
            rank = Window.partitionBy("city", "time").orderBy(F.col("aqi").desc_nulls_last(), F.col("station").asc())
            st = st.withColumn("_rank", F.row_number().over(rank)).where(F.col("aqi").isNotNull())
            levels = F.when(F.col("_rank") == 1, F.array(F.lit("station"), F.lit("city"))).otherwise(
                F.array(F.lit("station")))
            st = st.withColumn("level", F.explode(levels))
            have = set(st.columns)
            frames.append(st.selectExpr(*[f.name if f.name in have else f"CAST(NULL AS DOUBLE) AS {f.name}"
                                          for f in schema]))
    if not frames:
        return None, schema
    out = frames[0]
    for f in frames[1:]:
        out = out.unionByName(f)
    return out, schema


def aqi_spark(spark, lake: str, plans: list[CityPlan], *, resolutions=RESOLUTIONS) -> pa.Table:
    """The AQI table, collected to the driver as Arrow and sorted."""
    df, schema = aqi_spark_frame(spark, lake, plans, resolutions=resolutions)
    if df is None:
        return schema.empty_table()
    t = df.toArrow()
    return t.select(schema.names).cast(schema).sort_by(SORT_KEYS)


# --------------------------------------------------------------------------------------------------
# spark-submit entry point


def main(argv: list[str] | None = None) -> int:
    """``spark-submit nagar/lake/spark_job.py --lake URI --out URI|FILE [...]``."""
    from nagar.core.settings import Settings
    from nagar.lake.aqi import parse_time, plan_cities, write_table

    ap = argparse.ArgumentParser(prog="nagar-lake-aqi", description=__doc__.splitlines()[0])
    ap.add_argument("--lake", required=True, help="lake root: a folder, file:// or s3a:// URI")
    ap.add_argument("--out", required=True,
                    help="result: a local .parquet/.csv/.jsonl file (collected to the driver), or a URI "
                         "(s3a://, hdfs://, file://) that Spark writes as a Parquet folder")
    ap.add_argument("--standard", help="standard id or JSON table (default: each city's own)")
    ap.add_argument("--city", action="append", help="city id (repeatable; default: all)")
    ap.add_argument("--from", dest="start", help="ISO date or date-time (UTC unless an offset is given)")
    ap.add_argument("--to", dest="end", help="ISO date or date-time, exclusive")
    ap.add_argument("--resolution", choices=["hour", "day", "both"], default="both")
    ap.add_argument("--master", default=None, help="Spark master (default: spark-submit's, else local[*])")
    a = ap.parse_args(argv)
    # under spark-submit the JVM starts Python (PYSPARK_GATEWAY_PORT is set) and brings its own master
    master = a.master or (None if os.environ.get("PYSPARK_GATEWAY_PORT") else "local[*]")
    spark = spark_session(master)
    settings = Settings.from_env()
    cities, stations, spans = spark_lake_meta(spark, a.lake)
    plans = plan_cities(cities_meta=cities, stations_meta=stations, spans=spans, settings=settings,
                        standard=a.standard, cities=a.city, start=parse_time(a.start, "from"),
                        end=parse_time(a.end, "to"))
    res = RESOLUTIONS if a.resolution == "both" else (a.resolution,)
    if "://" in a.out:
        df, _ = aqi_spark_frame(spark, a.lake, plans, resolutions=res)
        if df is not None:
            df.write.mode("overwrite").partitionBy("resolution", "level").parquet(a.out)
    else:
        write_table(aqi_spark(spark, a.lake, plans, resolutions=res), a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
