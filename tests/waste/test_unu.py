"""The UNU sales-lifespan model (Forti, Baldé & Kuehr 2018) worked by hand, and its mass balance."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nagar.waste import unu


def F(x, a=2.0, b=2.0):
    """Weibull CDF written out: 1 - exp(-(x/b)^a)."""
    return 1 - math.exp(-((x / b) ** a)) if x > 0 else 0.0


def test_one_key_three_years_by_hand():
    # shape α = 2, scale β = 2 years; POM 100 kg in 2020, 200 kg in 2021, nothing in 2022.
    # F(0.5) = 1 - exp(-(0.25)^2)  = 1 - exp(-0.0625) = 0.0605869
    # F(1.5) = 1 - exp(-(0.75)^2)  = 1 - exp(-0.5625) = 1 - 0.5697828 = 0.4302172
    # F(2.5) = 1 - exp(-(1.25)^2)  = 1 - exp(-1.5625) = 1 - 0.2096114 = 0.7903886
    # L(age 0) = F(0.5) = 0.0605869; L(1) = F(1.5) - F(0.5) = 0.3696303; L(2) = F(2.5) - F(1.5) = 0.3601714
    # W(2020) = 100 x 0.0605869                     =   6.05869
    # W(2021) = 100 x 0.3696303 + 200 x 0.0605869   =  36.96303 + 12.11738 =  49.08041
    # W(2022) = 100 x 0.3601714 + 200 x 0.3696303   =  36.01714 + 73.92606 = 109.94320
    # S(2022) = 100 x (1 - 0.7903886) + 200 x (1 - 0.4302172) = 20.96114 + 113.95656 = 134.91770
    #         = 300 sold - (6.05869 + 49.08041 + 109.94320) generated = 300 - 165.08230 = 134.91770
    gen, stock = unu.generation_and_stock([[100.0, 200.0, 0.0]], [2.0], [2.0])
    assert gen[0] == pytest.approx([6.05869, 49.08041, 109.94320], abs=1e-4)
    assert stock[0, 2] == pytest.approx(134.91770, abs=1e-4)
    # S(2020) = 100 x (1 - 0.0605869) = 93.94131
    assert stock[0, 0] == pytest.approx(93.94131, abs=1e-4)
    # the same numbers from the CDF written out independently
    assert gen[0, 2] == pytest.approx(100 * (F(2.5) - F(1.5)) + 200 * (F(1.5) - F(0.5)))


def test_exponential_case_by_hand():
    # shape 1, scale 1: F(x) = 1 - e^-x. POM 100 kg in year 0 only.
    # L(0) = 1 - e^-0.5 = 0.393469; L(1) = e^-0.5 - e^-1.5 = 0.383401; L(2) = e^-1.5 - e^-2.5 = 0.141045
    gen, stock = unu.generation_and_stock([[100.0, 0.0, 0.0]], [1.0], [1.0])
    assert gen[0] == pytest.approx([39.3469, 38.3401, 14.1045], abs=1e-4)
    # stock = 100 e^-(t+0.5): 60.6531, 22.3130, 8.2085
    assert stock[0] == pytest.approx([60.6531, 22.3130, 8.2085], abs=1e-4)


def test_keys_vectorised_independently():
    g2, s2 = unu.generation_and_stock([[100.0, 200.0, 0.0], [100.0, 0.0, 0.0]], [2.0, 1.0], [2.0, 1.0])
    g_a, _ = unu.generation_and_stock([[100.0, 200.0, 0.0]], [2.0], [2.0])
    g_b, _ = unu.generation_and_stock([[100.0, 0.0, 0.0]], [1.0], [1.0])
    assert np.allclose(g2, np.vstack([g_a, g_b]))


def test_shipped_keys_table():
    keys = unu.load_keys()
    assert len(keys) == 54
    assert {k.category for k in keys.values()} == {1, 2, 3, 4, 5, 6}
    assert keys["0108"].category == 1 and keys["0303"].category == 2 and keys["0502"].category == 3
    assert keys["0002"].category == 4 and keys["0114"].category == 5 and keys["0306"].category == 6
    assert keys["0306"].avg_weight_kg == 0.09  # CBS htbl_Key_Weight.csv, 2012
    assert all(k.shape > 0 and k.scale > 0 for k in keys.values())
    assert {k.weibull_source for k in keys.values()} == {"assumed"}  # said in the data, and in the README
    assert "Forti" in unu.key_table()["sources"]["classification"]


def test_estimate_sums_categories_and_kg_per_inhabitant():
    rows = [{"year": 2020, "unu_key": "0306", "kg": 100.0}, {"year": 2020, "unu_key": "0108", "kg": 50.0}]
    out = unu.estimate(rows, end=2022, population={2020: 1000.0, 2021: 1000.0, 2022: 2000.0})
    assert out["years"] == [2020, 2021, 2022]
    total = np.array(out["total"]["generated"])
    assert total == pytest.approx(np.array(out["categories"][6]["generated"]) + out["categories"][1]["generated"])
    assert out["kg_per_inhabitant"][2] == pytest.approx(total[2] / 2000.0)
    with pytest.raises(ValueError, match="after the 'to' year"):
        unu.estimate(rows, start=2023, end=2022)
    with pytest.raises(ValueError, match="unknown UNU-KEY"):
        unu.estimate([{"year": 2020, "unu_key": "9999", "kg": 1.0}])


@settings(max_examples=60, deadline=None)
@given(pom=st.lists(st.lists(st.floats(0, 1e6), min_size=1, max_size=40), min_size=1, max_size=3),
       shapes=st.lists(st.floats(0.5, 6.0), min_size=3, max_size=3),
       scales=st.lists(st.floats(0.5, 40.0), min_size=3, max_size=3),
       horizon=st.integers(0, 200))
def test_mass_is_conserved(pom, shapes, scales, horizon):
    n = max(len(r) for r in pom) + horizon
    arr = np.zeros((len(pom), n))
    for i, r in enumerate(pom):
        arr[i, :len(r)] = r
    k = len(pom)
    gen, stock = unu.generation_and_stock(arr, shapes[:k], scales[:k])
    # every year t: sold up to t = generated up to t + stock at t
    sold = np.cumsum(arr, axis=1)
    assert np.allclose(sold, np.cumsum(gen, axis=1) + stock, rtol=1e-9, atol=1e-6 * max(1.0, sold.max()))
    assert (gen >= -1e-9).all() and (stock >= -1e-6).all()
