"""Equality with the python-aqi package (0.6.1) where both implement the same table.

python-aqi's EPA algorithm (aqi/algos/epa.py) carries the pre-2024 tables. Its PM2.5, PM10, CO 8-h,
NO2 1-h and O3 1-h rows equal us-epa-2012 (EPA 454/B-18-007 Table 5); its SO2 1-h rows equal ours up to
304 ppb (above that it keeps using 1-hour values, where the TAD switches to 24-hour values); its O3 8-h
rows are the 2008 ones (0.000-0.059 ...) and are not compared.

python-aqi truncates with Decimal ROUND_DOWN, like us, but rounds the index half-to-even where EPA says
"nearest integer" and Nagar rounds halves up; the few concentrations whose exact index ends in .5 are
therefore left out (they are counted, and must be rare).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

aqi_pkg = pytest.importorskip("aqi")
from aqi.algos.epa import AQI as PyAQI  # noqa: E402

from nagar.air.aqi import compute_aqi, sub_index  # noqa: E402

# (python-aqi pollutant, Nagar key, low, high, digits of the random strings)
RANGES = [
    ("pm25", "pm25_24h", 0.0, 500.49, 3),
    ("pm10", "pm10_24h", 0.0, 604.99, 2),
    ("co_8h", "co_8h", 0.0, 50.49, 3),
    ("no2_1h", "no2_1h", 0.0, 2049.99, 2),
    ("o3_1h", "o3_1h", 0.125, 0.60499, 5),
    ("so2_1h", "so2_1h", 0.0, 304.99, 2),
]
PIECEWISE = PyAQI.piecewise


def _exact_fraction(elem: str, cc: str) -> Fraction | None:
    """Exact unrounded index python-aqi's table gives to ``cc`` (None outside its rows)."""
    c = Decimal(cc).quantize(PIECEWISE["prec"][elem], rounding="ROUND_DOWN")
    for (lo, hi), (ilo, ihi) in zip(PIECEWISE["bp"][elem], PIECEWISE["aqi"]):
        if lo <= c <= hi and hi > lo:
            return Fraction(ihi - ilo) * (Fraction(c) - Fraction(lo)) / (Fraction(hi) - Fraction(lo)) + ilo
    return None


@pytest.mark.parametrize("elem, key, lo, hi, digits", RANGES, ids=[r[1] for r in RANGES])
def test_equal_to_python_aqi_on_random_values(elem, key, lo, hi, digits):
    rng = np.random.default_rng(20240506)
    strings = [f"{x:.{digits}f}" for x in rng.uniform(lo, hi, 3000)]
    # include every breakpoint of python-aqi's table within the compared range
    strings += [str(v) for row in PIECEWISE["bp"][elem] for v in row
                if Decimal(str(lo)) <= v <= Decimal(str(hi)) and v > 0]
    theirs, ours_in, ties = [], [], 0
    for s in strings:
        exact = _exact_fraction(elem, s)
        assert exact is not None, s
        if exact - int(exact) == Fraction(1, 2):
            ties += 1
            continue
        theirs.append(int(aqi_pkg.to_iaqi(elem, s, algo=aqi_pkg.ALGO_EPA)))
        ours_in.append(float(s))
    ours = sub_index(np.array(ours_in), key, "us-epa-2012")
    mismatch = [(c, a, b) for c, a, b in zip(ours_in, theirs, ours) if a != b]
    assert not mismatch, mismatch[:10]
    assert ties <= len(strings) // 50


def test_combined_index_equal_to_python_aqi():
    rng = np.random.default_rng(7)
    pm25 = [f"{x:.1f}" for x in rng.uniform(0, 300, 300)]
    no2 = [f"{x:.0f}" for x in rng.uniform(0, 600, 300)]
    co = [f"{x:.1f}" for x in rng.uniform(0, 20, 300)]
    theirs = np.array([
        float(aqi_pkg.to_aqi([("pm25", a), ("no2_1h", b), ("co_8h", c)], algo=aqi_pkg.ALGO_EPA))
        for a, b, c in zip(pm25, no2, co)
    ])
    r = compute_aqi({"pm25": np.array(pm25, dtype=float), "no2": np.array(no2, dtype=float),
                     "co": np.array(co, dtype=float)}, "us-epa-2012")
    keep = np.array([all(_exact_fraction(e, v) - int(_exact_fraction(e, v)) != Fraction(1, 2)
                         for e, v in (("pm25", a), ("no2_1h", b), ("co_8h", c)))
                     for a, b, c in zip(pm25, no2, co)])
    np.testing.assert_array_equal(r.aqi[keep], theirs[keep])


# Speed against python-aqi is measured in bench/ingest_aqi.py, not asserted here (no timed tests).
