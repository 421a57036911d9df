"""Realistic, deterministic demo air-quality data for Dhaka, Chattogram, Bangkok, Hanoi and Jakarta.

The generator builds hourly PM2.5, PM10, NO2 and O3 for real monitoring stations (``stations.json``
beside this file, each with its source) from a small statistical model, in log space:

    log c(station, t) = log C_city(month)               seasonal climatology, interpolated daily
                      + log f_site                      station factor (published site means)
                      + a_p · W_city(day) + b_p · U_p   city weather: AR(1) per day, shared by stations
                      + H_city(hour)                    city hourly AR(1) (fronts, rain showers)
                      + S_station(hour) + e             station AR(1) and white measurement noise
                      + log D_p(local hour; season)     diurnal cycle, in local time
                      + log K_p(local weekday)          weekday / weekend (Friday in Bangladesh)
                      - σ²/2                            so the arithmetic mean matches C_city

PM10 is PM2.5 times a city PM10/PM2.5 ratio with its own noise, a wetter-season coarse bump and a
daytime road-dust bump. Gaps (random hours, short runs, whole-station outages) are dropped rows;
one Dhaka PM2.5 sensor is made faulty (stuck for about two days, plus two implausible spikes) and
described in :attr:`DemoData.faults`.

The same ``(seed, days, end)`` always gives byte-identical output (with the pinned NumPy): every
random stream is a NumPy ``PCG64`` generator seeded from ``seed`` and a CRC-32 of a city or station
id (never Python's salted ``hash``), and nothing depends on the wall clock once ``end`` is fixed.
Keying streams by id means adding a station elsewhere does not change an existing station's data.

References
----------
.. [1] Sarwar, G. et al. (2023). Characterizing variations in ambient PM2.5 concentrations at the U.S.
   Embassy in Dhaka, Bangladesh using observations and the CMAQ modeling system. Atmospheric
   Environment 296, 119587. doi:10.1016/j.atmosenv.2023.119587 — 2016–2021 hourly PM2.5: winter mean
   ~165–175 µg/m³, monsoon ~30–35 µg/m³, night-time above daytime.
.. [2] Rana, M. M. & Khan, M. H. (2020). Trend characteristics of atmospheric particulate matters in
   major urban areas of Bangladesh. Asian J. Atmos. Environ. 14(1), 47–61.
   doi:10.5572/ajae.2020.14.1.047 — DoE CAMS 2013–2018: dry-season (Nov–Apr) PM10 Dhaka 238.7,
   Chattogram 190.7 µg/m³; wet season (May–Oct) 75.0 and 55.5 µg/m³; higher PM at night.
.. [3] Department of Environment, Bangladesh, Monthly Air Quality Monitoring Reports (Table 3, per
   CAMS), 2014–2019, as summarised in public analyses: Dhaka June–September mean PM2.5 ~35 µg/m³
   (months 19–54), winter ~157 µg/m³.
.. [4] Characterization of inhalable ground-level ambient particulate matter in Dhaka city (2020).
   J. Sci. Res. 12(4). doi:10.3329/jsr.v12i4.45802 — Darus Salam CAMS 2013–2018: PM2.5 is 54 % of
   PM10 (PM10/PM2.5 ≈ 1.85); lowest in July, highest in December–January.
.. [5] Chirasophon, S. & Pochanart, P. (2020). The long-term characteristics of PM10 and PM2.5 in
   Bangkok, Thailand. Asian J. Atmos. Environ. 14(1), 73–83. doi:10.5572/ajae.2020.14.1.073 — PCD
   2006–2016: PM2.5/PM10 = 0.61, lower in the wet season; weekdays and dry season higher.
.. [6] Tran, C. et al. (2020). Analysis on temporal pattern of fine particulate matter (PM2.5) in Hanoi,
   Vietnam and the impact of meteorological conditions. J. Environ. Prot. 11, 246–256.
   doi:10.4236/jep.2020.113014 — winter highest, summer lowest; 02:00–08:00 high, minimum 14:00–15:00.
.. [7] Vital Strategies & Institut Teknologi Bandung (2020). Main sources of air pollution in DKI
   Jakarta — daily PM2.5 at GBK 21 µg/m³ in the rainy season (Oct 2018–Mar 2019) vs 58 µg/m³ in the
   dry season (Jul–Sep 2019); the Environment Ministry (KLHK) names June–August as the peak.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from nagar.core.errors import InvalidInput
from nagar.core.ids import validate_id
from nagar.core.units import PARAMETERS

__all__ = ["DemoData", "generate", "OBSERVATION_SCHEMA", "PARAMETER_ORDER"]

DATA_FILE = Path(__file__).with_name("stations.json")

PARAMETER_ORDER: tuple[str, ...] = ("pm25", "pm10", "no2", "o3")
"""Order of parameters within a station in the observations table."""

OBSERVATION_SCHEMA = pa.schema(
    [
        pa.field("station", pa.string(), nullable=False),
        pa.field("parameter", pa.string(), nullable=False),
        pa.field("time", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("value", pa.float64(), nullable=False),
        pa.field("unit", pa.string(), nullable=False),
    ]
)
"""Columns of :attr:`DemoData.observations` (the store's observation columns without ``flag``)."""

MAX_DAYS = 3660
_HOUR_US = 3_600_000_000

# ---------------------------------------------------------------------------------------------
# Seasonal climatology: city-wide monthly means, January..December.
# PM2.5 [µg/m³]; NO2 and O3 [ppb] as 24-hour means.
# ---------------------------------------------------------------------------------------------
# Dhaka PM2.5. Winter (Dec–Feb) mean 173, monsoon (Jun–Sep) 32, pre-monsoon (Mar–May) 78,
# post-monsoon (Oct–Nov) 98. Matches the US Embassy 2016–2021 record [1] (winter ~165–175,
# monsoon ~30–35) and DoE CAMS monthly reports [3] (Jun–Sep ~35, months 19–54; winter ~157).
# With day-to-day log-sd ≈ 0.27 most Dec–Feb days fall at 130–250 µg/m³, monsoon days at 20–45.
# Chattogram is the same cycle at ~0.72 × Dhaka: DoE CAMS dry-season PM10 190.7 vs 238.7 and
# wet-season 55.5 vs 75.0 µg/m³ [2]; Khulshi/Agrabad mean PM2.5 70–85 vs 103–124 at Dhaka CAMS.
# Bangkok: dry, stagnant Dec–Feb peak around 40–45, rainy season (Jun–Oct) 12–15 [5]; PCD warns
# of PM2.5 build-up "from late October through February".
# Hanoi: winter (Nov–Jan) peak ~60–65, summer (Jun–Aug) ~22 — winter about three times summer [6].
# Jakarta: inverted, dry-season (Jun–Sep) peak ~55–60 and rainy-season ~25 [7].
# Gases are indicative (fewer published monthly series): NO2 highest in the stagnant dry season,
# O3 highest in the sunny pre-monsoon / dry season and lowest under monsoon cloud.
_CLIMATOLOGY: dict[str, dict[str, tuple[float, ...]]] = {
    "dhaka": {
        "pm25": (190, 150, 110, 75, 50, 35, 28, 30, 35, 65, 130, 180),
        "no2": (38, 34, 28, 22, 17, 13, 12, 12, 14, 20, 30, 37),
        "o3": (22, 28, 34, 36, 30, 20, 15, 15, 18, 24, 24, 20),
    },
    "chattogram": {
        "pm25": (136, 108, 80, 55, 36, 25, 20, 22, 25, 46, 93, 130),
        "no2": (27, 24, 20, 16, 12, 9, 8, 8, 10, 14, 21, 26),
        "o3": (24, 30, 36, 37, 30, 20, 16, 16, 19, 25, 25, 22),
    },
    "bangkok": {
        "pm25": (45, 40, 32, 24, 18, 14, 13, 13, 15, 19, 30, 40),
        "no2": (26, 25, 23, 20, 17, 15, 15, 15, 16, 18, 22, 25),
        "o3": (30, 34, 36, 33, 24, 18, 17, 17, 19, 22, 27, 29),
    },
    "hanoi": {
        "pm25": (65, 52, 52, 42, 32, 24, 22, 22, 30, 45, 56, 66),
        "no2": (30, 26, 26, 24, 20, 17, 16, 16, 19, 24, 28, 31),
        "o3": (22, 22, 25, 30, 32, 28, 26, 25, 30, 32, 27, 22),
    },
    "jakarta": {
        "pm25": (28, 26, 30, 35, 42, 50, 55, 58, 55, 45, 33, 28),
        "no2": (18, 18, 19, 21, 24, 27, 28, 29, 28, 24, 20, 18),
        "o3": (22, 22, 24, 26, 29, 32, 34, 35, 34, 30, 25, 22),
    },
}

# Mean PM10/PM2.5 per city. Dhaka 1.85 (PM2.5 = 54 % of PM10 at Darus Salam [4]); Bangkok 1.64
# (PM2.5/PM10 = 0.61 [5]); others between. The ratio rises in the wet season (fine particles are
# washed out, coarse dust persists [5]) and by day (traffic-resuspended road dust).
_PM10_RATIO = {"dhaka": 1.85, "chattogram": 1.8, "bangkok": 1.64, "hanoi": 1.55, "jakarta": 1.6}
_PM10_RATIO_WET = 0.10  # log-ratio swing from the dirtiest (-0.05) to the cleanest (+0.05) month
_PM10_RATIO_DAY = 0.08  # log-ratio added 08:00–18:00 local

# ---------------------------------------------------------------------------------------------
# Diurnal cycles by local hour 0..23 (multipliers, normalised to mean 1 below).
# PM: high through the night under a shallow nocturnal boundary layer, a morning-rush shoulder,
# minimum 13:00–16:00 when the mixing height is deepest ([1], [2], [6]; night/afternoon ≈ 2).
# NO2: morning (08–09) and evening (19–21) rush peaks, afternoon low from mixing and photolysis.
# O3: photochemical, peaks 13:00–15:00 local, lowest before dawn (titration by NO).
# ---------------------------------------------------------------------------------------------
_DIURNAL = {
    "pm": np.array([1.30, 1.30, 1.25, 1.20, 1.15, 1.12, 1.12, 1.18, 1.22, 1.15, 0.98, 0.82,
                    0.70, 0.62, 0.58, 0.58, 0.62, 0.75, 0.95, 1.12, 1.25, 1.32, 1.34, 1.32]),
    "no2": np.array([1.05, 1.00, 0.95, 0.90, 0.90, 0.95, 1.10, 1.30, 1.40, 1.35, 1.15, 0.95,
                     0.80, 0.72, 0.68, 0.70, 0.80, 0.95, 1.15, 1.30, 1.35, 1.30, 1.20, 1.12]),
    "o3": np.array([0.45, 0.40, 0.38, 0.35, 0.33, 0.33, 0.38, 0.55, 0.80, 1.10, 1.40, 1.70,
                    1.95, 2.10, 2.10, 1.95, 1.65, 1.25, 0.90, 0.70, 0.60, 0.55, 0.50, 0.47]),
}
# The PM and NO2 cycles are stronger in the dry season (deeper night inversions): the log-amplitude
# is scaled by _AMP_LOW (cleanest month) .. _AMP_LOW + _AMP_SPAN (dirtiest month).
_AMP_LOW, _AMP_SPAN = 0.6, 0.7

# Weekly factors by ISO weekday (1 = Monday .. 7 = Sunday); missing days are 1. Bangladesh's weekend
# is Friday (and, for offices, Saturday); elsewhere Saturday–Sunday. Less traffic lowers NO2 and PM
# and, with less NO titration, slightly raises O3. Normalised to a weekly mean of 1 below.
_WEEKLY = {
    "BD": {5: {"pm": 0.88, "no2": 0.75, "o3": 1.06}, 6: {"pm": 0.95, "no2": 0.90, "o3": 1.03}},
    "default": {6: {"pm": 0.96, "no2": 0.90, "o3": 1.03}, 7: {"pm": 0.92, "no2": 0.80, "o3": 1.06}},
}

# Station setting: multipliers on the city NO2 and O3 levels (PM uses the station's pm_factor).
_SETTING = {
    "urban": {"no2": 1.0, "o3": 1.0},
    "roadside": {"no2": 1.35, "o3": 0.8},
    "suburban": {"no2": 0.75, "o3": 1.1},
    "industrial": {"no2": 1.15, "o3": 0.9},
}

# ---------------------------------------------------------------------------------------------
# Noise model (log scale). Day-to-day persistence is an AR(1) with φ = 0.75 per day; the city
# weather is a shared "stagnation" index W plus a part of its own per pollutant.
# ---------------------------------------------------------------------------------------------
_PHI_DAY = 0.75
_WEATHER = {  # loading a on W, sd b of the pollutant's own daily AR(1)
    "pm": (0.26, 0.10),
    "no2": (0.16, 0.12),
    "o3": (-0.06, 0.20),
}
_PHI_CITY_HOUR, _SIGMA_CITY_HOUR = 0.85, {"pm": 0.15, "no2": 0.16, "o3": 0.14}
_PHI_STATION, _SIGMA_STATION = 0.70, 0.12
_SIGMA_WHITE = 0.04
_SIGMA_OFFSET = 0.06  # random, seed-dependent station offset on top of pm_factor / setting
_PHI_RATIO, _SIGMA_RATIO = 0.70, 0.08

# Gaps and faults.
_P_MISSING_HOUR = 0.01  # independent missing hours per series
_GAPS_PER_DAY = 1 / 25  # short runs of missing hours per series
_GAP_HOURS = (2, 7)  # [low, high) length of a short run
_OUTAGE_HOURS = (8, 37)  # whole-station outage length [low, high)
_STUCK_HOURS = (42, 55)  # stuck-sensor length [low, high)
_SPIKE_RANGE = (850.0, 999.0)  # µg/m³, implausible next to neighbouring hours


@dataclass(frozen=True)
class DemoData:
    """A generated demo data set. See :func:`generate`."""

    cities: list[dict]
    """id, name, country (ISO 3166-1 alpha-2), timezone (IANA), lat, lon, standard."""
    stations: list[dict]
    """id, city, name, lat, lon, parameters, and source (where the site's metadata came from)."""
    observations: pa.Table
    """Hourly values; schema :data:`OBSERVATION_SCHEMA`; missing hours are absent rows."""
    faults: list[dict]
    """Injected sensor faults: station, parameter, kind ("stuck" | "spike"), start, end (UTC, inclusive)."""
    outages: list[dict] = field(default_factory=list)
    """Whole-station outages (every parameter missing): station, start, end (UTC, inclusive)."""
    start: datetime | None = None
    """First hour of the window (UTC)."""
    end: datetime | None = None
    """Last hour of the window (UTC)."""


def generate(seed: int = 42, days: int = 90, end: datetime | None = None) -> DemoData:
    """Generate hourly PM2.5, PM10, NO2 and O3 for the demo cities' real monitoring stations.

    Parameters
    ----------
    seed : int
        Non-negative seed. The same ``(seed, days, end)`` gives byte-identical output.
    days : int
        Length of the window [days], 1 to 3660. The table has ``days × 24`` hourly time stamps.
    end : datetime, optional
        Last hour of the window, timezone-aware (any zone; converted to UTC and floored to the
        hour). Defaults to the current hour in UTC.

    Returns
    -------
    DemoData
        ``observations`` is a :class:`pyarrow.Table` with columns station, parameter,
        time (timestamp[us, UTC], on the hour), value (float64, rounded to 0.1, never negative)
        and unit ("µg/m³" for pm25/pm10, "ppb" for no2/o3), sorted by station (in ``stations``
        order), parameter (pm25, pm10, no2, o3) and time. The window is the ``days × 24`` hours
        ending at ``end`` inclusive; missing hours are absent rows. ``faults`` lists the one faulty
        sensor's episodes (a Dhaka CAMS PM2.5 monitor stuck for ~2 days, plus two implausible
        spikes; ``start``/``end`` inclusive, always reported), ``outages`` the station-wide gaps.

    Raises
    ------
    InvalidInput
        For a negative or non-integer seed, days outside 1..3660, or a naive ``end``.

    Notes
    -----
    See the module docstring for the model and its sources. Local hour, weekday and season are
    computed in each city's IANA time zone.
    """
    seed, days, end_utc = _validate(seed, days, end)
    meta = _load_metadata()
    cities = [dict(c) for c in meta["cities"]]
    stations = [dict(s) for s in meta["stations"]]

    n = days * 24
    end_us = _to_us(end_utc)
    times_us = end_us - np.arange(n - 1, -1, -1, dtype=np.int64) * _HOUR_US

    values: dict[str, np.ndarray] = {}  # station id -> (n, 4) in PARAMETER_ORDER, NaN if not measured
    for city in cities:
        members = [s for s in stations if s["city"] == city["id"]]
        if members:
            cal = _local_calendar(times_us, city["timezone"])
            values.update(_city_values(seed, city, members, cal, n))

    present = {st["id"]: _series_gaps(seed, st["id"], n) for st in stations}  # (n, 4) bool
    faults, outages = _inject_faults_and_outages(seed, stations, values, present, times_us)

    table = _build_table(stations, values, present, times_us)
    return DemoData(
        cities=[_public_city(c) for c in cities],
        stations=[_public_station(s) for s in stations],
        observations=table,
        faults=faults,
        outages=outages,
        start=_from_us(int(times_us[0])),
        end=_from_us(int(times_us[-1])),
    )


# ---------------------------------------------------------------------------------------------
# Validation and metadata
# ---------------------------------------------------------------------------------------------


def _validate(seed, days, end) -> tuple[int, int, datetime]:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InvalidInput(f"seed must be a non-negative integer; got {seed!r}", field="seed")
    if isinstance(days, bool) or not isinstance(days, (int, np.integer)) or not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"days must be an integer from 1 to {MAX_DAYS}; got {days!r}", field="days")
    if end is None:
        end = datetime.now(timezone.utc)
    if not isinstance(end, datetime):
        raise InvalidInput(f"end must be a datetime; got {type(end).__name__}", field="end")
    if end.tzinfo is None or end.utcoffset() is None:
        raise InvalidInput("end must be timezone-aware (e.g. tzinfo=timezone.utc)", field="end")
    end = end.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    return int(seed), int(days), end


