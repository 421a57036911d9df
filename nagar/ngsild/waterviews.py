"""Nagar's water stations as NGSI-LD ``WaterQualityObserved`` entities (ETSI GS CIM 009 V1.6.1 clause 5.7.1
Retrieve Entity, 5.7.2 Query Entities, 5.7.3-5.7.4 temporal retrieval serve them like any other entity).

Every water station of a tenant city (``nagar.water``'s own ``water_stations`` table; lab samples in
``water_samples``) is shown as a **water view** with the id ``urn:ngsi-ld:WaterQualityObserved:<water station
id>``. Air stations' views are ``urn:ngsi-ld:AirQualityObserved:<station id>`` (:mod:`.stations`), so the two
kinds never share an id, even when an air and a water station have the same id. A *stored* entity of the
same id (one written through NGSI-LD before the water station existed; it maps to an air-style station) wins
and hides the view, as a stored entity hides an air view.

Data model: Smart Data Models ``WaterQualityObserved`` **version 0.0.5** (smart-data-models/
dataModel.WaterQuality, ``WaterQualityObserved/doc/spec.md``; the model moved there from
dataModel.Environment, whose copy is the older FIWARE 0.0.x one). Attributes: ``name``, ``location``
(GeoProperty Point [lon, lat]), ``dateObserved`` (newest sample shown) and, per parameter, the model's own
attribute name (:data:`ATTRIBUTE_OF`) as a Property whose value is the latest sample in Nagar's canonical
unit (``nagar.water.parameters``), with ``observedAt`` = the sample time and ``unitCode`` = its UN/CEFACT
Rec. 20 common code where Rec. 20 has one (:data:`UNIT_CODE_OF`). NTU and counts per 100 mL have no Rec. 20
code: those Properties carry no ``unitCode`` rather than an invented one (the model's own text gives
escherichiaColi in "Total number of bacteria/100mL", Nagar's unit; turbidity is unitless in the model).
Every Nagar water parameter has a model attribute; the model's ``escherichiaColi`` carries Nagar's ``ecoli``,
which a laboratory may have reported as coliforms (``nagar.water.parameters`` accepts that alias).

**Below the detection limit.** A lab result ``<L`` is stored as value ``L`` with qualifier ``<``. The view
keeps the Property (the parameter *was* measured) with value ``L`` and a sub-property
``belowDetectionLimit`` (Property, ``true``): the true value is below ``value``. keyValues drops
sub-properties, so there only the limit shows; a ``q`` filter compares the limit (``q=As<0.05`` is right for
a limit under 0.05; ``q=As>0.001`` also matches a ``<0.01`` result). Temporal aggregates leave such results
out (as suspect readings are left out of the air aggregates); the temporal instances keep them, flagged.

**Writes are refused.** Any write to a water view's id (create, PUT, PATCH/POST attrs, delete, their batch
forms) answers OperationNotSupported (422): the view's values are laboratory results, loaded through the water
API (``POST /api/v1/cities/{city}/water/samples``) or ``nagar water``; an NGSI-LD write would become air-style
observations of another station, not water samples. Creating the id is refused the same way rather than with
AlreadyExists, so the detail can say where samples go.

**Cost and freshness** (as :mod:`.stations`): the views of a tenant are built once (one water station list,
one latest-sample query) and kept until the water tables change (the store's water write listener,
:meth:`nagar.store.water_tables.WaterTables.on_water_write`: a station or sample write drops the views of
its city), an NGSI-LD entity of the tenant is created or deleted, or :data:`TTL_S` has passed (writes made by
another process, e.g. ``nagar water load`` against a PostgreSQL store). Within one process a loaded sample
shows at once. nagar.water does not import this package; the store calls the listener.

**Subscriptions** (clause 5.8.6 notification behaviour). The same listener, registered when the broker is
created (:func:`nagar.ngsild.subscriptions.attach`), drops the views and then, if the process has any
subscription, takes :meth:`WaterViews.changes` (per tenant, the water station's city: each written station's
view as it is just after the write, rebuilt with the tenant's two queries, and the attributes of the written
parameters, :data:`ATTRIBUTE_OF`, as the changed ones) and queues it for the notification worker, which
matches it like any entity change (entity selectors, ``watchedAttributes``, ``q``, ``geoQ``, ``throttling``,
status; ``notification.format`` and ``attributes``). ``name``, ``location`` and ``dateObserved`` are not
counted as changed (as for air views, see :meth:`nagar.ngsild.subscriptions.Subscriptions._observed`), and a
station write (rename, move, new station) notifies nothing. The store calls the listener only after the write
has committed (inside ``store.transaction()``: at its commit, never after a rollback), so a load that fails
notifies nothing; that matters twice, since building a view may wait for the broker's writer thread, which
must never happen while the loading thread still holds the store's write lock. Samples loaded by another
process (``nagar water load`` with its own store object) notify nothing.
"""

