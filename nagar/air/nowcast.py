"""US EPA NowCast for particulate matter: an hourly "current" value on the 24-hour AQI scale.

The PM AQI is defined on 24-hour means, which are known only at the end of a day. The NowCast (EPA's
"Reff" method, 2013) is a weighted average of the last 12 hourly concentrations that leans on the most
recent hours when concentrations change quickly and tends to the plain 12-hour mean when they are steady:

1. ``c_max``, ``c_min``: highest and lowest of the valid hours among the last 12;
2. weight factor ``w = c_min / c_max`` (= 1 - range / c_max), raised to at least 0.5 for PM
   (0.5 makes the NowCast close to a 3-hour average) and at most 1;
3. ``NowCast = sum(w**i * c_i) / sum(w**i)`` over the valid hours, ``i`` = hours ago (0 = most recent);
4. truncated like a 24-hour PM value: PM2.5 to 0.1 µg/m³, PM10 to 1 µg/m³.

Missing hours are left out of both sums (and of ``c_min``/``c_max``); a NowCast is reported only when at
least 2 of the 3 most recent hours are valid. Negative hourly values (instrument noise around zero) are
set to 0, as the AirMonitor package of Mazama Science does; AirNow's own note on negative hours could not
be consulted.

Convention: hours run along ``axis`` in chronological order, so the most recent hour is the last.

References
----------
.. [1] U.S. EPA, "Technical Assistance Document for the Reporting of Daily Air Quality - the Air Quality
   Index (AQI)", EPA-454/B-24-002, May 2024, Section IV "How the NowCast is calculated".
.. [2] U.S. EPA / AirNow, "PM NowCast" fact sheet (Calculating the NowCast, steps 1-8), EPA, 2014,
   https://www.epa.gov/sites/default/files/2018-01/documents/nowcastfactsheet.pdf.
.. [3] AirNow, "How is the NowCast algorithm used to report current air quality?",
   https://www.airnow.gov/faqs/how-nowcast-algorithm-used-report/.
.. [4] M. Hylton, "The NowCast for PM2.5 and PM10", AirNow-Tech forum, 15 July 2016,
   https://forum.airnowtech.org/t/the-nowcast-for-pm2-5-and-pm10/172 (2-of-3 most recent hours rule).
.. [5] AirNow, "Computing the NowCast" (training slides): 12-hour example 50 80 75 90 82 53 64 74 21 10
   16 13 µg/m³ (oldest first) -> w = 0.5 -> NowCast 17.4 µg/m³.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from nagar.core.errors import InvalidInput
from nagar.air.standards import Standard, _restore, load_standard

__all__ = ["nowcast", "nowcast_series", "nowcast_aqi", "PM_DECIMALS"]

PM_DECIMALS = {"pm25": 1, "pm10": 0}
"""Truncation digits of the NowCast result (AirNow: PM2.5 0.1 µg/m³, PM10 1 µg/m³)."""

_CHUNK = 400_000  # windows per block in nowcast_series (bounds memory to ~ 12 x 8 bytes x this)


def _check(parameter: str, hours: int, min_weight: float | None, decimals: int | None) -> int:
    if decimals is None:
        if parameter not in PM_DECIMALS:
            raise InvalidInput(f"NowCast is defined here for pm25 and pm10, got {parameter!r}",
                               field="parameter")
        decimals = PM_DECIMALS[parameter]
    if not isinstance(hours, int) or hours < 3:
        raise InvalidInput(f"hours must be an integer >= 3, got {hours!r}", field="hours")
    if min_weight is not None and not 0.0 <= min_weight <= 1.0:
        raise InvalidInput(f"min_weight must be in [0, 1], got {min_weight!r}", field="min_weight")
    return decimals


def _windows_nowcast(win: np.ndarray, min_weight: float | None, decimals: int) -> np.ndarray:
    """NowCast of each row of ``win`` (n, hours); the last column is the most recent hour."""
    w_in = np.where(win < 0, 0.0, win)
    valid = ~np.isnan(w_in)
    ok = valid[:, -3:].sum(axis=1) >= 2
    cmax = np.fmax.reduce(w_in, axis=1)
    cmin = np.fmin.reduce(w_in, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(cmax > 0, cmin / cmax, 1.0)
    np.clip(w, 0.0 if min_weight is None else min_weight, 1.0, out=w)
    hours = win.shape[1]
    ago = np.arange(hours - 1, -1, -1, dtype=float)  # column j is (hours-1-j) hours ago
    p = w[:, None] ** ago[None, :]
    p[~valid] = 0.0
    num = (p * np.where(valid, w_in, 0.0)).sum(axis=1)
    den = p.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        nc = num / den
    nc[~ok] = np.nan
    # truncate like a 24-hour PM value (tolerant of binary representation, e.g. 17.4 stored as 17.39999...)
    scale = float(10**decimals)
    x = nc * scale
    x += x * 1e-12 + 1e-12
    return np.floor(x) / scale


def _prepare(hourly: Any, axis: int) -> tuple[np.ndarray, tuple, str]:
    mod = type(hourly).__module__
    if mod.startswith("polars"):
        arr = hourly.cast(float).to_numpy().astype(float, copy=False)
        return arr, ("polars", hourly.name), hourly.name
    arr = np.asarray(hourly, dtype=float)
    if arr.ndim == 0:
        raise InvalidInput("hourly values must be a sequence of hours", field="hourly")
    return np.moveaxis(arr, axis, -1), ("numpy",), ""


def nowcast(hourly: Any, parameter: str = "pm25", *, axis: int = -1, hours: int = 12,
            min_weight: float | None = 0.5, decimals: int | None = None) -> Any:
    """NowCast of the most recent hour from the last ``hours`` hourly concentrations.

    Parameters
    ----------
    hourly : array-like or polars.Series
        Hourly mean concentrations [µg/m³], oldest first along ``axis`` (e.g. stations x hours). Only the
        last ``hours`` entries are used; fewer are allowed. NaN marks a missing hour.
    parameter : {"pm25", "pm10"}
        Sets the truncation of the result (0.1 and 1 µg/m³).
    axis : int
        Time axis of ``hourly``.
    hours : int
        Window length (12 for PM).
    min_weight : float or None
        Lower bound of the weight factor (0.5 for PM; ``None`` for none).
    decimals : int, optional
        Override the truncation digits.

    Returns
    -------
    float or numpy.ndarray
        NowCast [µg/m³]; one value per series (the time axis is removed). NaN when fewer than 2 of the 3
        most recent hours are valid.

    Examples
    --------
    AirNow's worked example (oldest hour first):

    >>> nowcast([50, 80, 75, 90, 82, 53, 64, 74, 21, 10, 16, 13])
    17.4
    """
    decimals = _check(parameter, hours, min_weight, decimals)
    arr, kind, _ = _prepare(hourly, axis)
    lead = arr.shape[:-1]
    win = arr[..., -hours:].reshape(-1, min(hours, arr.shape[-1]))
    out = _windows_nowcast(win, min_weight, decimals).reshape(lead)
    if out.ndim == 0:
        return float(out)
    return out


def nowcast_series(hourly: Any, parameter: str = "pm25", *, axis: int = -1, hours: int = 12,
                   min_weight: float | None = 0.5, decimals: int | None = None) -> Any:
    """NowCast at every hour of a time series, each from its own trailing window.

    Parameters
    ----------
    hourly : array-like or polars.Series
        Consecutive hourly concentrations [µg/m³], oldest first along ``axis``; other axes (stations)
        are independent. Missing hours must be present as NaN so that positions are hours.
    parameter, axis, hours, min_weight, decimals
        As in :func:`nowcast`.

    Returns
    -------
    Same shape and kind as ``hourly``: the NowCast ending at each hour. The first hours use the shorter
    history available; the 2-of-3-most-recent-hours rule still applies.
    """
    decimals = _check(parameter, hours, min_weight, decimals)
    arr, kind, name = _prepare(hourly, axis)
    shape = arr.shape
    flat = arr.reshape(-1, shape[-1])
    n_series, n_hours = flat.shape
    padded = np.concatenate([np.full((n_series, hours - 1), np.nan), flat], axis=1)
    win = sliding_window_view(padded, hours, axis=1)  # (series, hours_total, window) view
    out = np.empty((n_series, n_hours))
    block_t = max(1, _CHUNK // max(1, n_series))
    block_s = max(1, _CHUNK // max(1, min(n_hours, block_t)))
    for s0 in range(0, n_series, block_s):
        for t0 in range(0, n_hours, block_t):
            blk = win[s0:s0 + block_s, t0:t0 + block_t]
            out[s0:s0 + block_s, t0:t0 + block_t] = _windows_nowcast(
                blk.reshape(-1, hours), min_weight, decimals).reshape(blk.shape[:2])
    out = out.reshape(shape)
    if kind[0] == "polars":
        return _restore(out, kind, name=name or "nowcast")
    return np.moveaxis(out, -1, axis)


def nowcast_aqi(hourly: Any, parameter: str = "pm25", standard: str | Standard = "us-epa-2024", *,
                axis: int = -1) -> Any:
    """NowCast turned into the standard's 24-hour sub-index (AirNow's "current AQI" for PM).

    Parameters
    ----------
    hourly : array-like
        As in :func:`nowcast` [µg/m³].
    parameter : {"pm25", "pm10"}
    standard : str or Standard
        A standard whose ``<parameter>_24h`` row-set has ``hourly: "nowcast"``.

    Returns
    -------
    float or numpy.ndarray
        Sub-index [-] of the most recent hour.
    """
    from nagar.air.aqi import sub_index

    std = load_standard(standard)
    pol = std.pollutant(parameter)
    if pol.hourly != "nowcast":
        raise InvalidInput(f"{std.id} does not use the NowCast for {pol.key} (hourly={pol.hourly!r})",
                           field="standard")
    return sub_index(nowcast(hourly, parameter, axis=axis), pol.key, std)