@lru_cache(maxsize=1)
def _load_metadata() -> dict:
    """Read and check ``stations.json`` once; callers copy what they hand out."""
    raw = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    city_ids = set()
    for c in raw["cities"]:
        validate_id(c["id"], field="city.id")
        if c["id"] not in _CLIMATOLOGY:
            raise ValueError(f"stations.json: no climatology for city {c['id']!r}")
        city_ids.add(c["id"])
    seen = set()
    for s in raw["stations"]:
        validate_id(s["id"], field="station.id")
        if s["id"] in seen:
            raise ValueError(f"stations.json: duplicate station id {s['id']!r}")
        seen.add(s["id"])
        if s["city"] not in city_ids:
            raise ValueError(f"stations.json: station {s['id']!r} names unknown city {s['city']!r}")
        unknown = set(s["parameters"]) - set(PARAMETER_ORDER)
        if unknown:
            raise ValueError(f"stations.json: station {s['id']!r} has unknown parameters {sorted(unknown)}")
        if s["setting"] not in _SETTING:
            raise ValueError(f"stations.json: station {s['id']!r} has unknown setting {s['setting']!r}")
    return raw


def _public_city(c: dict) -> dict:
    return {k: c[k] for k in ("id", "name", "country", "timezone", "lat", "lon", "standard")}