from __future__ import annotations

import math
import threading
import time
from datetime import datetime, timedelta, timezone

from . import entities as E
from .context import CORE, Context
from .errors import OperationNotSupported

PREFIX = "urn:ngsi-ld:WaterQualityObserved:"
TTL_S = 5.0
WATER = "_water_station"
"""Member naming the water station of a view (internal; never rendered)."""

ATTRIBUTE_OF: dict[str, str] = {
    "ph": "pH", "do": "O2", "bod": "bod", "cod": "cod", "tds": "tds", "turbidity": "turbidity",
    "ammonia": "NH3", "nitrate": "NO3", "ecoli": "escherichiaColi", "arsenic": "As", "lead": "Pb",
}
"""Nagar water parameter -> WaterQualityObserved 0.0.5 attribute (``O2``: "level of free, non-compound oxygen
present", i.e. dissolved oxygen; ``NH3`` ammonia; ``NO3`` nitrates; ``As`` arsenic; ``Pb`` lead)."""

UNIT_CODE_OF: dict[str, str] = {"mg/L": "M1", "pH": "Q30"}
"""Nagar canonical water unit -> UN/CEFACT Recommendation 20 common code: M1 "milligram per litre",
Q30 "pH (potential of Hydrogen)". NTU and n/100 mL have none (left without ``unitCode``)."""

_BDL = CORE.expand("belowDetectionLimit")
_WQO = CORE.expand("WaterQualityObserved")
_NAME, _LOCATION, _DATE = CORE.expand("name"), CORE.expand("location"), CORE.expand("dateObserved")
_PARAM_OF = {CORE.expand(a): p for p, a in ATTRIBUTE_OF.items()}


def _iso(t: datetime) -> str:
    return E.iso(t if t.tzinfo else t.replace(tzinfo=timezone.utc))


def _instance(sample: dict, unit: str) -> dict:
    t = _iso(sample["time"])
    inst = {"type": "Property", "value": sample["value"], "observedAt": t, "createdAt": t, "modifiedAt": t}
    code = UNIT_CODE_OF.get(unit)
    if code is not None:
        inst["unitCode"] = code
    if sample.get("qualifier") == "<":
        inst["sub"] = {_BDL: {"type": "Property", "value": True, "createdAt": t, "modifiedAt": t}}
    return inst


def view_of(st: dict, samples: list[dict]) -> dict:
    """The water view of a water station row and its latest samples (one per parameter)."""
    from nagar.water.parameters import PARAMETERS

    base = _iso(st["updated_at"]) if st.get("updated_at") else E.now_iso()
    attrs = {_NAME: [{"type": "Property", "value": st.get("name") or st["id"], "createdAt": base,
                      "modifiedAt": base}]}
    if st.get("lat") is not None and st.get("lon") is not None:
        attrs[_LOCATION] = [{"type": "GeoProperty", "value": {"type": "Point", "coordinates": [st["lon"], st["lat"]]},
                             "createdAt": base, "modifiedAt": base}]
    times = []
    for s in samples:
        p = PARAMETERS.get(s["parameter"])
        attr = ATTRIBUTE_OF.get(s["parameter"])
        if p is None or attr is None:
            continue
        attrs[CORE.expand(attr)] = [_instance(s, p.unit)]
        times.append(_iso(s["time"]))
    modified = base
    if times:
        newest = max(times)
        attrs[_DATE] = [{"type": "Property", "value": newest, "createdAt": newest, "modifiedAt": newest}]
        modified = max(base, newest)
    return {"id": PREFIX + st["id"], "type": [_WQO], "createdAt": base, "modifiedAt": modified, "attrs": attrs,
            WATER: st["id"]}


