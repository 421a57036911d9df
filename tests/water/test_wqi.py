"""CCME WQI 1.0, worked by hand from the formulae of the CCME (2001) Technical Report / User's Manual.

F1 = 100 failed variables / variables; F2 = 100 failed tests / tests; excursion = failed/objective - 1
(upper) or objective/failed - 1 (lower); nse = sum(excursions) / tests; F3 = nse / (0.01 nse + 0.01);
WQI = 100 - sqrt(F1² + F2² + F3²) / 1.732.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from nagar.water.wqi import CATEGORIES, categorise, ccme_wqi, excursions

NAN = float("nan")

# The User's Manual's worked example: North Saskatchewan River at Devon, 1997 (monthly samples), as
# tabulated in the bcgov/wqbc R package (data-raw/ccme.csv). None = not measured that month.
MANUAL = {  # variable: (lower, upper, 12 monthly values)
    "DO": (5, None, [11.4, 11, 11.5, 12.5, 10.4, 8.9, 8.5, 7.5, 9.2, 11, 12.1, 13.3]),
    "pH": (6.5, 9, [8, 7.9, 7.9, 7.9, 8.1, 8.2, 8.3, 8.2, 8.2, 8.1, 8, 8]),
    "TP": (None, 0.05, [0.006, 0.005, 0.006, 0.058, 0.042, 0.108, 0.017, 0.008, 0.006, 0.008, 0.006, 0.004]),
    "TN": (None, 1, [0.16, 0.17, 0.132, 0.428, 0.25, 0.707, 0.153, 0.153, 0.13, 0.093, 0.296, 0.054]),
    "FC": (None, 400, [4, 0, 4, 0, 0, 26, 9, 8, 12, 12, 8, 4]),
    "As": (None, 0.05, [0.0002, 0, 0, 0, 0.0002, 0.0006, 0.0002, 0, 0.0003, 0, 0, 0]),
    "Pb": (None, 0.004, [0.0004, 0.0094, 0, 0.0008, 0.0008, 0.0013, 0.0004, 0, 0.0018, 0.0011, 0.0051, 0]),
    "Hg": (None, 0.1, [0, 0, 0, 0, 0, 0, None, 0, 0, 0, 0, 0]),
    "2,4-D": (None, 4, [0, None, None, 0.004, None, None, None, 0, None, 0, None, None]),
    "Lindane": (None, 0.01, [0, None, None, 0, None, None, None, 0, None, 0, None, None]),
}


def _arrays(data: dict, group: int = 0):
    g, var, val, lo, up = [], [], [], [], []
    for j, (name, (low, high, values)) in enumerate(data.items()):
        for v in values:
            g.append(group)
            var.append(j)
            val.append(NAN if v is None else v)
            lo.append(NAN if low is None else low)
            up.append(NAN if high is None else high)
    return [np.array(x, dtype=float if k >= 2 else int) for k, x in enumerate((g, var, val, lo, up))]


def test_the_users_manual_example_gives_88_good():
    # by hand: 103 tests (Hg 11, 2,4-D 4, lindane 4, the rest 12); TP fails twice (0.058, 0.108 > 0.05)
    # and Pb twice (0.0094, 0.0051 > 0.004): F1 = 100 x 2/10 = 20, F2 = 100 x 4/103 = 3.8835
    # excursions 0.16 + 1.16 + 1.35 + 0.275 = 2.945; nse = 2.945/103 = 0.028592
    # F3 = 0.028592 / (0.00028592 + 0.01) = 2.7797; WQI = 100 - sqrt(400 + 15.082 + 7.727)/1.732 = 88.13
    g, var, val, lo, up = _arrays(MANUAL)
    r = ccme_wqi(g, var, val, lo, up)
    assert r.n_tests[0] == 103 and r.n_variables[0] == 10
    assert r.failed_variables[0] == 2 and r.failed_tests[0] == 4
    assert r.f1[0] == pytest.approx(20.0)
    assert r.f2[0] == pytest.approx(3.8835, abs=1e-4)
    assert r.nse[0] == pytest.approx(0.028592, abs=1e-6)
    assert r.f3[0] == pytest.approx(2.7797, abs=1e-4)
    assert r.wqi[0] == pytest.approx(88.13, abs=0.01)
    assert round(r.wqi[0]) == 88 and CATEGORIES[r.category[0]] == "Good"


def test_lower_limit_do_and_range_ph_by_hand():
    # DO >= 5: 4 fails: 5/4 - 1 = 0.25. pH 6.5-8.5: 9.0 fails high (9/8.5 - 1 = 0.058824),
    # 6.0 fails low (6.5/6 - 1 = 0.083333). BOD <= 6 and ammonia <= 1.2 never fail.
    # F1 = 100 x 2/4 = 50; F2 = 100 x 3/16 = 18.75; nse = 0.392157/16 = 0.024510
    # F3 = 0.024510/(0.00024510 + 0.01) = 2.39234; WQI = 100 - sqrt(2500 + 351.5625 + 5.7233)/1.732 = 69.14
    data = {"do": (5, None, [6, 4, 5, 7]), "ph": (6.5, 8.5, [7, 9.0, 6.0, 7.5]),
            "bod": (None, 6, [2, 3, 4, 5]), "ammonia": (None, 1.2, [0.5] * 4)}
    g, var, val, lo, up = _arrays(data)
    failed, ex = excursions(val, lo, up)
    assert failed.tolist() == [False, True, False, False, False, True, True] + [False] * 9
    assert ex[1] == pytest.approx(0.25) and ex[5] == pytest.approx(0.058824, abs=1e-6)
    assert ex[6] == pytest.approx(0.083333, abs=1e-6)
    r = ccme_wqi(g, var, val, lo, up)
    assert (r.f1[0], r.f2[0]) == (pytest.approx(50.0), pytest.approx(18.75))
    assert r.f3[0] == pytest.approx(2.39234, abs=1e-4)
    assert r.wqi[0] == pytest.approx(69.14, abs=0.01)
    assert CATEGORIES[r.category[0]] == "Fair"


def test_no_failures_is_100_and_groups_are_independent():
    ok = {"do": (5, None, [6, 7, 8, 9]), "ph": (6.5, 8.5, [7, 7, 7, 7]), "bod": (None, 6, [1, 2, 3, 4]),
          "ammonia": (None, 1.2, [0.1] * 4)}
    a = _arrays(ok, group=0)
    b = _arrays({**ok, "do": (5, None, [6, 4, 5, 7])}, group=1)
    g, var, val, lo, up = (np.concatenate([x, y]) for x, y in zip(a, b))
    r = ccme_wqi(g, var, val, lo, up)
    assert r.wqi[0] == 100.0 and r.f1[0] == r.f2[0] == r.f3[0] == 0.0
    assert CATEGORIES[r.category[0]] == "Excellent"
    # group 1: DO fails once: F1 = 25, F2 = 6.25, nse = 0.25/16, F3 = 0.015625/0.01015625 = 1.53846
    # WQI = 100 - sqrt(625 + 39.0625 + 2.3669)/1.732 = 100 - 25.8153/1.732 = 85.095
    assert r.wqi[1] == pytest.approx(85.095, abs=0.01)


def test_minimum_data_rule_four_variables_four_times():
    three = {"do": (5, None, [6, 7, 8, 9]), "ph": (6.5, 8.5, [7] * 4), "bod": (None, 6, [1, 2, 3, 4])}
    r = ccme_wqi(*_arrays(three))
    assert math.isnan(r.wqi[0]) and not r.enough_data[0] and r.category[0] == -1
    thin = {**three, "ammonia": (None, 1.2, [0.1, 0.1, 0.1])}  # the 4th variable sampled only 3 times
    assert math.isnan(ccme_wqi(*_arrays(thin)).wqi[0])
    full = {**three, "ammonia": (None, 1.2, [0.1] * 4)}
    assert ccme_wqi(*_arrays(full)).wqi[0] == 100.0


def test_zero_objective_uses_the_detection_limit():
    # coliforms 0 per 100 mL: a count of 3 fails; its excursion is 3/1 - 1 = 2 (detection limit 1)
    failed, ex = excursions([0.0, 3.0], [NAN, NAN], [0.0, 0.0], [1.0, 1.0])
    assert failed.tolist() == [False, True] and ex.tolist() == [0.0, 2.0]


@pytest.mark.parametrize("w,cat", [(0, "Poor"), (44, "Poor"), (44.4, "Poor"), (44.5, "Marginal"), (64, "Marginal"),
                                   (65, "Fair"), (79, "Fair"), (80, "Good"), (94, "Good"), (94.5, "Excellent"),
                                   (95, "Excellent"), (100, "Excellent")])
def test_categories(w, cat):
    assert CATEGORIES[categorise(np.array([w]))[0]] == cat


def _reference(tests: list[tuple[int, float, float, float]]) -> float:
    """The manual's three factors for one group, test by test in plain Python: (variable, value, lower, upper)."""
    variables = {v for v, *_ in tests}
    failed_vars, failed, ex = set(), 0, 0.0
    for v, x, lo, up in tests:
        if not math.isnan(up) and x > up:
            failed_vars.add(v)
            failed += 1
            ex += x / up - 1
        elif not math.isnan(lo) and x < lo:
            failed_vars.add(v)
            failed += 1
            ex += lo / x - 1
    f1 = 100 * len(failed_vars) / len(variables)
    f2 = 100 * failed / len(tests)
    nse = ex / len(tests)
    f3 = nse / (0.01 * nse + 0.01)
    return 100 - math.sqrt(f1 ** 2 + f2 ** 2 + f3 ** 2) / 1.732


def test_vectorised_groups_match_a_test_by_test_reference():
    rng = np.random.default_rng(11)
    n, groups = 4000, 40
    g = rng.integers(0, groups, n)
    var = rng.integers(0, 6, n)
    val = rng.gamma(2.0, 1.0, n) + 0.01
    up = np.where(var % 3 != 1, 2.5, np.nan)  # variables 0, 2, 3, 5 upper; 1, 4 lower; 2, 5 both (range)
    lo = np.where(var % 3 != 0, 0.8, np.nan)
    r = ccme_wqi(g, var, val, lo, up, n_groups=groups)
    for k in range(groups):
        m = g == k
        ref = _reference(list(zip(var[m], val[m], lo[m], up[m])))
        assert r.wqi[k] == pytest.approx(max(ref, 0.0), abs=1e-9)
