"""The NGSI-LD query languages over the internal entity form (ETSI GS CIM 009 V1.6.1):

* clause 4.9, "NGSI-LD Query Language" (``q``): comparisons ``==, !=, >, >=, <, <=``, pattern ``~=`` /
  ``!~=`` (regular expressions: IEEE 1003.2 in the spec, RE2 syntax here, see :mod:`.patterns`), ranges
  ``a..b``, value lists ``a,b,c``, logical ``;`` (and, binds tighter) and ``|`` (or), parentheses,
  attribute paths ``attr.subAttr`` (sub-attributes, or the members ``observedAt``/``unitCode``/
  ``datasetId``/``createdAt``/``modifiedAt``) and ``attr[key][key2]`` (into a JSON object value), and a
  bare attribute name (it exists). A multi-attribute matches when any instance does;
* clause 4.17, "Entity Type Selection Language" (``type``): ``,`` and ``|`` or, ``;`` and, parentheses;
* clause 4.10, "NGSI-LD Geo-query Language": ``georel`` near (``maxDistance`` / ``minDistance`` in metres,
  great-circle on the WGS 84 mean radius 6 371 008.8 m), within, contains, intersects, equals, disjoint,
  overlaps; ``geometry`` Point, MultiPoint, LineString, MultiLineString, Polygon, MultiPolygon;
  ``coordinates`` as JSON; ``geoproperty`` (default ``location``). Topology by shapely (planar on
  longitude/latitude, as GeoJSON is).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from .context import Context
from .entities import check_geometry
from .errors import BadRequestData
from .patterns import compile_pattern

Pred = Callable[[dict], bool]
_DT = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")
_META = {"observedAt", "unitCode", "datasetId", "createdAt", "modifiedAt"}


# type selection ---------------------------------------------------------------------------------
def parse_type_selection(expr: str, ctx: Context) -> tuple[Callable[[list[str]], bool], set[str]]:
    """A predicate over an entity's expanded types, and every type named (for a first SQL filter)."""
    names: set[str] = set()
    toks = re.findall(r"[(),;|]|[^(),;|]+", expr.replace(" ", ""))
    pos = 0

    def peek():
        return toks[pos] if pos < len(toks) else None

    def take():
        nonlocal pos
        pos += 1
        return toks[pos - 1]

    def atom():
        t = peek()
        if t is None:
            raise BadRequestData(f"type selection {expr!r} ends early", field="type")
        if t == "(":
            take()
            f = orx()
            if take_if(")") is None:
                raise BadRequestData(f"type selection {expr!r}: missing ')'", field="type")
            return f
        if t in "),;|":
            raise BadRequestData(f"type selection {expr!r}: unexpected {t!r}", field="type")
        take()
        iri = ctx.expand(t)
        names.add(iri)
        return lambda types, iri=iri: iri in types

    def take_if(tok):
        if peek() == tok:
            return take()
        return None

    def andx():
        fs = [atom()]
        while take_if(";"):
            fs.append(atom())
        return fs[0] if len(fs) == 1 else (lambda types: all(f(types) for f in fs))

    def orx():
        fs = [andx()]
        while peek() in (",", "|"):
            take()
            fs.append(andx())
        return fs[0] if len(fs) == 1 else (lambda types: any(f(types) for f in fs))

    if not toks:
        raise BadRequestData("type selection is empty", field="type")
    f = orx()
    if pos != len(toks):
        raise BadRequestData(f"type selection {expr!r}: unexpected {toks[pos]!r}", field="type")
    return f, names


# q -----------------------------------------------------------------------------------------------
@dataclass
class _Path:
    attr: str
    subs: list[str]
    keys: list[str]