def is_water_view(ent: dict | None) -> bool:
    return bool(ent) and WATER in ent


class WaterViews:
    """The water views of each tenant of one broker (kept by :class:`.stations.StationViews`)."""

    def __init__(self, broker, stored_ids):
        self.b = broker
        self._stored_ids = stored_ids  # tenant -> ids of its stored entities (StationViews knows how)
        self._lock = threading.Lock()
        self._views: dict[str, tuple[float, dict[str, dict]]] = {}
        self._city_of: dict[str, str] = {}  # water station id -> tenant, for the write listener
        self._gen: dict[str, int] = {}
        self._hooked = False

    def listen(self) -> None:
        """Register :meth:`written` with the store's water write listener (idempotent; a store without the
        water tables is left alone)."""
        self._hook()

    def _hook(self) -> None:
        store = self.b.store
        if not self._hooked and hasattr(store, "on_water_write"):
            old = store.__dict__.get("_ngsild_water_listener")  # a replaced broker's (one broker per store)
            if old is not None:
                store.off_water_write(old)
            store.on_water_write(self.written)
            store.__dict__["_ngsild_water_listener"] = self.written
            self._hooked = True

    def of(self, tenant: str) -> dict[str, dict]:
        at, views = self._views.get(tenant, (0.0, None))
        if views is None or time.monotonic() - at > TTL_S:
            views = self._build(tenant)
        return views

    def _build(self, tenant: str) -> dict[str, dict]:
        store = self.b.store
        if not hasattr(store, "water_stations"):  # a store without the water tables: no water views
            return {}
        self._hook()
        gen = self._gen.get(tenant, 0)
        ids = self._stored_ids(tenant)
        latest: dict[str, list[dict]] = {}
        for s in store.latest_water_samples(city=tenant):
            latest.setdefault(s["station"], []).append(s)
        views = {}
        stations = store.water_stations(city=tenant)
        for st in stations:
            eid = PREFIX + st["id"]
            if eid not in ids:
                views[eid] = view_of(st, latest.get(st["id"], []))
        with self._lock:
            for st in stations:
                self._city_of[st["id"]] = tenant
            if self._gen.get(tenant, 0) != gen:  # overtaken by a change while building: answer, do not keep
                return views
            self._views[tenant] = (time.monotonic(), views)
        return views

    def get(self, tenant: str, eid: str) -> dict | None:
        return self.of(tenant).get(eid) if eid.startswith(PREFIX) else None

    # changes ------------------------------------------------------------------------------------
    def written(self, cities: set[str], stations) -> None:
        """Store listener (called after the commit): water stations or samples were written; the views of
        their cities are stale. A station no build knows is looked up once (its city may have views built
        without it). ``stations`` maps each station to the parameters whose samples were written (see
        ``WaterTables.on_water_write``); those go to the subscriptions' worker once the views are dropped."""
        tenants = set(cities)
        unknown = [s for s in stations if s not in self._city_of]
        for s in stations:
            if s in self._city_of:
                tenants.add(self._city_of[s])
        if unknown and not cities:
            for r in self.b.store.water_stations(ids=unknown):
                tenants.add(r["city"])
                with self._lock:
                    self._city_of[r["id"]] = r["city"]
        with self._lock:
            for t in tenants:
                self.drop(t)
        sampled = {s: set(p) for s, p in stations.items() if p} if isinstance(stations, dict) else {}
        subs = self.b.subscriptions
        if sampled and subs is not None and subs.listening():
            subs.water_changed(self.changes(sampled))

    def changes(self, by_station: dict[str, set[str]]) -> dict[str, list[tuple[dict, list[str]]]]:
        """Tenant -> ``(view, changed attribute names)`` for water stations whose samples of these parameters
        were written: the views as they are now (built afresh after :meth:`written` dropped them, in the
        loading thread just after its commit, so that a later load cannot show through in the notification
        of this one); a station whose id a stored entity holds has no view and is left out."""
        city_of = dict(self._city_of)
        unknown = [s for s in by_station if s not in city_of]
        if unknown:
            city_of.update((r["id"], r["city"]) for r in self.b.store.water_stations(ids=unknown))
        out: dict[str, list[tuple[dict, list[str]]]] = {}
        for sid in sorted(by_station):
            tenant = city_of.get(sid)
            view = self.get(tenant, PREFIX + sid) if tenant is not None else None
            if view is None:
                continue
            names = sorted(CORE.expand(ATTRIBUTE_OF[p]) for p in by_station[sid] if p in ATTRIBUTE_OF)
            out.setdefault(tenant, []).append((view, names))
        return out

    def drop(self, tenant: str) -> None:
        self._views.pop(tenant, None)
        self._gen[tenant] = self._gen.get(tenant, 0) + 1


