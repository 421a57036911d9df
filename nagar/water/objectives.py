"""Objective sets per water use: the shipped ones (``objectives/*.json``, with their sources) and a
city's own, loaded as JSON or CSV.

A set is ``{id, name, use, source, edition?, notes?, objectives: {parameter: {lower?, upper?, unit?,
detection_limit?, verified?, note?}}}``. Bounds are converted to the parameter's canonical unit on load,
so everything downstream compares canonical values. CSV layout: a header ``parameter,lower,upper,unit``
(optional ``detection_limit,note``), one row per parameter; the set's id, name, use and source are given
beside the file (API body fields or CLI options).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from nagar.core.errors import InvalidInput, NotFound

from .parameters import factor, resolve

SHIPPED_DIR = Path(__file__).parent / "objectives"
USES = ("drinking", "fisheries", "irrigation", "industrial_discharge", "recreation", "other")
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")


@dataclass(frozen=True)
class Objective:
    parameter: str
    lower: float | None = None
    upper: float | None = None
    detection_limit: float | None = None
    """Used as the excursion's denominator where the objective is 0 (e.g. coliforms 0 per 100 mL)."""
    verified: bool | None = None
    note: str | None = None


@dataclass(frozen=True)
class ObjectiveSet:
    id: str
    name: str
    use: str
    source: str
    objectives: dict[str, Objective]
    edition: str | None = None
    notes: str | None = None
    city: str | None = None
    """None for a shipped set."""
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        from nagar.water.parameters import PARAMETERS

        return {"id": self.id, "name": self.name, "use": self.use, "source": self.source, "edition": self.edition,
                "notes": self.notes, "city": self.city, "shipped": self.city is None,
                "objectives": {k: {"lower": o.lower, "upper": o.upper, "unit": PARAMETERS[k].unit,
                                   "detection_limit": o.detection_limit, "verified": o.verified, "note": o.note}
                               for k, o in self.objectives.items()}}


def _num(v, where: str) -> float | None:
    if v is None or (isinstance(v, str) and v.strip() == ""):
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise InvalidInput(f"{where}: {v!r} is not a number", field=where) from None
    if not math.isfinite(x):
        raise InvalidInput(f"{where}: must be finite", field=where)
    return x


def parse_set(data: dict, *, city: str | None = None) -> ObjectiveSet:
    """Validate a set given as a dict; bounds converted to canonical units."""
    if not isinstance(data, dict):
        raise InvalidInput("an objective set must be a JSON object", field="body")
    sid = str(data.get("id") or "")
    if not _ID_RE.match(sid):
        raise InvalidInput("id: 2-64 characters, lower-case letters, digits and '-'", field="id")
    for k in ("name", "source"):
        if not str(data.get(k) or "").strip():
            raise InvalidInput(f"{k} is required (where do the values come from?)", field=k)
    use = data.get("use")
    if use not in USES:
        raise InvalidInput(f"use must be one of {', '.join(USES)}", field="use")
    raw = data.get("objectives")
    if not isinstance(raw, dict) or not raw:
        raise InvalidInput("objectives: give at least one parameter", field="objectives")
    objs: dict[str, Objective] = {}
    for key, o in raw.items():
        where = f"objectives.{key}"
        if not isinstance(o, dict):
            raise InvalidInput(f"{where}: must be an object", field=where)
        p = resolve(key)
        f = factor(p.key, o.get("unit"))
        lo, up = _num(o.get("lower"), f"{where}.lower"), _num(o.get("upper"), f"{where}.upper")
        dl = _num(o.get("detection_limit"), f"{where}.detection_limit")
        if lo is None and up is None:
            raise InvalidInput(f"{where}: give lower, upper or both", field=where)
        if lo is not None and up is not None and lo > up:
            raise InvalidInput(f"{where}: lower is above upper", field=where)
        if (lo is not None and lo < 0) or (up is not None and up < 0) or (dl is not None and dl <= 0):
            raise InvalidInput(f"{where}: bounds must be >= 0 and a detection limit > 0", field=where)
        if p.key in objs:
            raise InvalidInput(f"{where}: {p.key} given twice", field=where)
        objs[p.key] = Objective(p.key, None if lo is None else lo * f, None if up is None else up * f,
                                None if dl is None else dl * f,
                                None if o.get("verified") is None else bool(o.get("verified")),
                                None if o.get("note") is None else str(o.get("note"))[:500])
    return ObjectiveSet(id=sid, name=str(data["name"])[:200], use=use, source=str(data["source"])[:1000],
                        objectives=objs, edition=(str(data["edition"])[:500] if data.get("edition") else None),
                        notes=(str(data["notes"])[:2000] if data.get("notes") else None), city=city)


def parse_csv(text: str, *, meta: dict, city: str | None = None) -> ObjectiveSet:
    """A set from CSV rows ``parameter,lower,upper,unit[,detection_limit,note]`` plus ``meta`` (id, name, use,
    source)."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "parameter" not in [h.strip() for h in reader.fieldnames]:
        raise InvalidInput("CSV needs a header with parameter,lower,upper,unit", field="csv")
    objs: dict = {}
    for i, row in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        if not row.get("parameter"):
            raise InvalidInput(f"line {i}: parameter is empty", field="csv")
        if row["parameter"] in objs:
            raise InvalidInput(f"line {i}: {row['parameter']} given twice", field="csv")
        objs[row["parameter"]] = {k: row.get(k) or None for k in ("lower", "upper", "unit", "detection_limit",
                                                                  "note")}
    return parse_set({**meta, "objectives": objs}, city=city)


@lru_cache(maxsize=1)
def shipped_sets() -> tuple[ObjectiveSet, ...]:
    out = []
    for path in sorted(SHIPPED_DIR.glob("*.json")):
        out.append(parse_set(json.loads(path.read_text(encoding="utf-8"))))
    return tuple(out)


def available_sets(store, *, city: str, scope=None) -> list[ObjectiveSet]:
    """The shipped sets and the city's own (a city's set with a shipped id replaces it for that city)."""
    own = {}
    if hasattr(store, "water_objective_sets"):
        for r in store.water_objective_sets(city=city, scope=scope):
            own[r["id"]] = parse_set(json.loads(r["body"]), city=city)
    return [own.pop(s.id, s) for s in shipped_sets()] + list(own.values())


def get_set(store, *, city: str, set_id: str, scope=None) -> ObjectiveSet:
    for s in available_sets(store, city=city, scope=scope):
        if s.id == set_id:
            return s
    raise NotFound(f"no objective set {set_id!r} for {city}; see /api/v1/cities/{city}/water/objectives",
                   field="objectives")


DEFAULT_SET = "bd-ecr1997-fisheries"