class _Parser:
    def __init__(self, text: str, ctx: Context):
        self.s, self.i, self.ctx = text, 0, ctx

    def fail(self, why: str) -> BadRequestData:
        return BadRequestData(f"q: {why} at character {self.i} of {self.s!r}", field="q")

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def parse(self) -> Pred:
        if not self.s.strip():
            raise self.fail("empty query")
        f = self.orx()
        if self.i != len(self.s):
            raise self.fail(f"unexpected {self.peek()!r}")
        return f

    def orx(self) -> Pred:
        fs = [self.andx()]
        while self.peek() == "|":
            self.i += 1
            fs.append(self.andx())
        return fs[0] if len(fs) == 1 else (lambda e: any(f(e) for f in fs))

    def andx(self) -> Pred:
        fs = [self.atom()]
        while self.peek() == ";":
            self.i += 1
            fs.append(self.atom())
        return fs[0] if len(fs) == 1 else (lambda e: all(f(e) for f in fs))

    def atom(self) -> Pred:
        if self.peek() == "(":
            self.i += 1
            f = self.orx()
            if self.peek() != ")":
                raise self.fail("missing ')'")
            self.i += 1
            return f
        return self.term()

    def term(self) -> Pred:
        m = re.compile(r"[^=!<>~;|()\"]+").match(self.s, self.i)
        if not m:
            raise self.fail("an attribute name is expected")
        path = self.path(m.group(0).strip())
        self.i = m.end()
        op = None
        for cand in ("!~=", "==", "!=", ">=", "<=", "~=", ">", "<"):
            if self.s.startswith(cand, self.i):
                op = cand
                self.i += len(cand)
                break
        if op is None:
            if self.peek() not in ("", ";", "|", ")"):
                raise self.fail("an operator is expected")
            return lambda e: any(True for _ in _values(e, path))
        raw = self.value_text()
        if op in ("~=", "!~="):
            lit = _atom(raw)
            try:  # RE2, linear time: see patterns.py
                rx = compile_pattern(lit if isinstance(lit, str) else raw, "q")
            except BadRequestData as exc:
                raise BadRequestData(f"{exc.message}, at character {self.i} of {self.s!r}", field="q") from None
            if op == "~=":
                return lambda e: any(isinstance(v, str) and rx.search(v) for v in _values(e, path))
            return lambda e: not any(isinstance(v, str) and rx.search(v) for v in _values(e, path))
        if _top_level(raw, ".."):
            lo, hi = (_atom(x) for x in _split_top(raw, ".."))
            if op not in ("==", "!="):
                raise self.fail("a range needs == or !=")
            inside = lambda v: _cmp(v, lo) is not None and _cmp(v, lo) >= 0 and _cmp(v, hi) is not None \
                and _cmp(v, hi) <= 0  # noqa: E731
            if op == "==":
                return lambda e: any(inside(v) for v in _values(e, path))
            return lambda e: not any(inside(v) for v in _values(e, path))
        if _top_level(raw, ","):
            if op not in ("==", "!="):
                raise self.fail("a value list needs == or !=")
            items = [_atom(x) for x in _split_top(raw, ",")]
            if op == "==":
                return lambda e: any(_cmp(v, x) == 0 for v in _values(e, path) for x in items)
            return lambda e: not any(_cmp(v, x) == 0 for v in _values(e, path) for x in items)
        lit = _atom(raw)
        test = {"==": lambda c: c == 0, "!=": lambda c: c != 0, ">": lambda c: c > 0, ">=": lambda c: c >= 0,
                "<": lambda c: c < 0, "<=": lambda c: c <= 0}[op]
        if op == "!=":  # true when no instance equals the value (and the attribute exists)
            return lambda e: (lambda vs: bool(vs) and not any(_cmp(v, lit) == 0 for v in vs))(list(_values(e, path)))
        return lambda e: any((c := _cmp(v, lit)) is not None and test(c) for v in _values(e, path))

    def value_text(self) -> str:
        start, depth = self.i, 0
        while self.i < len(self.s):
            ch = self.s[self.i]
            if ch == '"':
                j = self.i + 1
                while j < len(self.s) and self.s[j] != '"':
                    j += 2 if self.s[j] == "\\" else 1
                if j >= len(self.s):
                    raise self.fail("unterminated string")
                self.i = j + 1
                continue
            if ch in ";|" and depth == 0:
                break
            if ch == ")" and depth == 0:
                break
            self.i += 1
        raw = self.s[start:self.i]
        if not raw or raw[0] in "=<>!~":
            raise self.fail("a value is expected")
        return raw

    def path(self, text: str) -> _Path:
        keys = re.findall(r"\[([^\]]*)\]", text)
        base = text.split("[", 1)[0]
        if not base:
            raise self.fail("an attribute name is expected")
        # a full IRI may contain dots: split on dots only after the last '/' or '#'
        cut = max(base.rfind("/"), base.rfind("#"))
        head, _, rest = base[cut + 1:].partition(".")
        attr = base[:cut + 1] + head
        subs = [s for s in rest.split(".") if s] if rest else []
        return _Path(self.ctx.expand(attr), [s if s in _META else self.ctx.expand(s) for s in subs], keys)


def _top_level(raw: str, sep: str) -> bool:
    return len(_split_top(raw, sep)) > 1


def _split_top(raw: str, sep: str) -> list[str]:
    out, cur, i, q = [], [], 0, False
    while i < len(raw):
        if raw[i] == '"':
            q = not q
        if not q and raw.startswith(sep, i):
            out.append("".join(cur))
            cur = []
            i += len(sep)
            continue
        cur.append(raw[i])
        i += 1
    out.append("".join(cur))
    return out


def _atom(text: str) -> Any:
    t = text.strip()
    if len(t) >= 2 and t[0] == '"' and t[-1] == '"':
        return json.loads(t) if "\\" in t else t[1:-1]
    if t == "true":
        return True
    if t == "false":
        return False
    try:
        return float(t)
    except ValueError:
        return t


def _as_time(v: Any) -> datetime | None:
    if isinstance(v, str) and _DT.match(v):
        try:
            s = v[:-1] + "+00:00" if v.endswith("Z") else v
            t = datetime.fromisoformat(s)
            return t if t.tzinfo else t.replace(tzinfo=timezone.utc)
        except ValueError:
            return None
    if isinstance(v, dict) and "@value" in v:
        return _as_time(v["@value"])
    return None


