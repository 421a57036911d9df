import numpy as np
import pytest

from nagar.core.errors import InvalidInput
from nagar.core.units import convert, normalise_parameter, normalise_unit


# µg/m³ = ppb × M / 24.45 at 25 °C, 1 atm (EPA convention)
@pytest.mark.parametrize(
    "param, value, src, dst, expected",
    [
        ("o3", 100, "ppb", "µg/m³", 100 * 47.997 / 24.45),     # 196.31
        ("no2", 53, "ppb", "ug/m3", 53 * 46.005 / 24.45),      # 99.73: EPA's 53 ppb NO2 ~ 100 µg/m³
        ("so2", 75, "ppb", "µg/m³", 75 * 64.058 / 24.45),      # 196.50
        ("co", 9, "ppm", "mg/m³", 9 * 28.010 / 24.45),         # 10.31
        ("o3", 0.070, "ppm", "ppb", 70.0),
        ("no2", 100, "µg/m³", "ppb", 100 * 24.45 / 46.005),   # 53.15
        ("pm25", 35.5, "µg/m³", "mg/m³", 0.0355),
    ],
)
def test_conversions_at_25C_1atm(param, value, src, dst, expected):
    assert convert(value, param, src, dst) == pytest.approx(expected, rel=1e-9)
    arr = convert(np.array([value, value]), param, src, dst)
    assert arr.shape == (2,) and arr[1] == pytest.approx(expected, rel=1e-9)


def test_round_trip():
    v = np.array([0.0, 12.5, 300.0])
    assert np.allclose(convert(convert(v, "so2", "ppb", "µg/m³"), "so2", "µg/m³", "ppb"), v)


def test_undefined_conversions_are_errors():
    with pytest.raises(InvalidInput, match="cannot convert"):
        convert(1.0, "pm25", "µg/m³", "ppb")
    with pytest.raises(InvalidInput, match="unknown unit"):
        convert(1.0, "o3", "furlongs", "ppb")


def test_aliases():
    assert normalise_parameter("PM2.5") == "pm25"
    assert normalise_parameter("xyz") is None
    assert normalise_unit("ug/m3") == "µg/m³" and normalise_unit("PPB") == "ppb"
