"""Nagar's own stations as NGSI-LD entities (Nagar issue #8, "both ways"; ETSI GS CIM 009 V1.6.1 clause
5.7.1 Retrieve Entity and 5.7.2 Query Entities serve them like any other entity).

Every station of a tenant city (``stations`` table: air stations fed by the ingest API, files, MQTT) that
no stored AirQualityObserved / WaterQualityObserved entity maps to is shown as a **station view**: an
``AirQualityObserved`` entity with the id ``urn:ngsi-ld:AirQualityObserved:<station id>`` — the id whose last
segment :func:`nagar.ngsild.mapping.station_id` maps back to the same station, so an IoT Agent's later write
to that id lands on it. Its attributes: ``name``, ``location`` (GeoProperty Point [lon, lat]),
``dateObserved`` (time of the newest reading shown) and one Property per parameter with the station's latest
counted observation (the broker's overlay: canonical unit, UN/CEFACT ``unitCode``, ``observedAt``).

A view is not stored. Writes to its id go the normal way (the broker plans them against the view as the
entity's current state): the observations are written through the ingest path and the entity is stored from
then on, so it is "an NGSI-LD entity of its own" and no longer a view. Create / batch create over a view is
allowed (it is not an entity yet). Deleting a view answers OperationNotSupported: a Nagar station and its
observations are not deleted through NGSI-LD.

Cost: the views of a tenant are built once (one station list, one latest-observation read per station,
cached by the broker) and kept until a station appears that they do not know, a parameter appears that a
view lacks, an NGSI-LD entity of the tenant is created or deleted, or :data:`TTL_S` has passed (station
renames and moves made elsewhere show within that). Values themselves come from the overlay at read time,
so a new reading shows at once. Water stations (``nagar.water``'s own tables) are shown as
``urn:ngsi-ld:WaterQualityObserved:<water station id>`` by :mod:`.waterviews`, kept here beside the air views
(same merge into queries, same invalidation when a tenant's entities are created or deleted); unlike air
views they cannot be written (:func:`nagar.ngsild.waterviews.refuse_write`).
"""

from __future__ import annotations

import bisect
import threading
import time
from operator import itemgetter

from . import mapping, waterviews
from .context import CORE
from .errors import OperationNotSupported

PREFIX = "urn:ngsi-ld:AirQualityObserved:"
TTL_S = 5.0
VIEW = "_view"
"""Member marking an entity as a station view (internal; never rendered, removed when it is stored)."""
_first = itemgetter(0)
_AQO = CORE.expand("AirQualityObserved")
_NAME, _LOCATION, _DATE = CORE.expand("name"), CORE.expand("location"), CORE.expand("dateObserved")