def _public_station(s: dict) -> dict:
    params = [p for p in PARAMETER_ORDER if p in s["parameters"]]
    return {"id": s["id"], "city": s["city"], "name": s["name"], "lat": s["lat"], "lon": s["lon"],
            "parameters": params, "source": s["source"]}


# ---------------------------------------------------------------------------------------------
# Time helpers
# ---------------------------------------------------------------------------------------------


def _to_us(dt: datetime) -> int:
    delta = dt - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_us(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=us)


def _local_calendar(times_us: np.ndarray, tz: str) -> dict[str, np.ndarray]:
    """Local hour, ISO weekday, local day number and fractional month position for each hour."""
    local = pl.Series("t", times_us).cast(pl.Datetime("us", "UTC")).dt.convert_time_zone(tz)
    hour = local.dt.hour().to_numpy().astype(np.int64)
    minute = local.dt.minute().to_numpy().astype(np.float64)
    weekday = local.dt.weekday().to_numpy().astype(np.int64)
    doy = local.dt.ordinal_day().to_numpy().astype(np.float64)
    year = local.dt.year().to_numpy()
    day = local.dt.date().cast(pl.Int32).to_numpy().astype(np.int64)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    year_len = np.where(leap, 366.0, 365.0)
    frac_hour = hour + minute / 60.0
    # Month position: 0.0 is mid-January, 11.0 mid-December (anchors of the monthly climatology).
    month_pos = 12.0 * (doy - 1.0 + (frac_hour + 0.5) / 24.0) / year_len - 0.5
    # Position in days of each hour relative to noon of the first local day (for daily signals).
    day_pos = (day - day[0]) + (frac_hour + 0.5 - 12.0) / 24.0
    return {"hour": hour, "weekday": weekday, "month_pos": month_pos, "day": day - day[0],
            "day_pos": day_pos}


