"""Row-by-row validation of observation batches, vectorised with Polars.

Every batch, whatever its source (HTTP JSON, CSV, Parquet), is normalised into the same raw columns
(``station, parameter, time, value, unit, flag`` plus ``_row``, the row's index in its source) and
passed through :func:`validate`. A row is rejected with the *first* reason that applies; good rows of
the same batch are kept. Accepted values are converted to the parameter's canonical unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import polars as pl
import pyarrow as pa

from nagar.core.errors import InvalidInput
from nagar.core.units import PARAMETERS, conversion_factor, normalise_parameter
from nagar.store.base import FLAGS, OBSERVATION_SCHEMA

RAW_COLUMNS = ("station", "parameter", "time", "value", "unit", "flag")
_EPOCH_MIN = datetime(1970, 1, 1, tzinfo=timezone.utc)

@dataclass
class Rejection:
    index: int
    field: str
    reason: str

    def to_dict(self) -> dict:
        return {"index": self.index, "field": self.field, "reason": self.reason}


@dataclass
class Validated:
    good: pa.Table
    rejected: list[Rejection] = field(default_factory=list)


def parse_times(col: pl.Expr) -> pl.Expr:
    """ISO-8601 strings with a UTC offset (``Z`` or ``±hh:mm``) -> UTC datetimes; anything else -> null."""
    s = col.cast(pl.String).str.strip_chars().str.replace(r"^(\d{4}-\d{2}-\d{2})[ t]", "${1}T").str.replace(
        r"[zZ]$", "+00:00"
    )
    return pl.coalesce(
        s.str.to_datetime(format="%Y-%m-%dT%H:%M:%S%.f%z", strict=False, time_zone="UTC", time_unit="us"),
        s.str.to_datetime(format="%Y-%m-%dT%H:%M%z", strict=False, time_zone="UTC", time_unit="us"),
    )


def _lookup(s: pl.Series, fn, dtype) -> pl.Series:
    """Apply ``fn`` to each distinct non-null value of ``s`` and map the column through the results."""
    uniq = s.drop_nulls().unique().to_list()
    return s.replace_strict({u: fn(u) for u in uniq}, default=None, return_dtype=dtype)


def _normalise_flag(f: str) -> str | None:
    k = f.strip().lower()
    return k if k in FLAGS else None


def _fast_times(s: pl.Series) -> pl.Series | None:
    """Arrow's strict ISO-8601 cast (needs an offset on every cell); ``None`` if any cell fails."""
    if s.dtype != pl.String:
        return None
    try:
        arr = s.to_arrow().cast(pa.timestamp("us", tz="UTC"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return pl.Series("_t", arr)


def validate(
    raw: pl.DataFrame,
    *,
    known_stations: set[str] | dict,
    now: datetime | None = None,
    max_future: timedelta = timedelta(minutes=10),
) -> Validated:
    """Split ``raw`` into accepted canonical rows and rejections.

    Parameters
    ----------
    raw : polars.DataFrame
        Columns ``station, parameter, time, value, unit`` (``flag`` optional) and ``_row``. ``value`` may be
        a string or number column; a value that is not a finite number is rejected. ``time`` may be a
        string column (ISO 8601 with offset) or a tz-aware datetime column.
    known_stations : set of str
        Station ids that exist; other rows are rejected as unknown stations.
    now : datetime, optional
        Reference for the "too far in the future" rule (default: the current time).
    max_future : timedelta
        Allowed clock skew.
    """
    now = now or datetime.now(timezone.utc)
    if "flag" not in raw.columns:
        raw = raw.with_columns(pl.lit(None, dtype=pl.String).alias("flag"))
    missing = [c for c in ("station", "parameter", "time", "value", "unit", "_row") if c not in raw.columns]
    if missing:
        raise InvalidInput(f"missing column(s): {', '.join(missing)}", field=missing[0])

    df = raw.select(
        pl.col("_row").cast(pl.Int64),
        pl.col("station").cast(pl.String).alias("station"),
        pl.col("parameter").cast(pl.String).alias("_p_in"),
        pl.col("unit").cast(pl.String).alias("_u_in"),
        pl.col("value").alias("_v_in"),
        pl.col("time").alias("_t_in"),
        pl.col("flag").cast(pl.String).alias("_flag_in"),
    )
    # strings are resolved once per distinct value, then mapped (a batch has few distinct ones)
    df = df.with_columns(
        _lookup(df.get_column("_p_in"), normalise_parameter, pl.String).alias("_p"),
        _lookup(df.get_column("_flag_in"), _normalise_flag, pl.String).alias("_flag"),
        _lookup(df.get_column("station"), lambda x: x in known_stations, pl.Boolean).fill_null(False).alias("_known"),
    )
    df = df.with_columns(
        pl.when(pl.col("_flag_in").is_null()).then(pl.lit("valid")).otherwise(pl.col("_flag")).alias("flag")
    )
    # value: numbers pass, numeric strings are parsed, anything else is null
    v = pl.col("_v_in")
    if df.schema["_v_in"] == pl.String:
        try:  # fast path: Arrow's strict cast succeeds when every cell is a number
            df = df.with_columns(pl.Series("_v_in", df.get_column("_v_in").to_arrow().cast(pa.float64())))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            v = v.str.strip_chars().cast(pl.Float64, strict=False)
    else:
        v = v.cast(pl.Float64, strict=False)
    df = df.with_columns(v.alias("_v"))
    # time
    t = pl.col("_t_in")
    tdtype = df.schema["_t_in"]
    if isinstance(tdtype, pl.Datetime):
        if tdtype.time_zone is None:
            df = df.with_columns(pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("_t"), pl.lit(True).alias("_naive"))
        else:
            df = df.with_columns(t.dt.convert_time_zone("UTC").dt.cast_time_unit("us").alias("_t"),
                                 pl.lit(False).alias("_naive"))
    elif (fast := _fast_times(df.get_column("_t_in"))) is not None:
        df = df.with_columns(fast.alias("_t"), pl.lit(False).alias("_naive"))
    else:
        ts = t.cast(pl.String)
        df = df.with_columns(
            parse_times(ts).alias("_t"),
            ts.str.contains(r"^\s*\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*$").fill_null(False).alias("_naive"),
        )
    # unit conversion factor per distinct (parameter, unit) pair
    pairs = df.select("_p", "_u_in").unique().drop_nulls()
    fac: dict[tuple[str, str], float | None] = {}
    for p, u in pairs.iter_rows():
        try:
            fac[(p, u)] = conversion_factor(p, u, PARAMETERS[p].unit)
        except InvalidInput:
            fac[(p, u)] = None
    ucodes = {u: i for i, u in enumerate(sorted({u for _, u in fac}))}
    pair_code = pl.col("_p").replace_strict({k: PARAMETERS[k].code for k in PARAMETERS}, default=None,
                                            return_dtype=pl.Int64) * 1_000_000 + pl.col("_u_in").replace_strict(
        ucodes, default=None, return_dtype=pl.Int64)
    fac_by_code = {PARAMETERS[p].code * 1_000_000 + ucodes[u]: f for (p, u), f in fac.items() if f is not None}
    df = df.with_columns(
        pair_code.replace_strict(fac_by_code, default=None, return_dtype=pl.Float64).alias("_f"),
        pl.col("_p").replace_strict({k: p.unit for k, p in PARAMETERS.items()}, default=None,
                                    return_dtype=pl.String).alias("unit"),
    )
    df = df.with_columns((pl.col("_v") * pl.col("_f")).alias("value"))

    lo = pl.col("_p").replace_strict({k: p.min_value for k, p in PARAMETERS.items()}, default=None, return_dtype=pl.Float64)
    hi = pl.col("_p").replace_strict({k: p.max_value for k, p in PARAMETERS.items()}, default=None, return_dtype=pl.Float64)
    future = now + max_future
    v_ok = pl.col("_v").is_not_null() & pl.col("_v").is_finite()
    ok = (
        pl.col("_known")
        & pl.col("_f").is_not_null()
        & v_ok.fill_null(False)
        & (pl.col("value") >= lo).fill_null(False)
        & (pl.col("value") <= hi).fill_null(False)
        & (pl.col("_t") <= pl.lit(future)).fill_null(False)
        & (pl.col("_t") >= pl.lit(_EPOCH_MIN)).fill_null(False)
        & pl.col("flag").is_not_null()
    )
    df = df.with_columns(ok.alias("_ok"))
    good = df.filter(pl.col("_ok")).select(
        "station", pl.col("_p").alias("parameter"), pl.col("_t").alias("time"), "value", "unit", "flag"
    )
    # reasons are worked out for the rejected rows only; the first failing rule wins
    reason = (
        pl.when(pl.col("station").is_null() | (pl.col("station") == ""))
        .then(pl.lit("station|station is missing"))
        .when(~pl.col("_known"))
        .then(pl.concat_str(pl.lit("station|unknown station '"), pl.col("station"), pl.lit("'")))
        .when(pl.col("_p_in").is_null())
        .then(pl.lit("parameter|parameter is missing"))
        .when(pl.col("_p").is_null())
        .then(pl.concat_str(pl.lit("parameter|unknown parameter '"), pl.col("_p_in"), pl.lit("'")))
        .when(pl.col("_u_in").is_null())
        .then(pl.lit("unit|unit is missing"))
        .when(pl.col("_f").is_null())
        .then(pl.concat_str(pl.lit("unit|unknown unit '"), pl.col("_u_in"), pl.lit("' for "), pl.col("_p")))
        .when(~v_ok.fill_null(False))
        .then(pl.lit("value|value is not a number"))
        .when(pl.col("value") < lo)
        .then(pl.concat_str(pl.lit("value|impossible value "), pl.col("_v").cast(pl.String), pl.lit(" "),
                            pl.col("_u_in"), pl.lit(": below "), lo.cast(pl.String), pl.lit(" "), pl.col("unit")))
        .when(pl.col("value") > hi)
        .then(pl.concat_str(pl.lit("value|impossible value "), pl.col("_v").cast(pl.String), pl.lit(" "),
                            pl.col("_u_in"), pl.lit(": above "), hi.cast(pl.String), pl.lit(" "), pl.col("unit")))
        .when(pl.col("_naive"))
        .then(pl.lit("time|time has no UTC offset (write e.g. 2025-01-01T06:00:00Z or +06:00)"))
        .when(pl.col("_t").is_null())
        .then(pl.lit("time|time is not an ISO 8601 date-time with offset"))
        .when(pl.col("_t") > pl.lit(future))
        .then(pl.lit(f"time|time is more than {int(max_future.total_seconds() // 60)} minutes in the future"))
        .when(pl.col("_t") < pl.lit(_EPOCH_MIN))
        .then(pl.lit("time|time is before 1970"))
        .otherwise(pl.concat_str(pl.lit("flag|flag must be one of " + ", ".join(FLAGS) + "; got '"),
                                 pl.col("_flag_in"), pl.lit("'")))
        .alias("_reason")
    )
    bad = df.filter(~pl.col("_ok")).select("_row", reason)
    rejected = []
    for row, r in bad.iter_rows():
        fld, _, msg = r.partition("|")
        rejected.append(Rejection(int(row), fld, msg))
    return Validated(good=good.to_arrow().cast(OBSERVATION_SCHEMA), rejected=rejected)