def _cmp(v: Any, lit: Any) -> int | None:
    """-1/0/1 comparing a stored value with a literal; None when they are not comparable."""
    if isinstance(v, bool) or isinstance(lit, bool):
        return 0 if v is lit or v == lit and type(v) is type(lit) else (None if not isinstance(v, bool) else 1)
    if isinstance(v, (int, float)) and isinstance(lit, (int, float)):
        return (v > lit) - (v < lit)
    tv, tl = _as_time(v), _as_time(lit)
    if tv is not None and tl is not None:
        return (tv > tl) - (tv < tl)
    if isinstance(v, str) and isinstance(lit, str):
        return (v > lit) - (v < lit)
    if isinstance(v, str) and isinstance(lit, float):
        return 0 if v == _num_text(lit) else None
    return None


def _num_text(x: float) -> str:
    return str(int(x)) if x == int(x) else str(x)


def _values(ent: dict, path: _Path):
    for inst in ent["attrs"].get(path.attr, ()):
        node: Any = inst
        ok = True
        for s in path.subs:
            if s in _META:
                node = {"value": node.get(s)} if isinstance(node, dict) and s in node else None
            else:
                node = (node.get("sub") or {}).get(s) if isinstance(node, dict) else None
            if node is None:
                ok = False
                break
        if not ok:
            continue
        v = node.get("value", node.get("object")) if isinstance(node, dict) else None
        if v is None and isinstance(node, dict) and "languageMap" in node:
            for x in node["languageMap"].values():
                yield x
            continue
        for k in path.keys:
            if isinstance(v, dict) and k in v:
                v = v[k]
            else:
                v = None
                break
        if v is None:
            continue
        if isinstance(v, list) and not path.keys:
            yield from v
        else:
            yield v


def parse_q(text: str, ctx: Context) -> Pred:
    """A predicate over internal-form entities for the NGSI-LD query ``text``."""
    if len(text) > 4096:
        raise BadRequestData("q is longer than 4096 characters", field="q")
    return _Parser(text, ctx).parse()


# geo ---------------------------------------------------------------------------------------------
EARTH_RADIUS_M = 6_371_008.8
"""IUGG mean Earth radius R1 [m] (Moritz, "Geodetic Reference System 1980", J. Geodesy 74, 2000)."""


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance [m] by the haversine formula (Sinnott, Sky & Telescope 68(2):159, 1984)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def parse_geo(georel: str | None, geometry: str | None, coordinates: Any, geoproperty: str | None,
              ctx: Context) -> Pred | None:
    """The geo-query predicate, or None when no geo-query was asked. All three of georel, geometry and
    coordinates are required together (clause 4.10)."""
    if georel is None and geometry is None and coordinates is None:
        return None
    if not (georel and geometry and coordinates is not None):
        raise BadRequestData("a geo-query needs georel, geometry and coordinates together", field="georel")
    from shapely.geometry import Point, shape
    from shapely.ops import nearest_points

    if isinstance(coordinates, str):
        try:
            coordinates = json.loads(coordinates)
        except ValueError:
            raise BadRequestData("coordinates must be a JSON array", field="coordinates") from None
    ref_geo = check_geometry({"type": geometry, "coordinates": coordinates}, "coordinates")
    ref = shape(ref_geo)
    parts = georel.split(";")
    rel = parts[0]
    attr = ctx.expand(geoproperty or "location")
    if rel == "near":
        lim: dict[str, float] = {}
        for p in parts[1:]:
            m = re.fullmatch(r"(maxDistance|minDistance)==(\d+(\.\d+)?)", p)
            if not m:
                raise BadRequestData(f"georel near: {p!r} is not maxDistance==<m> or minDistance==<m>",
                                     field="georel")
            lim[m.group(1)] = float(m.group(2))
        if not lim:
            raise BadRequestData("georel near needs maxDistance or minDistance", field="georel")

        def dist(g) -> float:
            a, b = nearest_points(g, ref)
            return haversine_m(a.x, a.y, b.x, b.y)

        def test(g) -> bool:
            d = dist(g)
            return d <= lim.get("maxDistance", math.inf) and d >= lim.get("minDistance", 0.0)
    elif rel in ("within", "contains", "intersects", "equals", "disjoint", "overlaps"):
        if len(parts) > 1:
            raise BadRequestData(f"georel {rel} takes no modifiers", field="georel")
        op = {"within": lambda g: g.within(ref), "contains": lambda g: g.contains(ref),
              "intersects": lambda g: g.intersects(ref), "equals": lambda g: g.equals(ref),
              "disjoint": lambda g: g.disjoint(ref), "overlaps": lambda g: g.overlaps(ref)}[rel]
        test = op
    else:
        raise BadRequestData(f"georel {rel!r} is not one of near, within, contains, intersects, equals, "
                             "disjoint, overlaps", field="georel")

    cache: dict[str, Any] = {}

    def pred(ent: dict) -> bool:
        for inst in ent["attrs"].get(attr, ()):
            if inst.get("type") != "GeoProperty":
                continue
            key = json.dumps(inst["value"], sort_keys=True)
            g = cache.get(key)
            if g is None:
                g = cache[key] = shape(inst["value"])
            if test(g):
                return True
        return False

    _ = Point  # shapely imported once for both branches
    return pred
