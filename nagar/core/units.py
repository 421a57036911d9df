"""Measured parameters, their canonical units, and vectorised unit conversion.

Gas concentrations convert between mass concentration and mixing ratio at 25 °C and 1 atm, the
U.S. EPA convention used by its AQI breakpoint tables:

    µg/m³ = ppb × M / 24.45        (24.45 L/mol: molar volume of an ideal gas at 298.15 K, 101.325 kPa)
    ppm   = ppb / 1000             mg/m³ = µg/m³ / 1000

References
----------
U.S. EPA, "Technical Assistance Document for the Reporting of Daily Air Quality – the Air Quality
Index (AQI)", EPA-454/B-24-002, May 2024 (conditions of the breakpoint table: 25 °C, 760 mmHg).
Molar masses from the IUPAC 2021 standard atomic weights: O 15.999, N 14.007, S 32.06, C 12.011.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InvalidInput

MOLAR_VOLUME_L = 24.45
"""Molar volume of an ideal gas at 25 °C and 1 atm [L/mol] (EPA convention)."""

UG_M3 = "µg/m³"
MG_M3 = "mg/m³"
PPB = "ppb"
PPM = "ppm"
CELSIUS = "°C"
PERCENT = "%"
WH = "Wh"
KWH = "kWh"
MWH = "MWh"
GWH = "GWh"
"""Electrical energy (climate module: metered generation and consumption, codes 20-29)."""

_UNIT_ALIASES = {
    "µg/m³": UG_M3, "µg/m3": UG_M3, "ug/m3": UG_M3, "ug/m³": UG_M3, "μg/m³": UG_M3, "μg/m3": UG_M3,
    "ugm3": UG_M3, "ug m-3": UG_M3, "microgram/m3": UG_M3,
    "mg/m³": MG_M3, "mg/m3": MG_M3,
    "ppb": PPB, "ppm": PPM,
    "°c": CELSIUS, "c": CELSIUS, "degc": CELSIUS, "celsius": CELSIUS,
    "%": PERCENT, "percent": PERCENT, "rh": PERCENT,
}
_UNIT_ALIASES.update({"wh": WH, "kwh": KWH, "mwh": MWH, "gwh": GWH})


@dataclass(frozen=True)
class Parameter:
    key: str
    name: str
    unit: str
    """Canonical unit: every stored value of this parameter is in it."""
    molar_mass: float | None = None
    """[g/mol]; set for gases, which may arrive as mass concentration or mixing ratio."""
    min_value: float = 0.0
    max_value: float = 1e6
    """Physically plausible range in the canonical unit; outside it a reading is rejected."""
    code: int = 0
    """Stable small integer stored in place of the key (never reuse or renumber a code)."""


# Molar masses [g/mol] from IUPAC standard atomic weights (2021).
PARAMETERS: dict[str, Parameter] = {
    p.key: p
    for p in [
        Parameter("pm25", "PM2.5", UG_M3, None, 0.0, 5000.0, code=1),
        Parameter("pm10", "PM10", UG_M3, None, 0.0, 10000.0, code=2),
        Parameter("pm1", "PM1", UG_M3, None, 0.0, 5000.0, code=3),
        Parameter("o3", "Ozone", PPB, 47.997, 0.0, 2000.0, code=4),   # 3 × 15.999
        Parameter("no2", "Nitrogen dioxide", PPB, 46.005, 0.0, 5000.0, code=5),  # 14.007 + 2 × 15.999
        Parameter("no", "Nitric oxide", PPB, 30.006, 0.0, 5000.0, code=6),  # 14.007 + 15.999
        Parameter("so2", "Sulphur dioxide", PPB, 64.058, 0.0, 10000.0, code=7),  # 32.06 + 2 × 15.999
        Parameter("co", "Carbon monoxide", PPM, 28.010, 0.0, 1000.0, code=8),  # 12.011 + 15.999
        Parameter("temperature", "Air temperature", CELSIUS, None, -90.0, 70.0, code=9),
        Parameter("relativehumidity", "Relative humidity", PERCENT, None, 0.0, 100.0, code=10),
        # electricity (climate module, codes 20-29): energy metered over each reading's interval
        Parameter("generation", "Electricity generated", KWH, None, 0.0, 1e9, code=20),
        Parameter("consumption", "Electricity consumed", KWH, None, 0.0, 1e9, code=21),
    ]
}

_PARAM_ALIASES = {"pm2.5": "pm25", "pm2_5": "pm25", "pm_25": "pm25", "ozone": "o3", "rh": "relativehumidity",
                  "humidity": "relativehumidity", "temp": "temperature"}
_PARAM_ALIASES.update({"energy_generated": "generation", "generation_kwh": "generation",
                       "solar_generation": "generation", "pv_energy": "generation",
                       "energy_consumed": "consumption", "consumption_kwh": "consumption"})


def normalise_parameter(name: str) -> str | None:
    """Return the canonical parameter key for ``name`` or ``None`` when unknown."""
    k = str(name).strip().lower()
    k = _PARAM_ALIASES.get(k, k)
    return k if k in PARAMETERS else None


def normalise_unit(unit: str) -> str | None:
    """Return the canonical spelling of ``unit`` or ``None`` when unknown."""
    return _UNIT_ALIASES.get(str(unit).strip().lower().replace(" ", ""), None) if unit is not None else None


def conversion_factor(parameter: str, from_unit: str, to_unit: str) -> float:
    """Multiplier that turns a value of ``parameter`` in ``from_unit`` into ``to_unit``.

    Raises :class:`InvalidInput` when the conversion is undefined (e.g. µg/m³ of PM2.5 to ppb).
    """
    p = PARAMETERS.get(parameter)
    if p is None:
        raise InvalidInput(f"unknown parameter {parameter!r}", field="parameter")
    src, dst = normalise_unit(from_unit), normalise_unit(to_unit)
    if src is None:
        raise InvalidInput(f"unknown unit {from_unit!r}", field="unit")
    if dst is None:
        raise InvalidInput(f"unknown unit {to_unit!r}", field="unit")
    if src == dst:
        return 1.0
    # express everything via ppb (mixing ratio) or µg/m³ (mass)
    to_ppb = {PPB: 1.0, PPM: 1000.0}
    to_ug = {UG_M3: 1.0, MG_M3: 1000.0}
    to_kwh = {WH: 1e-3, KWH: 1.0, MWH: 1e3, GWH: 1e6}
    if src in to_ppb and dst in to_ppb:
        return to_ppb[src] / to_ppb[dst]
    if src in to_ug and dst in to_ug:
        return to_ug[src] / to_ug[dst]
    if src in to_kwh and dst in to_kwh:
        return to_kwh[src] / to_kwh[dst]
    if p.molar_mass is not None:
        ug_per_ppb = p.molar_mass / MOLAR_VOLUME_L
        if src in to_ppb and dst in to_ug:
            return to_ppb[src] * ug_per_ppb / to_ug[dst]
        if src in to_ug and dst in to_ppb:
            return to_ug[src] / ug_per_ppb / to_ppb[dst]
    raise InvalidInput(f"cannot convert {p.name} from {src} to {dst}", field="unit")


def convert(values, parameter: str, from_unit: str, to_unit: str):
    """Convert ``values`` (scalar or array) of ``parameter`` from ``from_unit`` to ``to_unit``.

    Parameters
    ----------
    values : float or array-like
    parameter : str
        Canonical key, e.g. ``"o3"``.
    from_unit, to_unit : str
        Any accepted spelling of µg/m³, mg/m³, ppb, ppm, °C, %.

    Returns
    -------
    The converted values, same shape as the input (a NumPy array for array input).
    """
    f = conversion_factor(parameter, from_unit, to_unit)
    if np.isscalar(values):
        return float(values) * f
    return np.asarray(values, dtype=float) * f


def to_canonical(values, parameter: str, unit: str):
    """Convert ``values`` in ``unit`` into the parameter's canonical unit."""
    return convert(values, parameter, unit, PARAMETERS[parameter].unit)