def _monthly_log(monthly: tuple[float, ...], month_pos: np.ndarray) -> np.ndarray:
    """Periodic linear interpolation of log monthly means at fractional month positions."""
    logs = np.log(np.asarray(monthly, dtype=np.float64))
    xp = np.arange(-1, 13, dtype=np.float64)
    fp = np.concatenate([logs[-1:], logs, logs[:1]])
    return np.interp(month_pos, xp, fp)


# ---------------------------------------------------------------------------------------------
# Random processes
# ---------------------------------------------------------------------------------------------


def _rng(seed: int, key: str, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(key.encode("utf-8")), stream])


def _ar1(innov: np.ndarray, phi: np.ndarray | float, sigma: np.ndarray | float, block: int = 32) -> np.ndarray:
    """Stationary AR(1) along axis 0 with marginal sd ``sigma``, driven by N(0, 1) ``innov``.

    x[0] = σ·ε[0];  x[t] = φ·x[t-1] + σ·√(1-φ²)·ε[t].  Solved ``block`` steps at a time:
    inside a block x[b+k] = φ^k · Σ_{j≤k} φ^-j · e[b+j] + φ^(k+1) · x[b-1], a cumulative sum, so the
    Python loop runs n/block times instead of n.
    """
    phi = np.broadcast_to(np.asarray(phi, dtype=np.float64), innov.shape[1:])
    sigma = np.broadcast_to(np.asarray(sigma, dtype=np.float64), innov.shape[1:])
    if np.any((phi <= 0.0) | (phi >= 1.0)):
        raise ValueError("AR(1) coefficient must be in (0, 1)")
    e = innov * (sigma * np.sqrt(1.0 - phi**2))
    e[0] = sigma * innov[0]
    k = np.arange(block, dtype=np.float64).reshape((block,) + (1,) * (innov.ndim - 1))
    pw, ipw = phi**k, phi ** (-k)
    out = np.empty_like(e)
    prev = np.zeros(innov.shape[1:])
    for b in range(0, e.shape[0], block):
        seg = e[b:b + block]
        m = seg.shape[0]
        x = np.cumsum(seg * ipw[:m], axis=0) * pw[:m] + pw[:m] * (phi * prev)
        out[b:b + m] = x
        prev = x[-1]
    return out