def refuse_write(ent: dict | None) -> dict | None:
    """Any write planned against a water view (clauses 5.6.1-5.6.10): OperationNotSupported; other entities
    pass through."""
    if is_water_view(ent):
        raise OperationNotSupported(
            f"{ent['id']} shows Nagar water station {ent[WATER]!r}: its values are laboratory samples, loaded "
            "through POST /api/v1/cities/{city}/water/samples or `nagar water`, and the station is managed "
            "there; it is not written or deleted through NGSI-LD", field="entityId")
    return ent


# temporal (clauses 5.7.3-5.7.4) ---------------------------------------------------------------------
_METHODS = {
    "totalCount": len, "distinctCount": lambda v: len(set(v)), "sum": math.fsum,
    "avg": lambda v: math.fsum(v) / len(v), "min": min, "max": max,
}


def temporal(store, ent: dict, ctx: Context, *, attrs: set[str] | None, start, end, last_n: int | None, fmt: str,
             methods: list[str] | None, period_s: int | None, origin: datetime | None) -> dict:
    """A water view's temporal representation from ``water_samples``: each parameter's samples in
    [start, end) (the newest ``last_n``), normalized (instances with ``observedAt``, ``unitCode`` and the
    ``belowDetectionLimit`` sub-property) or temporalValues, or aggregated per ``aggrPeriodDuration`` from
    ``timeAt`` (else the first sample) with results below the detection limit left out. ``name``,
    ``location`` and ``dateObserved`` have no history."""
    from nagar.water.parameters import PARAMETERS

    types = [ctx.compact(t) for t in ent["type"]]
    out: dict = {"id": ent["id"], "type": types[0] if len(types) == 1 else types}
    wanted = {iri: p for iri, p in _PARAM_OF.items() if attrs is None or iri in attrs}
    if not wanted:
        return out
    rows = store.water_samples(stations=[ent[WATER]], parameters=sorted(wanted.values()), start=start, end=end)
    by_param: dict[str, list[dict]] = {}
    for r in rows:
        by_param.setdefault(r["parameter"], []).append(r)
    for iri, p in sorted(wanted.items()):
        series = by_param.get(p)
        if not series:
            continue
        if last_n is not None:
            series = series[-last_n:] if last_n > 0 else []
        name = ctx.compact(iri)
        if methods is not None:
            counted = [r for r in series if r.get("qualifier") != "<"]
            if not counted:
                continue
            org = origin or start or counted[0]["time"]
            buckets: dict[int, list[float]] = {}
            for r in counted:
                buckets.setdefault(int((r["time"] - org).total_seconds() // period_s), []).append(r["value"])
            a = out.setdefault(name, {"type": "Property"})
            for k in sorted(buckets):
                p0 = org + timedelta(seconds=period_s * k)
                span = [E.iso(p0), E.iso(p0 + timedelta(seconds=period_s))]
                for m in methods:
                    a.setdefault(m, []).append([_METHODS[m](buckets[k]), *span])
            continue
        if fmt == "temporalValues":
            out[name] = {"type": "Property", "values": [[r["value"], _iso(r["time"])] for r in series]}
        else:
            unit = PARAMETERS[p].unit
            out[name] = [E._render_instance(_instance(r, unit), ctx, "normalized", False, None) for r in series]
    return out
