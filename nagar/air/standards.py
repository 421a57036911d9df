"""Air-quality index standards as data: loading, validation and lookups.

Every index Nagar computes is described by one JSON table in ``nagar/air/standards/`` (shipped) or in a
folder of user tables. A table names its source document, table and edition, its categories and, for each
pollutant, the breakpoint rows ``[c_lo, c_hi, i_lo, i_hi]`` together with the precision rule the standard
applies to concentrations before the lookup. This module turns a table into frozen dataclasses
(:class:`Standard`, :class:`Pollutant`, :class:`Category`) and rejects malformed user tables with an
:class:`~nagar.core.errors.InvalidInput` naming the offending field.

The loader is the only place in ``nagar.air`` that reads files; the computations in :mod:`nagar.air.aqi`
take a :class:`Standard` (or its id) and do no I/O.

Table fields
------------
``id``, ``name``, ``source``, ``edition``
    Identity and full citation (document, table, edition, date, URL).
``scale_max``
    Nominal top of the index scale (500 for EPA and CPCB).
``index_rounding``
    ``"round"`` (nearest integer, halves upward) or ``"none"`` (keep the interpolated value).
``above_scale``
    Default behaviour above the last breakpoint row: ``"extrapolate"`` (continue the last row's line),
    ``"cap"`` (the last row's upper index) or ``"nan"`` (undefined). A pollutant may override it with
    ``above_top``.
``min_pollutants``, ``requires_any``
    An AQI is reported only where at least ``min_pollutants`` distinct parameters have a sub-index and, when
    ``requires_any`` is not empty, one of those parameters is among them (India: 3, PM2.5 or PM10).
``city_rule``, ``city_min_stations``
    How stations combine into a city value: ``"max_station"`` or ``"mean_station"``.
``provisional``
    True when the table is a documented placeholder whose numbers are not verified against the issuing
    authority's own publication.
``categories``
    ``[{key, name, lo, hi, colour}]``; ``hi`` of the last category may be ``null`` (open-ended).
``pollutants``
    ``[{key, parameter, averaging, hourly, unit, decimals, rounding, breakpoints, above_top?, only_when?}]``.
    ``only_when: {"key": k, "above": v}`` restricts a pollutant to rows where pollutant ``k`` is above ``v``
    or missing (India's O3 1-hour rule).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from nagar.core.errors import InvalidInput, NotFound
from nagar.core.units import PARAMETERS, conversion_factor, normalise_parameter, normalise_unit

__all__ = [
    "Category",
    "OnlyWhen",
    "Pollutant",
    "Standard",
    "STANDARDS_DIR",
    "load_standard",
    "list_standards",
    "standard_from_dict",
    "AQI_PARAMETERS",
    "AVERAGINGS",
]

STANDARDS_DIR = Path(__file__).with_name("standards")
"""Folder of the shipped standard tables (one ``<id>.json`` each)."""

AQI_PARAMETERS = ("pm25", "pm10", "o3", "no2", "so2", "co")
"""Parameters an index table may use (keys of :data:`nagar.core.units.PARAMETERS`)."""

AVERAGINGS = ("1h", "8h", "24h")
"""Averaging periods a breakpoint table may be stated for."""

_HOURLY = ("nowcast",) + AVERAGINGS
_ROUNDING = ("truncate", "round")
_INDEX_ROUNDING = ("round", "none")
_ABOVE = ("extrapolate", "cap", "nan")
_CITY_RULES = ("max_station", "mean_station")
_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_COLOUR_RE = re.compile(r"^#[0-9A-Fa-f]{6}$")

_TOP_FIELDS = {
    "id", "name", "source", "edition", "scale_max", "index_rounding", "above_scale", "provisional",
    "min_pollutants", "requires_any", "city_rule", "city_min_stations", "notes", "categories", "pollutants",
}
_POLLUTANT_FIELDS = {
    "key", "parameter", "averaging", "hourly", "unit", "decimals", "rounding", "breakpoints", "above_top",
    "only_when",
}
_CATEGORY_FIELDS = {"key", "name", "lo", "hi", "colour"}


@dataclass(frozen=True)
class Category:
    """One named band of the index scale.

    Attributes
    ----------
    key : str
        Stable slug (``"good"``, ``"very_unhealthy"``) for code and translations.
    name : str
        English name as the standard prints it.
    lo, hi : float
        Index range; ``hi`` is ``None`` for an open-ended top category.
    colour : str
        ``#RRGGBB`` as published by the standard.
    """

    key: str
    name: str
    lo: float
    hi: float | None
    colour: str


@dataclass(frozen=True)
class OnlyWhen:
    """Use a pollutant only where pollutant ``key`` is above ``above`` (or missing)."""

    key: str
    above: float


@dataclass(frozen=True)
class Pollutant:
    """A pollutant row-set of a standard: one parameter at one averaging period.

    Attributes
    ----------
    key : str
        ``<parameter>_<averaging>``, e.g. ``"pm25_24h"``.
    parameter : str
        Canonical parameter key (``"pm25"``, ``"o3"`` ...).
    averaging : str
        ``"1h"``, ``"8h"`` or ``"24h"``.
    hourly : str
        Method for an hourly "current" value: ``"nowcast"`` (EPA PM) or an averaging period.
    unit : str
        Unit of the breakpoints (and of the concentrations the functions expect).
    decimals : int
        Digits kept before the lookup.
    rounding : str
        ``"truncate"`` or ``"round"`` (halves upward) at ``decimals``.
    breakpoints : tuple of (c_lo, c_hi, i_lo, i_hi)
        Rows in increasing order.
    above_top : str
        ``"extrapolate"``, ``"cap"`` or ``"nan"`` above the last row.
    only_when : OnlyWhen or None
        Conditional use (see :class:`OnlyWhen`).
    """

    key: str
    parameter: str
    averaging: str
    hourly: str
    unit: str
    decimals: int
    rounding: str
    breakpoints: tuple[tuple[float, float, float, float], ...]
    above_top: str
    only_when: OnlyWhen | None = None
    # Lookup arrays on the integer grid of the precision rule (c * 10**decimals), built once.
    scale: float = field(init=False, repr=False, compare=False)
    c_lo: np.ndarray = field(init=False, repr=False, compare=False)
    c_hi: np.ndarray = field(init=False, repr=False, compare=False)
    i_lo: np.ndarray = field(init=False, repr=False, compare=False)
    i_hi: np.ndarray = field(init=False, repr=False, compare=False)
    _cache: dict = field(init=False, repr=False, compare=False, default_factory=dict)
    """Per-object memo for derived lookup tables (see :func:`nagar.air.aqi._lut`)."""

    def __post_init__(self) -> None:
        scale = float(10 ** self.decimals)
        bp = np.asarray(self.breakpoints, dtype=float).reshape(-1, 4)
        object.__setattr__(self, "scale", scale)
        object.__setattr__(self, "c_lo", np.rint(bp[:, 0] * scale))
        object.__setattr__(self, "c_hi", np.rint(bp[:, 1] * scale))
        object.__setattr__(self, "i_lo", bp[:, 2].copy())
        object.__setattr__(self, "i_hi", bp[:, 3].copy())
        for a in (self.c_lo, self.c_hi, self.i_lo, self.i_hi):
            a.setflags(write=False)

    @property
    def top(self) -> float:
        """Highest concentration of the table [``unit``]."""
        return self.breakpoints[-1][1]


@dataclass(frozen=True)
class Standard:
    """An air-quality index standard loaded from its table. See the module docstring for the fields."""

    id: str
    name: str
    source: str
    edition: str
    scale_max: float
    categories: tuple[Category, ...]
    pollutants: tuple[Pollutant, ...]
    min_pollutants: int = 1
    requires_any: tuple[str, ...] = ()
    city_rule: str = "max_station"
    city_min_stations: int = 1
    index_rounding: str = "round"
    above_scale: str = "extrapolate"
    provisional: bool = False
    notes: tuple[str, ...] = ()

    # ----------------------------------------------------------------------------------------------
    @property
    def keys(self) -> tuple[str, ...]:
        """Pollutant keys in table order."""
        return tuple(p.key for p in self.pollutants)

    @property
    def parameters(self) -> tuple[str, ...]:
        """Distinct parameters in table order."""
        return tuple(dict.fromkeys(p.parameter for p in self.pollutants))

    def pollutant(self, key: str) -> Pollutant:
        """The :class:`Pollutant` for ``key`` (a pollutant key or a bare parameter)."""
        k = self.resolve_key(key)
        for p in self.pollutants:
            if p.key == k:
                return p
        raise AssertionError("unreachable")  # pragma: no cover

    def resolve_key(self, name: str) -> str:
        """Map a pollutant key or a bare parameter to the standard's pollutant key.

        A bare parameter resolves to its default averaging: the first row-set listed for it in the table
        (``"pm25" -> "pm25_24h"``, ``"o3" -> "o3_8h"`` for EPA). Parameter spellings understood by
        :func:`nagar.core.units.normalise_parameter` (``"PM2.5"``, ``"ozone"``) are accepted.

        Raises
        ------
        InvalidInput
            When the standard has no such pollutant.
        """
        s = str(name).strip()
        if s in self.keys:
            return s
        low = s.lower()
        if low in self.keys:
            return low
        param = normalise_parameter(low)
        if param is not None:
            for p in self.pollutants:
                if p.parameter == param:
                    return p.key
        raise InvalidInput(
            f"standard {self.id!r} has no pollutant {name!r}; known: {', '.join(self.keys)}",
            field="pollutant",
        )

    def category_of(self, aqi: Any) -> Any:
        """Index into :attr:`categories` for each AQI value; -1 where the AQI is missing or negative.

        Values above the last category's ``hi`` (e.g. EPA "Beyond the AQI" above 500) fall in the last
        category. Values between one category's ``hi`` and the next ``lo`` (possible only for unrounded
        indices such as 50.5) belong to the lower category.

        Parameters
        ----------
        aqi : float, array-like or polars.Series
            Index values [-].

        Returns
        -------
        int, numpy.ndarray of int16 or polars.Series
            Same kind as the input.
        """
        arr, kind = _as_array(aqi)
        idx = np.zeros(arr.shape, dtype=np.int16)
        for c in self.categories[1:]:  # count of category starts <= aqi, minus the first
            idx += arr >= c.lo
        idx[~(arr >= self.categories[0].lo)] = -1  # NaN and below the scale
        return _restore(idx, kind, name="category")

    def category(self, aqi: float) -> Category | None:
        """The :class:`Category` of a single AQI value, or ``None``."""
        i = int(self.category_of(float(aqi)))
        return None if i < 0 else self.categories[i]

    def to_dict(self) -> dict:
        """The table as plain data (the JSON layout it was loaded from)."""
        d: dict[str, Any] = {
            "id": self.id, "name": self.name, "source": self.source, "edition": self.edition,
            "scale_max": self.scale_max, "index_rounding": self.index_rounding,
            "above_scale": self.above_scale, "provisional": self.provisional,
            "min_pollutants": self.min_pollutants, "requires_any": list(self.requires_any),
            "city_rule": self.city_rule, "city_min_stations": self.city_min_stations,
            "notes": list(self.notes),
            "categories": [
                {"key": c.key, "name": c.name, "lo": c.lo, "hi": c.hi, "colour": c.colour}
                for c in self.categories
            ],
            "pollutants": [],
        }
        for p in self.pollutants:
            pd_: dict[str, Any] = {
                "key": p.key, "parameter": p.parameter, "averaging": p.averaging, "hourly": p.hourly,
                "unit": p.unit, "decimals": p.decimals, "rounding": p.rounding,
                "breakpoints": [list(r) for r in p.breakpoints], "above_top": p.above_top,
            }
            if p.only_when is not None:
                pd_["only_when"] = {"key": p.only_when.key, "above": p.only_when.above}
            d["pollutants"].append(pd_)
        return d


# --------------------------------------------------------------------------------------------------
# array kinds: the functions of nagar.air return the kind they were given (pvlib habit)


def _as_array(x: Any) -> tuple[np.ndarray, tuple]:
    """``x`` as a float64 array plus a tag to restore its kind (scalar, numpy, polars, sequence)."""
    mod = type(x).__module__
    if mod.startswith("polars"):
        return x.cast(float).to_numpy().astype(float, copy=False), ("polars", x.name)
    if np.ndim(x) == 0 and not isinstance(x, np.ndarray):
        return np.array([np.nan if x is None else x], dtype=float), ("scalar",)
    if isinstance(x, np.ndarray):
        return (x if x.dtype == np.float64 else x.astype(float)), ("numpy",)
    return np.asarray([np.nan if v is None else v for v in x], dtype=float), ("numpy",)


def _restore(arr: np.ndarray, kind: tuple, name: str = "") -> Any:
    """Undo :func:`_as_array` for a result array of the same length."""
    if kind[0] == "scalar":
        return arr.reshape(-1)[0].item()
    if kind[0] == "polars":
        import polars as pl

        return pl.Series(kind[1] or name, arr)
    return arr


# --------------------------------------------------------------------------------------------------
# validation


def _fail(msg: str, fld: str) -> InvalidInput:
    return InvalidInput(f"{fld}: {msg}", field=fld)


def _num(v: Any, fld: str, *, allow_none: bool = False) -> float | None:
    if v is None and allow_none:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise _fail(f"must be a finite number, got {v!r}", fld)
    return float(v)


def _int(v: Any, fld: str, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise _fail(f"must be an integer in [{lo}, {hi}], got {v!r}", fld)
    return v


def _str(v: Any, fld: str) -> str:
    if not isinstance(v, str) or not v.strip():
        raise _fail(f"must be a non-empty string, got {v!r}", fld)
    return v


def _choice(v: Any, fld: str, choices: tuple[str, ...]) -> str:
    if v not in choices:
        raise _fail(f"must be one of {', '.join(choices)}, got {v!r}", fld)
    return v


def _on_grid(v: float, decimals: int) -> bool:
    scaled = v * 10**decimals
    return abs(scaled - round(scaled)) <= 1e-6 * max(1.0, abs(scaled))


def _pollutant_from_dict(d: Any, i: int, above_default: str) -> Pollutant:
    base = f"pollutants[{i}]"
    if not isinstance(d, dict):
        raise _fail("must be an object", base)
    unknown = set(d) - _POLLUTANT_FIELDS
    if unknown:
        raise _fail(f"unknown field(s) {', '.join(sorted(unknown))}", base)
    for req in ("key", "parameter", "averaging", "unit", "decimals", "rounding", "breakpoints"):
        if req not in d:
            raise _fail("is required", f"{base}.{req}")
    key = _str(d["key"], f"{base}.key")
    if not _KEY_RE.match(key):
        raise _fail("must be a lower-case slug like 'pm25_24h'", f"{base}.key")
    param = d["parameter"]
    if param not in AQI_PARAMETERS:
        raise _fail(f"unknown parameter {param!r}; known: {', '.join(AQI_PARAMETERS)}", f"{base}.parameter")
    averaging = _choice(d["averaging"], f"{base}.averaging", AVERAGINGS)
    hourly = _choice(d.get("hourly", averaging), f"{base}.hourly", _HOURLY)
    unit_raw = _str(d["unit"], f"{base}.unit")
    unit = normalise_unit(unit_raw)
    if unit is None:
        raise _fail(f"unknown unit {unit_raw!r}; use µg/m³, mg/m³, ppb or ppm", f"{base}.unit")
    try:
        conversion_factor(param, unit, PARAMETERS[param].unit)
    except InvalidInput as e:
        raise _fail(f"{unit} is not a unit for {param} ({e.message})", f"{base}.unit") from None
    decimals = _int(d["decimals"], f"{base}.decimals", 0, 6)
    rounding = _choice(d["rounding"], f"{base}.rounding", _ROUNDING)
    above_top = _choice(d.get("above_top", above_default), f"{base}.above_top", _ABOVE)

    rows = d["breakpoints"]
    if not isinstance(rows, list) or not rows:
        raise _fail("must be a non-empty list of [c_lo, c_hi, i_lo, i_hi]", f"{base}.breakpoints")
    bps: list[tuple[float, float, float, float]] = []
    unit_step = 10.0 ** -decimals
    for j, row in enumerate(rows):
        f = f"{base}.breakpoints[{j}]"
        if not isinstance(row, (list, tuple)) or len(row) != 4:
            raise _fail("must be [c_lo, c_hi, i_lo, i_hi]", f)
        c_lo, c_hi, i_lo, i_hi = (_num(v, f) for v in row)
        if c_lo < 0 or i_lo < 0:
            raise _fail("concentrations and index values must be >= 0", f)
        if not c_hi > c_lo:
            raise _fail(f"c_hi ({c_hi}) must be greater than c_lo ({c_lo})", f)
        if not i_hi > i_lo:
            raise _fail(f"i_hi ({i_hi}) must be greater than i_lo ({i_lo})", f)
        if not (_on_grid(c_lo, decimals) and _on_grid(c_hi, decimals)):
            raise _fail(f"breakpoints must be multiples of {unit_step:g} (decimals={decimals})", f)
        if bps:
            p_lo, p_hi, pi_lo, pi_hi = bps[-1]
            if c_lo < p_hi:
                raise _fail(f"breakpoints must increase: c_lo {c_lo} is below the previous c_hi {p_hi}", f)
            if c_lo - p_hi > unit_step * (1 + 1e-9):
                raise _fail(
                    f"gap between previous c_hi {p_hi} and c_lo {c_lo} is wider than one unit of the "
                    f"precision rule ({unit_step:g}); values in it would have no index", f)
            if not (i_lo == pi_hi or i_lo == pi_hi + 1):
                raise _fail(f"index ranges must be contiguous: i_lo {i_lo} should be {pi_hi} or {pi_hi + 1}", f)
        bps.append((c_lo, c_hi, i_lo, i_hi))

    only_when = None
    if d.get("only_when") is not None:
        ow = d["only_when"]
        f = f"{base}.only_when"
        if not isinstance(ow, dict) or set(ow) != {"key", "above"}:
            raise _fail('must be {"key": <pollutant key>, "above": <number>}', f)
        only_when = OnlyWhen(_str(ow["key"], f + ".key"), _num(ow["above"], f + ".above"))

    return Pollutant(key=key, parameter=param, averaging=averaging, hourly=hourly, unit=unit,
                     decimals=decimals, rounding=rounding, breakpoints=tuple(bps), above_top=above_top,
                     only_when=only_when)


def _categories_from_list(cats: Any, scale_max: float) -> tuple[Category, ...]:
    if not isinstance(cats, list) or not cats:
        raise _fail("must be a non-empty list", "categories")
    out: list[Category] = []
    keys: set[str] = set()
    for i, c in enumerate(cats):
        base = f"categories[{i}]"
        if not isinstance(c, dict):
            raise _fail("must be an object", base)
        unknown = set(c) - _CATEGORY_FIELDS
        if unknown:
            raise _fail(f"unknown field(s) {', '.join(sorted(unknown))}", base)
        for req in ("key", "name", "lo", "colour"):
            if req not in c:
                raise _fail("is required", f"{base}.{req}")
        key = _str(c["key"], f"{base}.key")
        if not _KEY_RE.match(key):
            raise _fail("must be a lower-case slug like 'very_unhealthy'", f"{base}.key")
        if key in keys:
            raise _fail(f"duplicate category key {key!r}", f"{base}.key")
        keys.add(key)
        lo = _num(c["lo"], f"{base}.lo")
        hi = _num(c.get("hi"), f"{base}.hi", allow_none=True)
        colour = _str(c["colour"], f"{base}.colour")
        if not _COLOUR_RE.match(colour):
            raise _fail(f"must be a #RRGGBB colour, got {colour!r}", f"{base}.colour")
        if hi is not None and not hi > lo:
            raise _fail(f"hi ({hi}) must be greater than lo ({lo})", f"{base}.hi")
        if i == 0 and lo != 0:
            raise _fail("the first category must start at 0 so that the categories cover the scale", f"{base}.lo")
        if out:
            prev = out[-1]
            if prev.hi is None:
                raise _fail("only the last category may be open-ended (hi null)", f"categories[{i - 1}].hi")
            if not (lo == prev.hi or lo == prev.hi + 1):
                raise _fail(f"categories must be contiguous: lo {lo} should be {prev.hi} or {prev.hi + 1}",
                            f"{base}.lo")
        out.append(Category(key=key, name=_str(c["name"], f"{base}.name"), lo=lo, hi=hi, colour=colour))
    last = out[-1]
    if last.hi is not None and last.hi < scale_max:
        raise _fail(f"categories end at {last.hi} but the scale goes to {scale_max}",
                    f"categories[{len(out) - 1}].hi")
    return tuple(out)


def standard_from_dict(d: Any) -> Standard:
    """Validate a table (parsed JSON) and build a :class:`Standard`.

    Raises
    ------
    InvalidInput
        With ``field`` set to the path of the first offending entry, e.g.
        ``"pollutants[0].breakpoints[2]"``.
    """
    if not isinstance(d, dict):
        raise _fail("a standard must be a JSON object", "standard")
    unknown = {k for k in d if not k.startswith("_")} - _TOP_FIELDS
    if unknown:
        raise _fail(f"unknown field(s) {', '.join(sorted(unknown))}", "standard")
    for req in ("id", "name", "source", "edition", "scale_max", "categories", "pollutants"):
        if req not in d:
            raise _fail("is required", req)
    sid = _str(d["id"], "id")
    if not _ID_RE.match(sid):
        raise _fail("must be a lower-case id like 'us-epa-2024'", "id")
    scale_max = _num(d["scale_max"], "scale_max")
    if scale_max <= 0:
        raise _fail("must be positive", "scale_max")
    index_rounding = _choice(d.get("index_rounding", "round"), "index_rounding", _INDEX_ROUNDING)
    above_scale = _choice(d.get("above_scale", "extrapolate"), "above_scale", _ABOVE)
    provisional = d.get("provisional", False)
    if not isinstance(provisional, bool):
        raise _fail("must be true or false", "provisional")
    categories = _categories_from_list(d["categories"], scale_max)

    raw = d["pollutants"]
    if not isinstance(raw, list) or not raw:
        raise _fail("must be a non-empty list", "pollutants")
    pollutants = tuple(_pollutant_from_dict(p, i, above_scale) for i, p in enumerate(raw))
    seen: set[str] = set()
    for i, p in enumerate(pollutants):
        if p.key in seen:
            raise _fail(f"duplicate pollutant key {p.key!r}", f"pollutants[{i}].key")
        seen.add(p.key)
    for i, p in enumerate(pollutants):
        if p.only_when is not None and p.only_when.key not in seen:
            raise _fail(f"refers to unknown pollutant {p.only_when.key!r}", f"pollutants[{i}].only_when.key")

    params = {p.parameter for p in pollutants}
    min_pollutants = _int(d.get("min_pollutants", 1), "min_pollutants", 1, len(params))
    req_any = d.get("requires_any", [])
    if not isinstance(req_any, list) or any(r not in params for r in req_any):
        raise _fail(f"must be a list of parameters of this standard ({', '.join(sorted(params))})",
                    "requires_any")
    city_rule = _choice(d.get("city_rule", "max_station"), "city_rule", _CITY_RULES)
    city_min = _int(d.get("city_min_stations", 1), "city_min_stations", 1, 1000)
    notes = d.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise _fail("must be a list of strings", "notes")
    return Standard(
        id=sid, name=_str(d["name"], "name"), source=_str(d["source"], "source"),
        edition=_str(str(d["edition"]), "edition"), scale_max=scale_max, categories=categories,
        pollutants=pollutants, min_pollutants=min_pollutants, requires_any=tuple(req_any),
        city_rule=city_rule, city_min_stations=city_min, index_rounding=index_rounding,
        above_scale=above_scale, provisional=provisional, notes=tuple(notes),
    )


# --------------------------------------------------------------------------------------------------
# loading


def _read(path: Path) -> Standard:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise NotFound(f"cannot read standard table {str(path)!r}: {e.strerror}", field="standard") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidInput(f"{path.name}: not valid JSON ({e.msg} at line {e.lineno})", field="standard") from None
    return standard_from_dict(data)


@lru_cache(maxsize=None)
def _shipped(sid: str) -> Standard:
    std = _read(STANDARDS_DIR / f"{sid}.json")
    if std.id != sid:  # pragma: no cover - guards the shipped files
        raise InvalidInput(f"{sid}.json declares id {std.id!r}", field="id")
    return std


def shipped_ids() -> tuple[str, ...]:
    """Ids of the tables shipped with Nagar."""
    return tuple(sorted(p.stem for p in STANDARDS_DIR.glob("*.json")))


def load_standard(id_or_path: str | Path | Standard) -> Standard:
    """Load a standard by shipped id (``"us-epa-2024"``) or from a JSON file path.

    A :class:`Standard` passed in is returned unchanged. Shipped tables are parsed once and cached.

    Raises
    ------
    NotFound
        Unknown id or unreadable file.
    InvalidInput
        The file is not a valid table (see :func:`standard_from_dict`).
    """
    if isinstance(id_or_path, Standard):
        return id_or_path
    if isinstance(id_or_path, str) and id_or_path in shipped_ids():
        return _shipped(id_or_path)
    p = Path(id_or_path)
    if p.suffix.lower() == ".json" or p.exists():
        if not p.is_file():
            raise NotFound(f"no standard table at {str(p)!r}", field="standard")
        return _read(p)
    raise NotFound(f"unknown standard {str(id_or_path)!r}; shipped: {', '.join(shipped_ids())}",
                   field="standard")


def list_standards(extra_dir: str | Path | None = None) -> list[Standard]:
    """All shipped standards plus every ``*.json`` table in ``extra_dir``, sorted by id.

    Raises
    ------
    InvalidInput
        A user table is malformed, or reuses the id of another table.
    NotFound
        ``extra_dir`` does not exist.
    """
    out = {sid: _shipped(sid) for sid in shipped_ids()}
    if extra_dir is not None:
        d = Path(extra_dir)
        if not d.is_dir():
            raise NotFound(f"no folder {str(d)!r}", field="extra_dir")
        for f in sorted(d.glob("*.json")):
            std = _read(f)
            if std.id in out:
                raise InvalidInput(f"{f.name}: id {std.id!r} is already used by another standard", field="id")
            out[std.id] = std
    return [out[k] for k in sorted(out)]