def _city_values(seed: int, city: dict, members: list[dict], cal: dict, n: int) -> dict[str, np.ndarray]:
    """Values (n, 4) in PARAMETER_ORDER for every station of one city (NaN where not measured)."""
    cid = city["id"]
    clim = _CLIMATOLOGY[cid]
    hour, month_pos = cal["hour"], cal["month_pos"]
    n_days = int(cal["day"][-1]) + 1
    groups = ("pm", "no2", "o3")

    # City weather: shared stagnation index W and per-group daily AR(1), interpolated to the hour.
    rng = _rng(seed, cid, 0)
    daily_innov = rng.standard_normal((n_days, 4))
    daily = _ar1(daily_innov, _PHI_DAY, 1.0)
    grid = np.arange(n_days, dtype=np.float64)
    w = np.interp(cal["day_pos"], grid, daily[:, 0])
    city_hour = _ar1(rng.standard_normal((n, 3)), _PHI_CITY_HOUR,
                     np.array([_SIGMA_CITY_HOUR[g] for g in groups]))
    anomaly, variance = {}, {}
    for j, g in enumerate(groups):
        a, b = _WEATHER[g]
        own = np.interp(cal["day_pos"], grid, daily[:, j + 1])
        anomaly[g] = a * w + b * own + city_hour[:, j]
        variance[g] = a**2 + b**2 + _SIGMA_CITY_HOUR[g] ** 2 + _SIGMA_STATION**2 + _SIGMA_WHITE**2

    # Seasonal level and the season index s in [0, 1] (0 = cleanest month, 1 = dirtiest) that sets
    # the strength of the PM/NO2 diurnal cycle and the wet-season PM10/PM2.5 ratio.
    log_pm = _monthly_log(clim["pm25"], month_pos)
    lo, hi = np.log(min(clim["pm25"])), np.log(max(clim["pm25"]))
    season = np.clip((log_pm - lo) / (hi - lo), 0.0, 1.0)
    level = {"pm": log_pm, "no2": _monthly_log(clim["no2"], month_pos), "o3": _monthly_log(clim["o3"], month_pos)}

    amp = _AMP_LOW + _AMP_SPAN * season
    diurnal = {
        "pm": _scaled_diurnal(_DIURNAL["pm"], amp, hour),
        "no2": _scaled_diurnal(_DIURNAL["no2"], amp, hour),
        "o3": np.log(_DIURNAL["o3"] / _DIURNAL["o3"].mean())[hour],
    }
    weekly = _weekly_log(city["country"], cal["weekday"])

    ratio_log = (np.log(_PM10_RATIO[cid]) + _PM10_RATIO_WET * (0.5 - season)
                 + _daytime_bump(hour) - 0.5 * _SIGMA_RATIO**2)

    out: dict[str, np.ndarray] = {}
    for st in members:
        srng = _rng(seed, st["id"], 1)
        offset = _SIGMA_OFFSET * srng.standard_normal(3)
        st_noise = _ar1(srng.standard_normal((n, 3)), _PHI_STATION, _SIGMA_STATION)
        white = _SIGMA_WHITE * srng.standard_normal((n, 3))
        ratio_noise = _ar1(srng.standard_normal((n, 1)), _PHI_RATIO, _SIGMA_RATIO)[:, 0]
        site = {"pm": np.log(st["pm_factor"]), "no2": np.log(_SETTING[st["setting"]]["no2"]),
                "o3": np.log(_SETTING[st["setting"]]["o3"])}
        logs = {}
        for j, g in enumerate(groups):
            logs[g] = (level[g] + site[g] + offset[j] + anomaly[g] + st_noise[:, j] + white[:, j]
                       + diurnal[g] + weekly[g] - 0.5 * variance[g])
        pm25 = np.exp(logs["pm"])
        vals = np.full((n, 4), np.nan)
        vals[:, 0] = pm25
        vals[:, 1] = pm25 * np.exp(ratio_log + ratio_noise)
        vals[:, 2] = np.exp(logs["no2"])
        vals[:, 3] = np.exp(logs["o3"])
        for k, p in enumerate(PARAMETER_ORDER):
            if p not in st["parameters"]:
                vals[:, k] = np.nan
        out[st["id"]] = np.round(vals, 1)
    return out


