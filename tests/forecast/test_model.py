"""The forecast model: beats persistence on a strong diurnal cycle, never trains on what it is scored
on, and its skill metrics match values worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from nagar.air.standards import load_standard
from nagar.forecast import model as M

H = 3_600_000_000
T0 = 1_735_689_600 * 1_000_000  # 2025-01-01 00:00 UTC


def small_fit(X, y, T):
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return HistGradientBoostingRegressor(max_iter=40, learning_rate=0.15, random_state=0).fit(X, np.log1p(y))


def diurnal(days=30, seed=0):
    n = days * 24
    rng = np.random.default_rng(seed)
    h = np.arange(n) % 24
    base = 60 + 45 * np.cos((h - 2) / 24 * 2 * np.pi)  # night peak, afternoon low (UTC = local here)
    return np.clip(base * np.exp(rng.normal(0, 0.08, n)), 1, None)


def test_model_beats_persistence_on_a_diurnal_cycle():
    y = diurnal()
    cal = M.calendar(T0 + np.arange(len(y) + 24) * H, "UTC")
    ev = M.rolling_origin(y, cal, folds=1, fold_days=4, std=load_standard("us-epa-2024"), fit_fn=small_fit,
                          stride=3)
    mae = ev.skill["mae"]
    assert mae["model"] < 0.5 * mae["persistence"]
    assert ev.skill["category_hit_rate"]["model"] > ev.skill["category_hit_rate"]["persistence"]
    # the long horizons are where carrying the issue value forward fails on a daily cycle
    assert ev.skill["mae_by_band"]["model"]["13-24h"] < ev.skill["mae_by_band"]["persistence"]["13-24h"]


def test_rolling_origin_never_trains_on_the_evaluated_period():
    y = diurnal(days=20)
    cal = M.calendar(T0 + np.arange(len(y) + 24) * H, "UTC")
    seen = []

    def spy(X, yt, T):
        seen.append(int(T.max()))
        # the training targets are exactly the observed values at their indices: nothing from later
        assert np.array_equal(yt, y[T])
        return small_fit(X, yt, T)

    ev = M.rolling_origin(y, cal, folds=3, fold_days=2, fit_fn=spy, stride=2)
    starts = [f["issue_from"] for f in ev.folds]
    assert len(seen) == 3
    assert all(last < s for last, s in zip(seen, starts)), (seen, starts)
    assert all(last >= s - 3 for last, s in zip(seen, starts))  # ... but right up to it (stride 2)


def test_a_leak_would_show_in_the_scores():
    """White noise is unpredictable: a model that had seen the evaluated targets would score far below
    the noise's own error; ours may not."""
    rng = np.random.default_rng(5)
    y = np.exp(rng.normal(4, 0.5, 24 * 20))
    cal = M.calendar(T0 + np.arange(len(y) + 24) * H, "UTC")
    ev = M.rolling_origin(y, cal, folds=1, fold_days=3, fit_fn=small_fit, stride=1)
    # mean absolute deviation of the noise around its median, the best any honest forecast can do
    floor = np.mean(np.abs(y - np.median(y)))
    assert ev.skill["mae"]["model"] > 0.9 * floor


def test_design_uses_only_the_past():
    y = np.arange(100, dtype=float)
    cal = M.calendar(T0 + np.arange(130) * H, "UTC")
    X, T, Hh = M.design(y, cal, np.array([50]))
    f = {name: X[:, i] for i, name in enumerate(M.FEATURES)}
    assert T.tolist() == list(range(51, 75)) and Hh.tolist() == list(range(1, 25))
    assert (f["lag_0"] == 50).all() and (f["lag_23"] == 27).all()
    assert f["same_hour_yesterday"].tolist() == [float(t - 24) for t in T]  # at most the issue hour
    assert (f["same_hour_yesterday"] <= 50).all()
    assert f["mean_24h"][0] == pytest.approx(np.mean(np.arange(27, 51)))
    with pytest.raises(ValueError):
        M.design(y, M.calendar(T0 + np.arange(100) * H, "UTC"), np.array([99]))


def test_skill_worked_by_hand():
    # US EPA 2024 (EPA-454/B-24-002, Table 6) PM2.5: Good 0-9.0, Moderate 9.1-35.4, USG 35.5-55.4
    obs = np.array([10.0, 20.0, 30.0, 40.0, np.nan])
    model = np.array([12.0, 18.0, 30.0, 50.0, 5.0])
    pers = np.array([10.0, 10.0, 10.0, 10.0, 10.0])
    hz = np.array([1, 6, 7, 13, 2])
    sk = M.skill(obs, {"model": model, "persistence": pers}, hz, load_standard("us-epa-2024"))
    assert sk["n"] == 4  # the missing observation is not scored
    assert sk["mae"] == {"model": 3.5, "persistence": 15.0}  # (2+2+0+10)/4, (0+10+20+30)/4
    assert sk["mae_by_band"]["model"] == {"1-6h": 2.0, "7-12h": 0.0, "13-24h": 10.0}
    assert sk["mae_by_band"]["persistence"] == {"1-6h": 5.0, "7-12h": 20.0, "13-24h": 30.0}
    # categories: obs M M M USG; model M M M USG (4/4); persistence M M M M (3/4)
    assert sk["category_hit_rate"] == {"model": 1.0, "persistence": 0.75}
    assert M.category_index(np.array([9.0, 9.1, 35.4, 35.5, np.nan]), load_standard("us-epa-2024")).tolist() == [
        0, 1, 1, 2, -1]
