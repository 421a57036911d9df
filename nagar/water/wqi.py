"""The CCME Water Quality Index 1.0, vectorised over many groups (station x period) at once.

Source: Canadian Council of Ministers of the Environment (2001), "Canadian water quality guidelines for
the protection of aquatic life: CCME Water Quality Index 1.0, Technical Report" and "... User's Manual",
in Canadian environmental quality guidelines, 1999, Winnipeg. The index combines three factors:

    F1 (scope)     = 100 x (number of failed variables / total number of variables)
    F2 (frequency) = 100 x (number of failed tests / total number of tests)
    excursion_i    = failed value / objective - 1      (the value must not exceed the objective)
                   = objective / failed value - 1      (the value must not fall below the objective)
    nse            = sum of excursions / total number of tests   (normalised sum of excursions)
    F3 (amplitude) = nse / (0.01 nse + 0.01)
    CCME WQI       = 100 - sqrt(F1^2 + F2^2 + F3^2) / 1.732

A variable with a range objective (pH 6.5-8.5) fails below its lower or above its upper bound and its
excursion uses the bound it crossed. 1.732 (sqrt 3) scales the vector's length, at most 100 x sqrt 3 in
principle, to 0-100. Categories (Technical Report Table 3 / User's Manual): Excellent 95-100, Good 80-94,
Fair 65-79, Marginal 45-64, Poor 0-44; the manual states the index and the category bounds as whole
numbers, so the category is taken on the index rounded half up to an integer.

Minimum data (User's Manual): "at a minimum, four variables sampled at least four times"; a group with
fewer than ``min_variables`` variables having ``min_tests`` tests or more gets no index (NaN).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CATEGORIES = ("Poor", "Marginal", "Fair", "Good", "Excellent")
"""Index 0-4, worst first."""
CATEGORY_KEYS = ("poor", "marginal", "fair", "good", "excellent")
CATEGORY_LOWER = (0, 45, 65, 80, 95)
"""Lowest whole-number WQI of each category (Poor 0-44 ... Excellent 95-100)."""
CATEGORY_COLOURS = ("#d7301f", "#fc8d59", "#fee08b", "#91cf60", "#1a9850")


@dataclass
class WQIResult:
    """One entry per group; arrays of equal length."""

    wqi: np.ndarray
    f1: np.ndarray
    f2: np.ndarray
    f3: np.ndarray
    nse: np.ndarray
    n_variables: np.ndarray
    n_tests: np.ndarray
    failed_variables: np.ndarray
    failed_tests: np.ndarray
    category: np.ndarray
    """0-4 (see CATEGORIES), -1 where no index."""
    enough_data: np.ndarray


def excursions(value, lower, upper, detection_limit=None) -> tuple[np.ndarray, np.ndarray]:
    """Per test: ``failed`` (bool) and its excursion (0 where it passed), CCME WQI 1.0 (2001).

    ``lower``/``upper`` are the objective's bounds (NaN: none). Above the upper bound the excursion is
    value/upper - 1; below the lower bound lower/value - 1 (infinite for a value of 0).

    Nagar's one addition: an upper objective of 0 (coliforms "0 per 100 mL") has no finite excursion, so
    where ``detection_limit`` is given the excursion is value/detection_limit - 1 (at least 0); the test
    still fails for any value above 0."""
    v = np.asarray(value, dtype=float)
    lo = np.asarray(lower, dtype=float)
    up = np.asarray(upper, dtype=float)
    over = ~np.isnan(up) & (v > up)
    under = ~np.isnan(lo) & (v < lo)
    with np.errstate(divide="ignore", invalid="ignore"):
        ex = np.where(over, v / up - 1.0, np.where(under, lo / v - 1.0, 0.0))
        if detection_limit is not None:
            dl = np.broadcast_to(np.asarray(detection_limit, dtype=float), v.shape)
            zero = over & (up == 0) & ~np.isnan(dl)
            ex = np.where(zero, np.maximum(v / np.where(zero, dl, 1.0) - 1.0, 0.0), ex)
    return over | under, ex


def categorise(wqi) -> np.ndarray:
    """Category index 0-4 (Poor..Excellent) of the WQI rounded half up; -1 for NaN."""
    w = np.asarray(wqi, dtype=float)
    r = np.floor(w + 0.5)
    cat = np.searchsorted(np.asarray(CATEGORY_LOWER, dtype=float), r, side="right") - 1
    return np.where(np.isnan(w), -1, np.clip(cat, 0, 4)).astype(int)


def ccme_wqi(group, variable, value, lower, upper, detection_limit=None, *, n_groups: int | None = None, min_variables: int = 4,
             min_tests: int = 4) -> WQIResult:
    """CCME WQI 1.0 (CCME 2001, Technical Report and User's Manual) for every group at once.

    Parameters
    ----------
    group : int array, shape (N,)
        Group (e.g. station x period) of each test, 0..G-1.
    variable : int array, shape (N,)
        Variable (parameter) of each test, 0..V-1.
    value : float array
        The test results (NaN rows are ignored: not a test).
    lower, upper : float arrays
        The objective of each test (NaN where that side has no bound).
    detection_limit : float array, optional
        Used only for an upper objective of 0 (see :func:`excursions`).
    min_variables, min_tests : int
        Minimum-data rule; groups failing it get NaN (``enough_data`` False).
    """
    g = np.asarray(group, dtype=np.int64)
    var = np.asarray(variable, dtype=np.int64)
    v = np.asarray(value, dtype=float)
    keep = ~np.isnan(v)
    g, var, v = g[keep], var[keep], v[keep]
    lo, up = np.asarray(lower, dtype=float)[keep], np.asarray(upper, dtype=float)[keep]
    dl = None if detection_limit is None else np.asarray(detection_limit, dtype=float)[keep]
    G = int(n_groups if n_groups is not None else (g.max() + 1 if g.size else 0))
    V = int(var.max() + 1) if var.size else 1
    failed, ex = excursions(v, lo, up, dl)
    cell = g * V + var
    tests_per = np.bincount(cell, minlength=G * V).reshape(G, V)
    fails_per = np.bincount(cell, weights=failed.astype(float), minlength=G * V).reshape(G, V)
    n_tests = tests_per.sum(axis=1).astype(float)
    n_vars = (tests_per > 0).sum(axis=1).astype(float)
    failed_vars = (fails_per > 0).sum(axis=1).astype(float)
    failed_tests = fails_per.sum(axis=1)
    sum_ex = np.bincount(g, weights=ex, minlength=G)
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = 100.0 * failed_vars / n_vars
        f2 = 100.0 * failed_tests / n_tests
        nse = sum_ex / n_tests
        f3 = np.where(np.isinf(nse), 100.0, nse / (0.01 * nse + 0.01))
        wqi = 100.0 - np.sqrt(f1 ** 2 + f2 ** 2 + f3 ** 2) / 1.732
    enough = (tests_per >= min_tests).sum(axis=1) >= min_variables
    wqi = np.where(enough & (n_tests > 0), np.clip(wqi, 0.0, 100.0), np.nan)
    return WQIResult(wqi=wqi, f1=f1, f2=f2, f3=f3, nse=nse, n_variables=n_vars.astype(int),
                     n_tests=n_tests.astype(int), failed_variables=failed_vars.astype(int),
                     failed_tests=failed_tests.astype(int), category=categorise(wqi), enough_data=enough)
