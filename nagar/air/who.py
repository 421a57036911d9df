"""WHO Global Air Quality Guidelines (2021): guideline levels, interim targets and exceedances.

The 2021 guidelines recommend air quality guideline (AQG) levels and up to four interim targets (IT-1 to
IT-4, from the most lenient) per pollutant and averaging time (Table 0.1 of the executive summary):

=========  ================  =====  =====  =====  =====  =====
pollutant  averaging time     IT-1   IT-2   IT-3   IT-4   AQG
=========  ================  =====  =====  =====  =====  =====
PM2.5      annual [µg/m³]       35     25     15     10      5
PM2.5      24-hour [µg/m³]*     75     50   37.5     25     15
PM10       annual [µg/m³]       70     50     30     20     15
PM10       24-hour [µg/m³]*    150    100     75     50     45
O3         peak season**       100     70      -      -     60
O3         8-hour [µg/m³]*     160    120      -      -    100
NO2        annual [µg/m³]       40     30     20      -     10
NO2        24-hour [µg/m³]*    120     50      -      -     25
SO2        24-hour [µg/m³]*    125     50      -      -     40
CO         24-hour [mg/m³]*      7      -      -      -      4
=========  ================  =====  =====  =====  =====  =====

\\* 99th percentile of the daily values of a year, i.e. 3-4 exceedance days per year are compatible with
the level. \\*\\* Average of the daily maximum 8-hour mean O3 concentration in the six consecutive months
with the highest six-month running-average O3 concentration.

So a short-term level is *met* in a year when the 99th percentile of that year's daily values is at or
below it; :func:`exceedances` counts the days above the level and reports that percentile and the number
of days the percentile form tolerates (``floor(0.01 x valid days)``, 3 for a full year).

All functions are pure and work on arrays of daily values (daily means; daily maximum 8-hour means for
O3) with an optional array of dates for grouping into years or months.

References
----------
.. [1] World Health Organization, "WHO global air quality guidelines: particulate matter (PM2.5 and
   PM10), ozone, nitrogen dioxide, sulfur dioxide and carbon monoxide", Geneva, 2021,
   ISBN 978-92-4-003422-8 (electronic), Executive summary, Table 0.1 "Recommended AQG levels and interim
   targets", https://apps.who.int/iris/handle/10665/345329.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from nagar.core.errors import InvalidInput
from nagar.core.units import MG_M3, UG_M3, convert, normalise_parameter, normalise_unit

__all__ = ["WHO_2021", "GuidelineLevels", "guideline_level", "exceedances", "ExceedanceResult",
           "o3_peak_season", "LEVELS"]

LEVELS = ("it1", "it2", "it3", "it4", "aqg")


@dataclass(frozen=True)
class GuidelineLevels:
    """AQG level and interim targets of one pollutant and averaging time.

    Attributes
    ----------
    parameter : str
    averaging : str
        ``"annual"``, ``"24h"``, ``"8h"`` or ``"peak_season"``.
    unit : str
        µg/m³ (CO: mg/m³).
    statistic : str
        ``"mean"`` for long-term levels, ``"p99"`` for short-term ones (99th percentile of daily values),
        ``"peak_season_mean"`` for O3.
    aqg, it1, it2, it3, it4 : float or None
        ``None`` where the guideline sets no such target.
    """

    parameter: str
    averaging: str
    unit: str
    statistic: str
    aqg: float
    it1: float | None = None
    it2: float | None = None
    it3: float | None = None
    it4: float | None = None

    def level(self, name: str) -> float:
        if name not in LEVELS:
            raise InvalidInput(f"level must be one of {', '.join(LEVELS)}, got {name!r}", field="level")
        v = getattr(self, name)
        if v is None:
            raise InvalidInput(
                f"WHO 2021 sets no {name.upper()} for {self.parameter} {self.averaging}", field="level")
        return v


def _g(p, a, unit, stat, aqg, *its):
    its = list(its) + [None] * (4 - len(its))
    return GuidelineLevels(p, a, unit, stat, aqg, *its)


WHO_2021: dict[tuple[str, str], GuidelineLevels] = {
    (g.parameter, g.averaging): g
    for g in [
        _g("pm25", "annual", UG_M3, "mean", 5, 35, 25, 15, 10),
        _g("pm25", "24h", UG_M3, "p99", 15, 75, 50, 37.5, 25),
        _g("pm10", "annual", UG_M3, "mean", 15, 70, 50, 30, 20),
        _g("pm10", "24h", UG_M3, "p99", 45, 150, 100, 75, 50),
        _g("o3", "peak_season", UG_M3, "peak_season_mean", 60, 100, 70),
        _g("o3", "8h", UG_M3, "p99", 100, 160, 120),
        _g("no2", "annual", UG_M3, "mean", 10, 40, 30, 20),
        _g("no2", "24h", UG_M3, "p99", 25, 120, 50),
        _g("so2", "24h", UG_M3, "p99", 40, 125, 50),
        _g("co", "24h", MG_M3, "p99", 4, 7),
    ]
}
"""WHO 2021 Table 0.1, keyed by (parameter, averaging)."""

_AVG_ALIASES = {"year": "annual", "yearly": "annual", "1y": "annual", "day": "24h", "daily": "24h",
                "24-hour": "24h", "8-hour": "8h", "peak": "peak_season", "peak-season": "peak_season"}


def _entry(parameter: str, averaging: str) -> GuidelineLevels:
    p = normalise_parameter(parameter)
    a = _AVG_ALIASES.get(str(averaging).lower(), str(averaging).lower())
    if (p, a) not in WHO_2021:
        known = ", ".join(f"{k[0]} {k[1]}" for k in WHO_2021)
        raise InvalidInput(f"WHO 2021 has no guideline for {parameter!r} {averaging!r}; known: {known}",
                           field="averaging" if p else "parameter")
    return WHO_2021[(p, a)]


def guideline_level(parameter: str, averaging: str, level: str = "aqg") -> float:
    """The WHO 2021 level [µg/m³, CO mg/m³] for a pollutant, averaging time and level.

    Parameters
    ----------
    parameter : str
        ``"pm25"``, ``"pm10"``, ``"o3"``, ``"no2"``, ``"so2"`` or ``"co"``.
    averaging : str
        ``"annual"``, ``"24h"``, ``"8h"`` (O3) or ``"peak_season"`` (O3).
    level : {"aqg", "it1", "it2", "it3", "it4"}

    Raises
    ------
    InvalidInput
        Unknown combination, or an interim target the guideline does not set (e.g. O3 IT-3).

    Examples
    --------
    >>> guideline_level("pm25", "24h")
    15
    >>> guideline_level("pm25", "24h", "it3")
    37.5
    """
    return _entry(parameter, averaging).level(level)


@dataclass(frozen=True)
class ExceedanceResult:
    """Per-period comparison of daily values with a WHO level.

    Attributes
    ----------
    periods : numpy.ndarray
        Period labels (``datetime64[Y]`` or ``[M]``), or ``[0]`` when no dates were given.
    level : float
        The level compared with [``unit``].
    unit : str
    valid_days : numpy.ndarray of int
        Days with a value in each period.
    exceedance_days : numpy.ndarray of int
        Days whose value is above the level (short-term levels).
    allowed_days : numpy.ndarray of int
        ``floor(0.01 * valid_days)``: days above the level that a 99th-percentile form tolerates (3 for a
        full year; WHO: "3-4 exceedance days per year"). Zero for long-term levels.
    statistic : numpy.ndarray of float
        99th percentile of the daily values (short-term) or their mean (annual) [``unit``].
    meets : numpy.ndarray of bool
        ``statistic <= level``.
    """

    periods: np.ndarray
    level: float
    unit: str
    valid_days: np.ndarray
    exceedance_days: np.ndarray
    allowed_days: np.ndarray
    statistic: np.ndarray
    meets: np.ndarray


def exceedances(values: Any, parameter: str, averaging: str = "24h", level: str = "aqg", *,
                times: Any = None, period: str = "year", unit: str | None = None) -> ExceedanceResult:
    """Compare daily values with a WHO 2021 guideline level, per year (or month).

    Parameters
    ----------
    values : array-like or polars.Series
        One value per day: the daily mean (24-hour levels, and annual levels, whose annual mean is taken
        here), or the daily maximum 8-hour mean for O3 ``"8h"``. NaN marks a missing day.
    parameter : str
        ``"pm25"``, ``"pm10"``, ``"o3"``, ``"no2"``, ``"so2"`` or ``"co"``.
    averaging : {"24h", "8h", "annual"}
        Which guideline to compare with (use :func:`o3_peak_season` for the O3 peak-season level).
    level : {"aqg", "it1", "it2", "it3", "it4"}
    times : array-like of dates, optional
        The day of each value (anything ``numpy.datetime64`` accepts). Without it all values form one
        period.
    period : {"year", "month"}
        Grouping when ``times`` is given.
    unit : str, optional
        Unit of ``values`` when it is not the WHO unit (µg/m³; CO mg/m³); gases in ppb/ppm are converted
        at 25 °C and 1 atm (:mod:`nagar.core.units`).

    Returns
    -------
    ExceedanceResult

    Notes
    -----
    An exceedance day is a day whose value is strictly above the level. The short-term levels are 99th
    percentiles, so a year with 3 (at 365 days) exceedance days may still meet the level; ``meets``
    compares the 99th percentile (``numpy.percentile``, linear interpolation) with the level.

    References
    ----------
    .. [1] WHO global air quality guidelines, 2021, ISBN 978-92-4-003422-8, Table 0.1 and its notes.
    """
    g = _entry(parameter, averaging)
    if g.averaging == "peak_season":
        raise InvalidInput("use o3_peak_season() for the O3 peak-season level", field="averaging")
    lvl = float(g.level(level))
    if type(values).__module__.startswith("polars"):
        v = values.cast(float).to_numpy().astype(float, copy=False)
    else:
        v = np.asarray(values, dtype=float).reshape(-1)
    if unit is not None:
        u = normalise_unit(unit)
        if u is None:
            raise InvalidInput(f"unknown unit {unit!r}", field="unit")
        if u != g.unit:
            v = convert(v, g.parameter, u, g.unit)
    if times is None:
        codes = np.zeros(len(v), dtype=np.int64)
        periods = np.array([0])
    else:
        if period not in ("year", "month"):
            raise InvalidInput(f"period must be 'year' or 'month', got {period!r}", field="period")
        t = times.to_numpy() if type(times).__module__.startswith("polars") else np.asarray(times)
        t = t.astype("datetime64[D]").reshape(-1)
        if len(t) != len(v):
            raise InvalidInput(f"times has {len(t)} entries for {len(v)} values", field="times")
        p = t.astype("datetime64[Y]" if period == "year" else "datetime64[M]")
        periods, codes = np.unique(p, return_inverse=True)
    n = len(periods)
    ok = ~np.isnan(v)
    valid_days = np.bincount(codes[ok], minlength=n)
    exceed = np.bincount(codes[ok & (v > lvl)], minlength=n)
    stat = np.full(n, np.nan)
    order = np.lexsort((v, codes))  # by period, then value (NaN last within a period)
    bounds = np.searchsorted(codes[order], np.arange(n + 1))
    vs = v[order]
    for i in range(n):  # one iteration per period, not per value
        seg = vs[bounds[i]:bounds[i] + valid_days[i]]
        if len(seg):
            stat[i] = seg.mean() if g.statistic == "mean" else np.percentile(seg, 99)
    if g.statistic == "mean":
        allowed = np.zeros(n, dtype=np.int64)
    else:
        allowed = np.floor(0.01 * valid_days).astype(np.int64)
    return ExceedanceResult(periods=periods, level=lvl, unit=g.unit, valid_days=valid_days,
                            exceedance_days=exceed, allowed_days=allowed, statistic=stat,
                            meets=stat <= lvl)


def o3_peak_season(daily_max_8h: Any, times: Any, *, unit: str | None = None,
                   min_days_per_month: int = 1) -> float:
    """WHO peak-season O3: mean of the daily maximum 8-hour means over the best six consecutive months.

    Parameters
    ----------
    daily_max_8h : array-like
        Daily maximum 8-hour mean O3 [µg/m³, or ``unit``].
    times : array-like of dates
        The day of each value.
    unit : str, optional
        Unit of the values if not µg/m³ (ppb is converted at 25 °C, 1 atm).
    min_days_per_month : int
        Months with fewer valid days are treated as missing; a six-month window needs all six months.

    Returns
    -------
    float
        The highest six-consecutive-month running average of the monthly means of the daily values
        [µg/m³]; NaN if no complete window exists. Compare with ``guideline_level("o3", "peak_season")``.

    Notes
    -----
    Windows run over calendar months in the data and may cross a year boundary (southern hemisphere
    summers). Each month weighs equally in the six-month average.
    """
    v = np.asarray(daily_max_8h, dtype=float).reshape(-1)
    if unit is not None:
        u = normalise_unit(unit)
        if u is None:
            raise InvalidInput(f"unknown unit {unit!r}", field="unit")
        v = convert(v, "o3", u, UG_M3)
    t = np.asarray(times).astype("datetime64[M]").reshape(-1)
    if len(t) != len(v):
        raise InvalidInput(f"times has {len(t)} entries for {len(v)} values", field="times")
    ok = ~np.isnan(v)
    if not ok.any():
        return float("nan")
    first = t[ok].min()
    idx = (t - first).astype(np.int64)
    m = int(idx[ok].max()) + 1
    sums = np.bincount(idx[ok], weights=v[ok], minlength=m)
    cnt = np.bincount(idx[ok], minlength=m)
    with np.errstate(invalid="ignore", divide="ignore"):
        monthly = np.where(cnt >= min_days_per_month, sums / cnt, np.nan)
    if m < 6:
        return float("nan")
    win = np.lib.stride_tricks.sliding_window_view(monthly, 6)
    means = win.mean(axis=1)  # NaN where a month is missing
    return float(np.nanmax(means)) if np.isfinite(means).any() else float("nan")