def _scaled_diurnal(profile: np.ndarray, amp: np.ndarray, hour: np.ndarray) -> np.ndarray:
    """log of ``profile ** amp`` at each hour, renormalised to a daily mean of 1 for that amp."""
    logp = np.log(profile / profile.mean())
    norm = np.log(np.exp(amp[:, None] * logp[None, :]).mean(axis=1))
    return amp * logp[hour] - norm


def _daytime_bump(hour: np.ndarray) -> np.ndarray:
    day = (hour >= 8) & (hour < 18)
    frac = 10.0 / 24.0
    return _PM10_RATIO_DAY * (day - frac)


def _weekly_log(country: str, weekday: np.ndarray) -> dict[str, np.ndarray]:
    table = _WEEKLY.get(country, _WEEKLY["default"])
    out = {}
    for g in ("pm", "no2", "o3"):
        f = np.ones(8)
        for d, factors in table.items():
            f[d] = factors[g]
        f[1:] /= f[1:].mean()
        out[g] = np.log(f)[weekday]
    return out


# ---------------------------------------------------------------------------------------------
# Gaps, outages and the faulty sensor
# ---------------------------------------------------------------------------------------------


def _series_gaps(seed: int, station_id: str, n: int) -> np.ndarray:
    """(n, 4) presence mask: independent missing hours plus short runs of missing hours."""
    rng = _rng(seed, station_id, 2)
    ok = rng.random((n, 4)) >= _P_MISSING_HOUR
    expected = _GAPS_PER_DAY * n / 24.0
    counts = rng.poisson(expected, size=4)
    for k in range(4):
        for _ in range(int(counts[k])):
            length = int(rng.integers(*_GAP_HOURS))
            start = int(rng.integers(0, max(1, n - length)))
            ok[start:start + length, k] = False
    return ok


