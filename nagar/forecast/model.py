"""Next-24-hour PM2.5 forecasts per station: features, the model, persistence baselines and skill.

Pure functions over one station's hourly series (a complete hourly grid, NaN for missing hours); no
I/O. :mod:`nagar.forecast.service` reads the store and writes the results.

Model
-----
*Direct multi-horizon, one model per station with the horizon as a feature*: each training row is an
issue hour ``i`` and a lead time ``h`` in 1..24 with the target ``log1p(y[i + h])``. Features, all
known at the issue hour: the horizon; the target hour's local hour of day and day of week (the city's
time zone); the issue hour's local hour; lags ``y[i], y[i-1], y[i-2], y[i-3], y[i-5], y[i-11],
y[i-23]``; the trailing 24-h mean; the value at the target's hour one day earlier, ``y[i + h - 24]``
(always at or before the issue hour); and ``y[i] − y[i-3]`` (the recent trend). Missing lags stay NaN
(the gradient-boosted trees route them natively). The regressor is scikit-learn's
HistGradientBoostingRegressor (LightGBM-style histogram gradient boosting [1]_ [2]_) fitted on the
log1p scale, which makes errors multiplicative, as PM concentrations are log-normal.

Skill
-----
Against two persistence forecasts: the value at the issue hour carried forward (``persistence``), and
the value at the same hour one day before the target (``yesterday``). Reported: mean absolute error
[µg/m³] per horizon band (1–6 h, 7–12 h, 13–24 h) and overall, and the category hit rate — how often
the forecast falls in the same AQI category as the observed hourly value, under the city's standard
(the hourly concentration read on the standard's PM2.5 table, as hourly AQI reports do with NowCast
concentrations [3]_). Skill is measured by rolling-origin evaluation [4]_: for each of the last
``folds`` periods of ``fold_days`` days, the model is trained only on rows whose *target* hour lies
before the period starts, and evaluated on forecasts issued within it.

References
----------
.. [1] Ke, G. et al. (2017). LightGBM: A highly efficient gradient boosting decision tree. NeurIPS 30.
.. [2] Pedregosa, F. et al. (2011). Scikit-learn: Machine learning in Python. JMLR 12, 2825–2830;
   ``sklearn.ensemble.HistGradientBoostingRegressor`` (scikit-learn 1.9).
.. [3] US EPA (2024). Technical Assistance Document for the Reporting of Daily Air Quality – the Air
   Quality Index (AQI). EPA-454/B-24-002, Table 6 (PM2.5 breakpoints) and the NowCast.
.. [4] Tashman, L. J. (2000). Out-of-sample tests of forecasting accuracy: an analysis and review.
   International Journal of Forecasting 16(4), 437–450. doi:10.1016/S0169-2070(00)00065-0 —
   rolling-origin evaluation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

HORIZON = 24
LAGS = (0, 1, 2, 3, 5, 11, 23)
BANDS = ((1, 6), (7, 12), (13, 24))
FEATURES = ("horizon", "target_hour", "target_dow", "issue_hour", *(f"lag_{k}" for k in LAGS), "mean_24h",
            "same_hour_yesterday", "trend_3h")
MODEL_NAME = "hist-gradient-boosting/direct-horizon/v1"
MODEL_PARAMS = dict(max_iter=150, learning_rate=0.08, max_leaf_nodes=31, min_samples_leaf=40,
                    l2_regularization=1.0, random_state=0)


@dataclass
class Calendar:
    """Local hour (0-23) and weekday (0 = Monday) of each hour of the grid, in the city's time zone."""

    hour: np.ndarray
    dow: np.ndarray


def calendar(hours_us: np.ndarray, tz: str) -> Calendar:
    """Local hour and weekday for UTC hour stamps (µs since the epoch)."""
    import polars as pl

    s = pl.Series("t", np.asarray(hours_us, dtype=np.int64)).cast(pl.Datetime("us", "UTC")).dt.convert_time_zone(tz)
    return Calendar(hour=s.dt.hour().to_numpy().astype(np.int16), dow=(s.dt.weekday() - 1).to_numpy().astype(np.int16))


