"""Water-quality parameters, their canonical units and unit conversion for lab results.

Water samples are sparse lab analyses kept in their own table (``water_samples``), so their parameters
live here rather than in the air sensors' registry (``nagar.core.units``). Each parameter has one
canonical unit; results arriving in another accepted unit are converted on load:

- mass concentration: 1 mg/L = 1000 µg/L = 1 ppm (dilute aqueous solution, density 1 kg/L), g/L = 1000 mg/L;
- microbiology: CFU/100 mL and MPN/100 mL are both counts per 100 mL (reported as such; an MPN is an
  estimate of the same quantity), per mL x 100, per L / 10;
- pH (dimensionless), turbidity in NTU (FNU accepted as equal, ISO 7027 nephelometry).

Nitrate and ammonia are taken as reported by the laboratory; give them "as N" or as the ion consistently
with the objective set used (ECR 1997 states nitrate as NO3 and ammonia as NH3 in Schedule 3(b)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nagar.core.errors import InvalidInput

MG_L = "mg/L"
NTU = "NTU"
PH = "pH"
PER_100ML = "n/100 mL"


@dataclass(frozen=True)
class WaterParameter:
    key: str
    name: str
    unit: str
    """Canonical unit of every stored value."""
    min_value: float = 0.0
    max_value: float = 1e6


PARAMETERS: dict[str, WaterParameter] = {p.key: p for p in [
    WaterParameter("ph", "pH", PH, 0.0, 14.0),
    WaterParameter("do", "Dissolved oxygen", MG_L, 0.0, 25.0),
    WaterParameter("bod", "Biochemical oxygen demand (5 d, 20 °C)", MG_L, 0.0, 10000.0),
    WaterParameter("cod", "Chemical oxygen demand", MG_L, 0.0, 50000.0),
    WaterParameter("tds", "Total dissolved solids", MG_L, 0.0, 100000.0),
    WaterParameter("turbidity", "Turbidity", NTU, 0.0, 100000.0),
    WaterParameter("ammonia", "Ammonia", MG_L, 0.0, 10000.0),
    WaterParameter("nitrate", "Nitrate", MG_L, 0.0, 10000.0),
    WaterParameter("ecoli", "E. coli / coliforms", PER_100ML, 0.0, 1e12),
    WaterParameter("arsenic", "Arsenic", MG_L, 0.0, 1000.0),
    WaterParameter("lead", "Lead", MG_L, 0.0, 1000.0),
]}

_ALIASES = {"dissolved_oxygen": "do", "dissolvedoxygen": "do", "e_coli": "ecoli", "e.coli": "ecoli",
            "coliform": "ecoli", "as": "arsenic", "pb": "lead", "nh3": "ammonia", "no3": "nitrate",
            "ph_value": "ph", "bod5": "bod"}

# unit spelling (lower-cased, spaces removed) -> (canonical unit, factor to multiply by)
_UNITS = {
    "mg/l": (MG_L, 1.0), "mgl": (MG_L, 1.0), "mg/litre": (MG_L, 1.0), "ppm": (MG_L, 1.0),
    "µg/l": (MG_L, 1e-3), "μg/l": (MG_L, 1e-3), "ug/l": (MG_L, 1e-3), "ppb": (MG_L, 1e-3),
    "g/l": (MG_L, 1e3),
    "ntu": (NTU, 1.0), "fnu": (NTU, 1.0),
    "ph": (PH, 1.0), "": (PH, 1.0), "-": (PH, 1.0),
    "cfu/100ml": (PER_100ML, 1.0), "mpn/100ml": (PER_100ML, 1.0), "n/100ml": (PER_100ML, 1.0),
    "#/100ml": (PER_100ML, 1.0), "/100ml": (PER_100ML, 1.0),
    "cfu/ml": (PER_100ML, 100.0), "mpn/ml": (PER_100ML, 100.0), "cfu/l": (PER_100ML, 0.01),
}


def resolve(key: str) -> WaterParameter:
    k = str(key).strip().lower().replace(" ", "_")
    k = _ALIASES.get(k, k)
    if k not in PARAMETERS:
        raise InvalidInput(f"unknown water parameter {key!r}; known: {', '.join(PARAMETERS)}", field="parameter")
    return PARAMETERS[k]


def factor(parameter: str, unit: str | None) -> float:
    """Multiplier taking a value in ``unit`` to ``parameter``'s canonical unit (None/'' = canonical)."""
    p = resolve(parameter)
    if unit is None or str(unit).strip() == "" and p.unit != PH:
        return 1.0
    u = str(unit).strip().lower().replace(" ", "")
    if u not in _UNITS or _UNITS[u][0] != p.unit:
        raise InvalidInput(f"{p.key}: cannot convert {unit!r} to {p.unit}", field="unit")
    return _UNITS[u][1]


def to_canonical(parameters: list[str], values, units: list[str | None]) -> np.ndarray:
    """Vectorised conversion: one factor per distinct (parameter, unit), applied as an array product."""
    vals = np.asarray(values, dtype=float)
    cache: dict[tuple[str, str | None], float] = {}
    f = np.empty(len(vals))
    for i, (p, u) in enumerate(zip(parameters, units)):
        k = (p, u)
        if k not in cache:
            cache[k] = factor(p, u)
        f[i] = cache[k]
    return vals * f