def _inject_faults_and_outages(seed, stations, values, present, times_us) -> tuple[list[dict], list[dict]]:
    """Make one sensor faulty and some stations go dark, in place; return (faults, outages)."""
    n = len(times_us)
    rng = np.random.default_rng([seed, 0x0FA017, 3])
    pm25 = PARAMETER_ORDER.index("pm25")

    # The faulty sensor: PM2.5 at a Department of Environment CAMS in Dhaka (not the US Embassy).
    candidates = [s for s in stations if s["city"] == "dhaka" and "pm25" in s["parameters"]
                  and "embassy" not in s["id"]]
    faulty = candidates[int(rng.integers(len(candidates)))]
    fid = faulty["id"]
    stuck_len = min(int(rng.integers(*_STUCK_HOURS)), max(3, n // 3))
    lo = max(1, n // 8)
    hi = max(lo + 1, n - stuck_len - max(1, n // 10))
    stuck_start = int(rng.integers(lo, hi))
    stuck_end = stuck_start + stuck_len - 1
    # A frozen reading: the last good value repeats.
    prev = values[fid][stuck_start - 1, pm25]
    if not np.isfinite(prev):
        prev = values[fid][stuck_start, pm25]
    values[fid][stuck_start:stuck_end + 1, pm25] = prev
    # Two isolated, implausible spikes away from the stuck period.
    allowed = np.ones(n, dtype=bool)
    allowed[max(0, stuck_start - 3):stuck_end + 4] = False
    allowed[[0, n - 1]] = False
    choices = np.flatnonzero(allowed)
    spikes = np.sort(rng.choice(choices, size=min(2, len(choices)), replace=False))
    spike_vals = np.round(rng.uniform(*_SPIKE_RANGE, size=len(spikes)), 1)
    values[fid][spikes, pm25] = spike_vals

    # Whole-station outages (power or logger failures), at other stations.
    n_outages = 2 if n >= 14 * 24 else (1 if n >= 3 * 24 else 0)
    others = [s for s in stations if s["id"] != fid]
    outages = []
    for _ in range(n_outages):
        st = others[int(rng.integers(len(others)))]
        length = min(int(rng.integers(*_OUTAGE_HOURS)), max(2, n // 4))
        start = int(rng.integers(0, n - length + 1))
        present[st["id"]][start:start + length, :] = False
        outages.append({"station": st["id"], "start": _from_us(int(times_us[start])),
                        "end": _from_us(int(times_us[start + length - 1]))})
    outages.sort(key=lambda o: (o["start"], o["station"]))

    # Fault hours are always reported: a fault is a wrong value, not a missing one.
    present[fid][stuck_start:stuck_end + 1, pm25] = True
    present[fid][spikes, pm25] = True

    faults = [{"station": fid, "parameter": "pm25", "kind": "stuck",
               "start": _from_us(int(times_us[stuck_start])), "end": _from_us(int(times_us[stuck_end]))}]
    for i in spikes:
        t = _from_us(int(times_us[i]))
        faults.append({"station": fid, "parameter": "pm25", "kind": "spike", "start": t, "end": t})
    faults.sort(key=lambda f: f["start"])
    return faults, outages


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------


def _build_table(stations, values, present, times_us) -> pa.Table:
    station_codes, param_codes, time_parts, value_parts = [], [], [], []
    for si, st in enumerate(stations):
        vals, ok = values[st["id"]], present[st["id"]]
        for k, p in enumerate(PARAMETER_ORDER):
            if p not in st["parameters"]:
                continue
            keep = ok[:, k]
            m = int(keep.sum())
            station_codes.append(np.full(m, si, dtype=np.int32))
            param_codes.append(np.full(m, k, dtype=np.int32))
            time_parts.append(times_us[keep])
            value_parts.append(vals[keep, k])
    station_idx = np.concatenate(station_codes)
    param_idx = np.concatenate(param_codes)
    station_ids = pa.array([s["id"] for s in stations], pa.string())
    param_names = pa.array(list(PARAMETER_ORDER), pa.string())
    units = pa.array([PARAMETERS[p].unit for p in PARAMETER_ORDER], pa.string())

    def decode(codes: np.ndarray, dictionary: pa.Array) -> pa.Array:
        return pa.DictionaryArray.from_arrays(pa.array(codes), dictionary).dictionary_decode()

    columns = [
        decode(station_idx, station_ids),
        decode(param_idx, param_names),
        pa.array(np.concatenate(time_parts), type=pa.timestamp("us", tz="UTC")),
        pa.array(np.concatenate(value_parts), type=pa.float64()),
        decode(param_idx, units),
    ]
    return pa.Table.from_arrays(columns, schema=OBSERVATION_SCHEMA)