def _trailing_mean(y: np.ndarray, w: int = 24) -> np.ndarray:
    ok = np.isfinite(y)
    c = np.r_[0.0, np.cumsum(np.where(ok, y, 0.0))]
    n = np.r_[0, np.cumsum(ok)]
    idx = np.arange(len(y))
    lo = np.maximum(idx + 1 - w, 0)
    cnt = n[idx + 1] - n[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt >= w * 0.75, (c[idx + 1] - c[lo]) / np.maximum(cnt, 1), np.nan)


def design(y: np.ndarray, cal: Calendar, issue: np.ndarray, horizons=range(1, HORIZON + 1)
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Feature matrix for issue indices ``issue`` × ``horizons``.

    Returns ``(X, target_index, horizon)``; rows are issue-major. Target indices may lie beyond the
    series (a forecast into the future): ``cal`` must cover them; lags before the series start are NaN.
    """
    y = np.asarray(y, dtype=float)
    n = len(y)
    issue = np.asarray(issue, dtype=np.int64)
    hz = np.asarray(list(horizons), dtype=np.int64)
    I = np.repeat(issue, len(hz))
    Hh = np.tile(hz, len(issue))
    T = I + Hh

    def at(idx):
        ok = (idx >= 0) & (idx < n)
        out = np.full(idx.shape, np.nan)
        out[ok] = y[idx[ok]]
        return out

    mean24 = _trailing_mean(y)
    if len(cal.hour) <= T.max(initial=0):
        raise ValueError("the calendar must cover every target hour (extend it past the series end)")
    cols = [Hh.astype(float), cal.hour[T].astype(float), cal.dow[T].astype(float), cal.hour[I].astype(float)]
    cols += [at(I - k) for k in LAGS]
    cols += [mean24[I], at(T - 24), at(I) - at(I - 3)]
    X = np.column_stack(cols)
    return X, T, Hh


def _default_fit(X: np.ndarray, target: np.ndarray, target_index: np.ndarray):
    from sklearn.ensemble import HistGradientBoostingRegressor

    from threadpoolctl import threadpool_limits

    m = HistGradientBoostingRegressor(**MODEL_PARAMS)
    # one thread: on a shared 2-core machine OpenMP threads made a fit ~5x slower (measured 7.9 s vs 1.6 s)
    with threadpool_limits(1):
        m.fit(X, np.log1p(np.clip(target, 0, None)))
    return m


def predict(model, X: np.ndarray) -> np.ndarray:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return np.clip(np.expm1(model.predict(X)), 0, None)


FitFn = Callable[[np.ndarray, np.ndarray, np.ndarray], object]
"""fit(X, target values, target indices) -> an object with ``predict(X)`` on the log1p scale."""


def training_rows(y: np.ndarray, cal: Calendar, *, before: int, stride: int = 1
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training rows whose target index is < ``before`` (and observed), issued every ``stride`` hours
    from hour 23 on (so that every lag lies inside the series)."""
    issue = np.arange(23, max(23, before - 1), stride)
    if not len(issue):
        return np.zeros((0, len(FEATURES))), np.zeros(0), np.zeros(0, dtype=np.int64)
    X, T, _ = design(y, cal, issue)
    keep = (T < before)
    keep[keep] &= np.isfinite(y[T[keep]])
    return X[keep], y[T[keep]], T[keep]


def fit(y: np.ndarray, cal: Calendar, *, before: int | None = None, stride: int = 1, fit_fn: FitFn | None = None):
    """Fit on every target hour before ``before`` (default: the whole series)."""
    X, yt, T = training_rows(y, cal, before=len(y) if before is None else before, stride=stride)
    if len(yt) < 200:
        raise ValueError(f"too little history to train: {len(yt)} rows (needs 200, ~10 days of hours)")
    return (fit_fn or _default_fit)(X, yt, T)


# ---------------------------------------------------------------------------------------------
# skill
# ---------------------------------------------------------------------------------------------


def category_index(conc: np.ndarray, std) -> np.ndarray:
    """Category index (into ``std.categories``) of PM2.5 concentrations [µg/m³] read on the standard's
    PM2.5 table; -1 where missing."""
    from nagar.air.aqi import sub_index

    c = np.asarray(conc, dtype=float)
    out = np.full(c.shape, -1, dtype=np.int16)
    ok = np.isfinite(c)
    if ok.any():
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            aqi = np.asarray(sub_index(c[ok], "pm25", std), dtype=float)
        out[ok] = np.asarray(std.category_of(aqi), dtype=np.int16)
    return out


def skill(obs: np.ndarray, forecasts: dict[str, np.ndarray], horizon: np.ndarray, std=None) -> dict:
    """MAE per horizon band and overall, and (with ``std``) the category hit rate, for each forecast.

    Only rows where the observation and every forecast are present are scored (the same rows for all).
    """
    obs = np.asarray(obs, dtype=float)
    ok = np.isfinite(obs)
    for f in forecasts.values():
        ok &= np.isfinite(f)
    out: dict = {"n": int(ok.sum()), "mae": {}, "mae_by_band": {}, "category_hit_rate": {}}
    cat_obs = category_index(obs[ok], std) if std is not None else None
    for name, f in forecasts.items():
        err = np.abs(np.asarray(f, dtype=float)[ok] - obs[ok])
        hz = horizon[ok]
        out["mae"][name] = float(err.mean()) if len(err) else None
        out["mae_by_band"][name] = {f"{a}-{b}h": (float(err[(hz >= a) & (hz <= b)].mean())
                                                  if ((hz >= a) & (hz <= b)).any() else None) for a, b in BANDS}
        if std is not None:
            hit = category_index(np.asarray(f, dtype=float)[ok], std) == cat_obs
            out["category_hit_rate"][name] = float(hit.mean()) if len(hit) else None
    return out


@dataclass
class Evaluation:
    skill: dict
    folds: list[dict] = field(default_factory=list)
    obs: np.ndarray | None = None
    forecasts: dict = field(default_factory=dict)
    horizon: np.ndarray | None = None


def rolling_origin(y: np.ndarray, cal: Calendar, *, folds: int = 3, fold_days: int = 7, std=None,
                   fit_fn: FitFn | None = None, stride: int = 1, issue_stride: int = 1) -> Evaluation:
    """Rolling-origin evaluation over the last ``folds`` × ``fold_days`` days of the series.

    Fold k covers issue hours [s_k, e_k); its model is fitted with :func:`fit` on targets before s_k
    only. Forecasts whose target lies beyond e_k - 1 + 24 (the series end) are not scored.
    """
    n = len(y)
    L = fold_days * 24
    starts = [n - (folds - k) * L for k in range(folds)]
    if starts[0] < 24 * 10 + 24:
        raise ValueError("too little history for the evaluation folds")
    obs, preds, hzs = [], {"model": [], "persistence": [], "yesterday": []}, []
    fold_info = []
    for s in starts:
        t0 = time.perf_counter()
        model = fit(y, cal, before=s, stride=stride, fit_fn=fit_fn)
        issue = np.arange(s, min(s + L, n), issue_stride)
        issue = issue[np.isfinite(y[issue])]
        X, T, Hh = design(y, cal, issue)
        inside = T < n
        X, T, Hh = X[inside], T[inside], Hh[inside]
        obs.append(y[T])
        preds["model"].append(predict(model, X))
        preds["persistence"].append(X[:, FEATURES.index("lag_0")])
        preds["yesterday"].append(X[:, FEATURES.index("same_hour_yesterday")])
        hzs.append(Hh)
        fold_info.append({"train_before": int(s), "issue_from": int(s), "issue_to": int(min(s + L, n)),
                          "seconds": round(time.perf_counter() - t0, 3)})
    o = np.concatenate(obs)
    f = {k: np.concatenate(v) for k, v in preds.items()}
    h = np.concatenate(hzs)
    return Evaluation(skill=skill(o, f, h, std), folds=fold_info, obs=o, forecasts=f, horizon=h)