class StationViews:
    """The station views of each tenant of one broker."""

    def __init__(self, broker):
        self.b = broker
        self._lock = threading.Lock()
        self._views: dict[str, tuple[float, dict[str, dict]]] = {}
        self._index: dict[str, tuple[str, str]] = {}  # station id -> (tenant, entity id) of a view
        self._known: set[str] = set()  # every station id seen by a build (views or mapped)
        self._gen: dict[str, int] = {}  # invalidations per tenant: a build overtaken by one is not kept
        self.water = waterviews.WaterViews(broker, lambda tenant: self._stored_stations(tenant)[0])

    # building -----------------------------------------------------------------------------------
    def of(self, tenant: str) -> dict[str, dict]:
        at, views = self._views.get(tenant, (0.0, None))
        if views is None or time.monotonic() - at > TTL_S:
            views = self._build(tenant)
        return views

    def _stored_stations(self, tenant: str) -> tuple[set[str], set[str]]:
        """(ids, stations) of the tenant's stored entities that carry observations."""
        if self.b.cached:
            rows = list(self.b._tenant_mirror(tenant).values())
        else:
            from .service import loads

            rows = [loads(r["body"]) for r in self.b.store.ngsild_query(tenant)]
        ids = {e["id"] for e in rows}
        sids = {e["station"] for e in rows if e.get("station")
                and mapping.kind_of(e) in ("AirQualityObserved", "WaterQualityObserved")}
        return ids, sids

    def _build(self, tenant: str) -> dict[str, dict]:
        gen = self._gen.get(tenant, 0)
        ids, mapped = self._stored_stations(tenant)
        views: dict[str, dict] = {}
        stations = self.b.store.list_stations(city=tenant)
        for st in stations:
            eid = PREFIX + st["id"]
            if st["id"] in mapped or eid in ids:
                continue
            views[eid] = self.b._overlay(_skeleton(eid, st))
        with self._lock:
            if self._gen.get(tenant, 0) != gen:  # stale already: answer with it, do not keep it
                return views
            self._views[tenant] = (time.monotonic(), views)
            for sid, (t, _) in list(self._index.items()):
                if t == tenant:
                    del self._index[sid]
            for eid, ent in views.items():
                self._index[ent["station"]] = (tenant, eid)
            self._known.update(st["id"] for st in stations)
        return views

    # reads --------------------------------------------------------------------------------------
    def get(self, tenant: str, eid: str) -> dict | None:
        if not eid.startswith(PREFIX):
            return self.water.get(tenant, eid)
        return self.of(tenant).get(eid)

    def merge(self, tenant: str, ids: list[str] | None, stored) -> list[tuple[str, dict]]:
        """Query candidates: the stored ones (``(id, entity)`` pairs, by id) and the tenant's views (by
        ``ids`` when given), in id order; a stored entity wins over a view of the same id."""
        views = self.of(tenant)
        water = self.water.of(tenant)
        if water:
            views = {**views, **water}  # distinct prefixes: no id is in both
        if not views:
            return stored
        pairs = list(stored)
        for k in (views if ids is None else set(ids) & views.keys()):
            i = bisect.bisect_left(pairs, k, key=_first)
            if i == len(pairs) or pairs[i][0] != k:  # a stored entity of the same id wins (views lag creations)
                pairs.insert(i, (k, views[k]))
        return pairs

    # changes ------------------------------------------------------------------------------------
    def observed(self, by_station: dict[str, set[str]]) -> None:
        """Observations written (any path): a station no build knows, or a parameter a view lacks, makes
        the views of its city stale (values need nothing: the overlay reads them). Readings of known
        stations with known parameters cost two dict look-ups per station."""
        stale: set[str] = set()
        for sid, params in by_station.items():
            hit = self._index.get(sid)
            if hit is None:
                if sid not in self._known:  # new to every build: its city's views lack it (one look-up)
                    st = self.b.store.get_station(sid)
                    if st is not None:
                        stale.add(st["city"])
                        self._known.add(sid)
                continue
            tenant, eid = hit
            ent = self._views.get(tenant, (0, {}))[1].get(eid)
            if ent is None or not params <= ent.get("_params", set()):
                stale.add(tenant)
        if stale:
            with self._lock:
                for tenant in stale:
                    self._drop(tenant)

    def entities_changed(self, tenant: str) -> None:
        """An NGSI-LD entity of the tenant was created or deleted: which stations have views changes."""
        with self._lock:
            self._drop(tenant)
        with self.water._lock:
            self.water.drop(tenant)

    def _drop(self, tenant: str) -> None:
        self._views.pop(tenant, None)
        self._gen[tenant] = self._gen.get(tenant, 0) + 1


def _skeleton(eid: str, st: dict) -> dict:
    from .entities import now_iso

    now = now_iso()
    attrs = {_NAME: [{"type": "Property", "value": st.get("name") or st["id"], "createdAt": now,
                      "modifiedAt": now}]}
    if st.get("lat") is not None and st.get("lon") is not None:
        attrs[_LOCATION] = [{"type": "GeoProperty", "value": {"type": "Point", "coordinates": [st["lon"], st["lat"]]},
                             "createdAt": now, "modifiedAt": now}]
    return {"id": eid, "type": [_AQO], "createdAt": now, "modifiedAt": now, "attrs": attrs,
            "station": st["id"], VIEW: True}


def views_of(broker) -> StationViews:
    v = broker.__dict__.get("_station_views")
    if v is None:
        v = broker.__dict__.setdefault("_station_views", StationViews(broker))
    return v


def finish(ent: dict) -> dict:
    """An overlaid view: ``dateObserved`` = the newest ``observedAt`` of its attributes, and the set of
    parameters it shows (for :meth:`StationViews.observed`)."""
    from nagar.ingest.smartdatamodels import ATTRIBUTES

    times, params = [], set()
    for iri, insts in ent["attrs"].items():
        t = insts[0].get("observedAt") if iri != _DATE else None
        if t:
            times.append(t)
            p = ATTRIBUTES.get(mapping.short(iri).lower().replace(".", "").replace("_", ""))
            params.add(p or mapping.short(iri).lower())
    attrs = dict(ent["attrs"])
    if times:
        newest = max(times)
        attrs[_DATE] = [{"type": "Property", "value": newest, "createdAt": newest, "modifiedAt": newest}]
    return {**ent, "attrs": attrs, "modifiedAt": max(times) if times else ent["modifiedAt"], "_params": params}


def is_view(ent: dict | None) -> bool:
    return bool(ent) and bool(ent.get(VIEW))


def refuse_delete(ent: dict | None) -> None:
    """Clause 5.6.6 "Delete Entity" on a station view: OperationNotSupported."""
    if is_view(ent):
        raise OperationNotSupported(
            f"{ent['id']} shows Nagar station {ent['station']!r}: a Nagar station is not deleted through NGSI-LD "
            "(delete or retire it in Nagar)", field="entityId")


def strip(ent: dict) -> None:
    """A view about to be stored (a write to its id) becomes an ordinary entity."""
    ent.pop(VIEW, None)
    ent.pop("_params", None)
