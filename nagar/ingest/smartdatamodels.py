"""FIWARE Smart Data Model ``AirQualityObserved`` entities -> Nagar observation rows.

Pure functions: an entity (a parsed JSON object) in, rows shaped like ``ObservationIn`` out, plus the
attribute-level problems; validation, unit conversion and storage happen in the one ingest path.

What is read
------------
The three serialisations of an entity are accepted:

* *key-values* (NGSI v2 ``?options=keyValues``, the form IoT devices usually send):
  ``{"type": "AirQualityObserved", "dateObserved": "...", "pm25": 41.0, "refDevice": "...", ...}``;
* *normalized NGSI v2*: each attribute ``{"type": "Number", "value": 41.0,
  "metadata": {"unitCode": {"value": "GQ"}, "timestamp": {"value": "..."}}}``;
* *NGSI-LD*: each attribute ``{"type": "Property", "value": 41.0, "unitCode": "GQ", "observedAt": "..."}``.

Attributes mapped (matched ignoring case, ``.`` and ``_``, so the model's ``pm25``/``no2`` and the
older spec's chemical-formula names ``PM2.5``/``NO2`` both work): ``pm25, pm10, pm1, no2, no, o3, so2,
co, temperature, relativeHumidity``. Other attributes (``co2``, ``nox``, ``airQualityIndex``, ...) are
not Nagar parameters and are ignored (listed in :attr:`AqoRows.ignored`).

Units. The model's schema gives pollutant attributes no unit; its specification says each pollutant
attribute carries a mandatory ``unitCode`` metadatum with a UN/CEFACT common code ("``GP`` represents
milligrams per cubic meter and ``GQ`` represents micrograms per cubic meter"). The key-values form
drops metadata, so:

1. a ``unitCode`` on the attribute (normalized / NGSI-LD) wins;
2. else a key-values ``measurand`` list (``"NO2,8.0,GQ,Nitrogen Dioxide"``, as in the model's public
   Madrid instance) gives the code;
3. else the default: ``GQ`` (µg/m³) for every pollutant but CO, ``GP`` (mg/m³) for CO, as in the
   model's normalized example (``CO`` in ``GP``; ``NO``, ``NO2``, ``SO2``, ``NOx`` in ``GQ``) and EU
   reporting practice. ``default_units`` overrides this per parameter.

``temperature`` is in degrees Celsius (the spec's inline weather properties: "Default unit: Degrees
centigrades"); ``relativeHumidity`` is "a number between 0 and 1 representing the range of 0% to 100%"
(schema), converted to percent; a value above 1 is refused unless it comes with ``unitCode`` ``P1``
(percent).

Time: ``dateObserved`` is "an specific time instant or ... an ISO8601 interval"; for an interval
``start/end`` the start is used (an hourly mean 11:00/12:00 belongs to the 11:00 hour, as Nagar's
hourly means bucket by the start of the hour). An attribute's own ``timestamp`` metadatum (v2) or
``observedAt`` (LD) overrides it.

Station: the Nagar station id is the topic's station when the entity arrives on a station topic,
else the first of ``refDevice``, ``refPointOfInterest``, ``stationCode`` present, with a URN prefix
(``urn:ngsi-ld:Device:``) removed.

References
----------
FIWARE Foundation, Smart Data Models, dataModel.Environment ``AirQualityObserved``: ``schema.json``
(schemaVersion 0.1.3/0.1.4) and ``doc/spec.md``,
https://github.com/smart-data-models/dataModel.Environment/tree/master/AirQualityObserved.
UN/CEFACT Recommendation 20, "Codes for Units of Measure Used in International Trade" (GQ, GP, 59,
61, CEL, P1, C62).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

UNIT_CODES: dict[str, str] = {
    "GQ": "µg/m³",   # microgram per cubic metre
    "GP": "mg/m³",   # milligram per cubic metre
    "59": "ppm",     # part per million
    "61": "ppb",     # part per billion
    "CEL": "°C",     # degree Celsius
    "P1": "%",       # percent
    "C62": "1",      # one (a dimensionless fraction)
}
"""UN/CEFACT Rec. 20 codes -> Nagar unit spellings (``1`` marks a fraction, used for humidity)."""

ATTRIBUTES: dict[str, str] = {
    "pm25": "pm25", "pm10": "pm10", "pm1": "pm1", "no2": "no2", "no": "no", "o3": "o3", "so2": "so2",
    "co": "co", "temperature": "temperature", "relativehumidity": "relativehumidity",
}
"""Model attribute (lower case, without ``.`` and ``_``) -> Nagar parameter."""

DEFAULT_UNIT_CODES: dict[str, str] = {
    "pm25": "GQ", "pm10": "GQ", "pm1": "GQ", "no2": "GQ", "no": "GQ", "o3": "GQ", "so2": "GQ", "co": "GP",
    "temperature": "CEL", "relativehumidity": "C62",
}
"""Unit codes assumed when an attribute carries none (key-values form); see the module docstring."""

_STATION_ATTRS = ("refDevice", "refPointOfInterest", "stationCode")
_NOT_MEASUREMENTS = {"id", "type", "dateobserved", "location", "address", "measurand", "@context", "refdevice",
                     "refpointofinterest", "stationcode", "source", "dataprovider", "name", "description",
                     "datecreated", "datemodified", "areaserved", "typeoflocation", "owner", "seealso",
                     "alternatename", "refweatherobserved", "validity", "hour", "stationname"}


@dataclass
class AqoRows:
    """Rows from one entity, the problems of single attributes, and the attributes not mapped."""

    rows: list[dict] = field(default_factory=list)
    """``{"station", "parameter", "time", "value", "unit", "attribute"}`` each."""
    errors: list[tuple[str, str]] = field(default_factory=list)
    """(attribute, reason); ``("entity", reason)`` when the whole entity is unusable."""
    ignored: list[str] = field(default_factory=list)


def is_air_quality_observed(obj: Any) -> bool:
    """True for an entity whose ``type`` is AirQualityObserved (any of the three serialisations)."""
    return isinstance(obj, dict) and _plain(obj.get("type")) == "AirQualityObserved"


def _norm(name: str) -> str:
    return name.lower().replace(".", "").replace("_", "")


def _plain(v: Any) -> Any:
    """The value of a key-values attribute, or of a normalized/LD one (``value``, ``object``, ``@value``)."""
    if isinstance(v, dict):
        if "value" in v:
            v = v["value"]
        elif "object" in v:
            v = v["object"]
    if isinstance(v, dict) and "@value" in v:  # NGSI-LD typed literal {"@type": "DateTime", "@value": ...}
        v = v["@value"]
    return v


def _unit_code(attr: Any) -> str | None:
    if not isinstance(attr, dict):
        return None
    code = attr.get("unitCode")
    if code is None and isinstance(attr.get("metadata"), dict):
        code = _plain(attr["metadata"].get("unitCode"))
    return str(code) if code is not None else None


def _attr_time(attr: Any) -> str | None:
    if not isinstance(attr, dict):
        return None
    t = attr.get("observedAt")
    if t is None and isinstance(attr.get("metadata"), dict):
        t = _plain(attr["metadata"].get("timestamp"))
    return t if isinstance(t, str) else None


def _measurands(entity: dict) -> dict[str, tuple[Any, str | None]]:
    """The key-values ``measurand`` list: ``"NO2,8.0,GQ,Nitrogen Dioxide"`` -> {"no2": ("8.0", "GQ")}."""
    out: dict[str, tuple[Any, str | None]] = {}
    items = _plain(entity.get("measurand"))
    if not isinstance(items, list):
        return out
    for it in items:
        if not isinstance(it, str):
            continue
        parts = [p.strip() for p in it.split(",")]
        if len(parts) >= 3 and parts[0]:
            out[_norm(parts[0])] = (parts[1], parts[2] or None)
    return out


def station_of(entity: dict) -> str | None:
    """The Nagar station id an entity names (``refDevice``, ``refPointOfInterest``, ``stationCode``)."""
    for name in _STATION_ATTRS:
        v = _plain(entity.get(name))
        if isinstance(v, list):
            v = v[0] if v else None
        if isinstance(v, str) and v.strip():
            v = v.strip()
            return v.rsplit(":", 1)[-1] if v.lower().startswith("urn:") else v
    return None


def observation_time(value: Any) -> str | None:
    """``dateObserved`` as one instant: the start of an ISO 8601 interval ``start/end``."""
    v = _plain(value)
    if not isinstance(v, str) or not v.strip():
        return None
    return v.split("/", 1)[0].strip()


def airquality_observed_rows(entity: dict, *, station: str | None = None,
                             default_units: dict[str, str] | None = None) -> AqoRows:
    """Nagar rows for one AirQualityObserved entity (key-values, normalized NGSI v2 or NGSI-LD).

    Parameters
    ----------
    entity : dict
        The parsed entity.
    station : str, optional
        The station id to use (a station topic's); default: the one the entity names.
    default_units : dict, optional
        Nagar parameter -> UN/CEFACT code for attributes that carry no unit (default
        :data:`DEFAULT_UNIT_CODES`).

    Returns
    -------
    AqoRows
        Rows with the attribute's value as sent and its unit (conversion to Nagar's canonical units
        is done by validation), except relative humidity, converted here from a fraction to percent.
    """
    out = AqoRows()
    if not isinstance(entity, dict):
        out.errors.append(("entity", "an AirQualityObserved entity must be a JSON object"))
        return out
    kind = _plain(entity.get("type"))
    if kind != "AirQualityObserved":
        out.errors.append(("type", f"entity type must be AirQualityObserved, got {kind!r}"))
        return out
    sid = station or station_of(entity)
    if sid is None:
        out.errors.append(("refDevice", "entity names no station (refDevice, refPointOfInterest or stationCode)"))
        return out
    t0 = observation_time(entity.get("dateObserved"))
    units = {**DEFAULT_UNIT_CODES, **(default_units or {})}
    measurands = _measurands(entity)
    seen: set[str] = set()
    for name, attr in entity.items():
        key = _norm(name)
        if key in _NOT_MEASUREMENTS or key.endswith("level"):
            continue
        param = ATTRIBUTES.get(key)
        if param is None:
            out.ignored.append(name)
            continue
        seen.add(param)
        code = _unit_code(attr) or measurands.get(key, (None, None))[1]
        _append(out, name=name, param=param, value=_plain(attr), code=code, t=_attr_time(attr) or t0, sid=sid,
                units=units)
    for key, (value, code) in measurands.items():  # measurands that have no attribute of their own
        param = ATTRIBUTES.get(key)
        if param is not None and param not in seen:
            try:
                num: Any = float(value)
            except (TypeError, ValueError):
                num = value
            _append(out, name=f"measurand:{key}", param=param, value=num, code=code, t=t0, sid=sid, units=units)
    if not out.rows and not out.errors and t0 is None:
        out.errors.append(("dateObserved", "dateObserved is missing"))
    return out


def _append(out: AqoRows, *, name: str, param: str, value: Any, code: str | None, t: str | None, sid: str,
            units: dict[str, str]) -> None:
    if t is None:
        out.errors.append((name, "dateObserved is missing (and the attribute has no timestamp of its own)"))
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        out.errors.append((name, f"{name} must be a number, got {type(value).__name__}"))
        return
    code = code or units[param]
    unit = UNIT_CODES.get(code.upper() if code.isalpha() else code, code)
    if param == "relativehumidity" and unit == "1":
        if not 0.0 <= value <= 1.0:
            out.errors.append((name, f"relativeHumidity must be a fraction 0-1 per the model, got {value:g} "
                                     "(send unitCode P1 for percent)"))
            return
        value, unit = value * 100.0, "%"
    out.rows.append({"station": sid, "parameter": param, "time": t, "value": float(value), "unit": unit,
                     "attribute": name})
