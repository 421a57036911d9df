"""The NGSI-LD broker over Nagar's store: entity operations (ETSI GS CIM 009 V1.6.1 clauses 5.6.1-5.6.10,
5.7.1-5.7.2), the mapping of Smart Data Models entities to stations and observations, and the
in-process cache.

One :class:`Broker` per store (:func:`broker_of`). Entities are kept in their internal form
(:mod:`nagar.ngsild.entities`) both in the store (JSON text) and in a write-through cache of single
entities, so a read is a dict lookup plus rendering. The cache is correct because every write of the
NGSI-LD tables goes through this process's broker: DuckDB has one writer process. With PostgreSQL and
several server processes the cache would go stale, so it is disabled there (reads go to SQL).
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from datetime import datetime, timezone
from typing import Any, Iterable

from nagar.core.errors import NagarError
from nagar.core.tenancy import Scope, allows

from . import entities as E
from . import mapping
from .context import CORE, Context
from .errors import (AlreadyExists, BadRequestData, NonexistentTenant, ResourceNotFound, TenantForbidden,
                     TooManyResults)

try:
    import orjson

    def dumps(v: Any) -> str:
        return orjson.dumps(v).decode()

    loads = orjson.loads
except ImportError:  # pragma: no cover - orjson is a dependency
    import json

    def dumps(v: Any) -> str:
        return json.dumps(v, separators=(",", ":"), ensure_ascii=False)

    loads = json.loads

MAX_BATCH = 1000
"""Entities per batch operation (clause 5.6.7-5.6.10 leave the limit to the implementation)."""
MAX_RESULTS = 1000
"""Largest ``limit`` of a query (clause 5.5.9: beyond it, TooManyResults)."""
_UNIT_CODE_OF = {"µg/m³": "GQ", "mg/m³": "GP", "ppm": "59", "ppb": "61", "°C": "CEL", "%": "P1"}


def _now() -> str:
    return E.now_iso()


class Broker:
    """Entity storage, cache, mapping and change fan-out for one store."""

    def __init__(self, store, settings):
        self.store = store
        self.settings = settings
        self.cached = type(store).__name__ == "DuckDBStore"
        self._cache: OrderedDict[tuple[str, str], dict | None] = OrderedDict()
        self._cache_max = 50_000
        self._obs: dict[str, list[dict]] = {}
        self._stations: dict[str, str] = {}
        self._cities: tuple[float, frozenset] = (0.0, frozenset())
        self._lock = threading.RLock()
        self.subscriptions = None  # set by nagar.ngsild.subscriptions.attach
        store.on_write(self._observations_written)

    # tenancy ------------------------------------------------------------------------------------
    def _city_ids(self) -> frozenset:
        at, ids = self._cities
        if time.monotonic() - at > 5.0:
            ids = frozenset(c["id"] for c in self.store.list_cities())
            self._cities = (time.monotonic(), ids)
        return ids

    def tenant(self, header: str | None, *, read: Scope, write: Scope | None = None) -> str:
        """The city a request acts on (clause 4.14 multi-tenancy: the ``NGSILD-Tenant`` header). A
        city that does not exist or that the caller may not see is a NonexistentTenant (404); a
        visible city without the write right is a 403."""
        import os

        tenant = (header or "").strip() or os.environ.get("NAGAR_NGSILD_DEFAULT_TENANT", "")
        if not tenant:
            raise BadRequestData("send the NGSILD-Tenant header: Nagar maps NGSI-LD tenants to city ids",
                                 field="NGSILD-Tenant")
        if tenant not in self._city_ids() or not allows(read, tenant):
            raise NonexistentTenant(f"no tenant {tenant!r} (tenants are Nagar cities you may see)",
                                    field="NGSILD-Tenant")
        if write is not None and not allows(write, tenant):
            raise TenantForbidden(f"needs the city:write right in {tenant}", field="NGSILD-Tenant")
        return tenant

    # reads --------------------------------------------------------------------------------------
    def _load(self, tenant: str, eid: str) -> dict | None:
        key = (tenant, eid)
        if self.cached:
            with self._lock:
                if key in self._cache:
                    self._cache.move_to_end(key)
                    return self._cache[key]
        row = self.store.ngsild_get(tenant, eid)
        ent = loads(row["body"]) if row else None
        if self.cached:
            self._remember(key, ent)
        return ent

    def _remember(self, key: tuple[str, str], ent: dict | None) -> None:
        with self._lock:
            self._cache[key] = ent
            self._cache.move_to_end(key)
            while len(self._cache) > self._cache_max:
                self._cache.popitem(last=False)

    def get(self, tenant: str, eid: str) -> dict:
        """Clause 5.7.1 "Retrieve Entity" (internal form, with the latest observations overlaid for
        an AirQualityObserved / WaterQualityObserved entity)."""
        E.check_uri(eid, "entityId")
        ent = self._load(tenant, eid)
        if ent is None:
            raise ResourceNotFound(f"no entity {eid} in tenant {tenant}", field="entityId")
        return self._overlay(ent)

    def _overlay(self, ent: dict) -> dict:
        sid = ent.get("station")
        if not sid or mapping.kind_of(ent) not in ("AirQualityObserved", "WaterQualityObserved"):
            return ent
        latest = self._obs.get(sid)
        if latest is None:
            latest = self.store.ngsild_latest_observations(sid)
            with self._lock:
                self._obs[sid] = latest
        if not latest:
            return ent
        from nagar.ingest.smartdatamodels import ATTRIBUTES

        by_param = {}
        for iri in ent["attrs"]:
            p = ATTRIBUTES.get(mapping.short(iri).lower().replace(".", "").replace("_", ""))
            if p is not None:
                by_param[p] = iri
        attrs = dict(ent["attrs"])
        for ob in latest:
            t = ob["time"]
            t_iso = E.iso(t if t.tzinfo else t.replace(tzinfo=timezone.utc))
            iri = by_param.get(ob["parameter"]) or CORE.expand(
                "relativeHumidity" if ob["parameter"] == "relativehumidity" else ob["parameter"])
            insts = attrs.get(iri, [])
            default = next((i for i in insts if "datasetId" not in i), None)
            if default is not None and default.get("observedAt", "") > t_iso:
                continue
            new = {**(default or {"type": "Property", "createdAt": t_iso}), "value": ob["value"],
                   "observedAt": t_iso, "unitCode": _UNIT_CODE_OF.get(ob["unit"], ob["unit"]), "modifiedAt": t_iso}
            attrs[iri] = [new] + [i for i in insts if "datasetId" in i]
        return {**ent, "attrs": attrs}

    def _observations_written(self, batch) -> None:
        """Store write listener: observations of a station changed, so its overlay is stale."""
        if not self._obs:
            return
        for sid in set(batch.column("station").to_pylist()):
            self._obs.pop(sid, None)

    def query(self, tenant: str, *, ids: list[str] | None = None, id_pattern: str | None = None,
              types: str | None = None, q: str | None = None, geo=None, ctx: Context = CORE,
              attrs: set[str] | None = None) -> list[dict]:
        """Clause 5.7.2 "Query Entities": candidates by id / type in SQL, then ``idPattern``, the exact
        type selection, ``attrs`` (an entity without any of them is not returned), ``q`` and geo."""
        from . import query as Q

        type_pred, like = None, None
        if types:
            type_pred, names = Q.parse_type_selection(types, ctx)
            like = ['%' + dumps(n)[1:-1].replace("%", "\\%").replace("_", "\\_") + '%' for n in names]
            like = [x.replace("\\_", "_").replace("\\%", "%") for x in like]
        pattern = None
        if id_pattern:
            try:
                pattern = re.compile(id_pattern)
            except re.error as exc:
                raise BadRequestData(f"idPattern is not a regular expression ({exc})", field="idPattern") from None
        qp = Q.parse_q(q, ctx) if q else None
        rows = self.store.ngsild_query(tenant, ids=ids, type_like=like)
        out = []
        for r in rows:
            if pattern is not None and not pattern.fullmatch(r["id"]):
                continue
            ent = None
            if self.cached:
                ent = self._cache.get((tenant, r["id"]))
            if ent is None:
                ent = loads(r["body"])
            if type_pred is not None and not type_pred(ent["type"]):
                continue
            if attrs is not None and not any(a in ent["attrs"] for a in attrs):
                continue
            ent = self._overlay(ent)
            if qp is not None and not qp(ent):
                continue
            if geo is not None and not geo(ent):
                continue
            out.append(ent)
        return out

    # writes -------------------------------------------------------------------------------------
    def _prepare_mapped(self, tenant: str, ent: dict, when: str) -> tuple[str | None, list[dict]]:
        """Station and observation rows of a mapped entity (validated, nothing written yet)."""
        kind = mapping.kind_of(ent)
        if kind is None:
            return None, []
        sid, station, rows, problems = mapping.rows_for(ent, when=when)
        known = self._stations.get(sid)
        if known is None:
            row = self.store.get_station(sid)
            known = row["city"] if row else None
        if known is not None and known != tenant:
            raise BadRequestData(f"station {sid!r} of entity {ent['id']} belongs to another city", field="id")
        if kind != "Device" and not rows and problems:
            raise BadRequestData("; ".join(f"{a}: {r}" for a, r in problems), field=problems[0][0])
        station["city"] = tenant
        station["_new"] = known is None
        station["_kind"] = kind
        return sid, [station, *rows]

    def _write_mapped(self, tenant: str, prepared: list[tuple[str, list[dict]]]) -> None:
        from nagar.ingest.service import ingest_rows

        rows: list[dict] = []
        for sid, items in prepared:
            station, obs = items[0], items[1:]
            if station.pop("_new") or station.pop("_kind", None) == "Device":
                station.pop("_kind", None)
                current = self.store.get_station(sid)
                params = sorted(set((current or {}).get("parameters") or []) | set(station["parameters"]))
                self.store.upsert_station({**station, "parameters": params})
            self._stations[sid] = tenant
            rows.extend(obs)
        if not rows:
            return
        try:
            res = ingest_rows(self.store, rows=rows, settings=self.settings, scope=frozenset({tenant}))
        except NagarError as exc:
            raise BadRequestData(f"observations refused: {exc.message}", field=exc.field) from None
        if res.rejected and not (res.inserted or res.updated):
            why = "; ".join(f"{e.field}: {e.reason}" for e in res.errors[:5])
            raise BadRequestData(f"every observation of the entity was refused: {why}", field="value")

    def _history(self, ent: dict, names: Iterable[str]) -> list[dict]:
        out = []
        for name in names:
            for inst in ent["attrs"].get(name, ()):
                v = inst.get("value", inst.get("object", inst.get("languageMap")))
                num = float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None
                out.append({"entity_id": ent["id"], "attr": name, "dataset_id": inst.get("datasetId"),
                            "time": E.parse_time(inst.get("observedAt") or inst["modifiedAt"], "observedAt"),
                            "value_num": num, "value_text": dumps(v), "instance": dumps(inst)})
        return out

    def commit(self, tenant: str, changes: list[tuple[dict | None, dict | None, list[str]]]) -> None:
        """Write ``(before, after, changed attribute names)`` triples in one transaction: mapped
        entities' observations first (so a refused observation writes nothing), then the entities,
        their history, the cache, and the subscriptions' queue."""
        now = _now()
        prepared = []
        for before, after, _ in changes:
            if after is not None:
                sid, items = self._prepare_mapped(tenant, after, now)
                if sid is not None:
                    after["station"] = sid
                    prepared.append((sid, items))
        if prepared:
            self._write_mapped(tenant, prepared)
        put, delete, history = [], [], []
        for before, after, names in changes:
            if after is None:
                delete.append(before["id"])
                continue
            put.append({"id": after["id"], "types": dumps(after["type"]), "body": dumps(after),
                        "station": after.get("station"), "created_at": E.parse_time(after["createdAt"], "createdAt"),
                        "modified_at": E.parse_time(after["modifiedAt"], "modifiedAt")})
            history.extend(self._history(after, names))
        try:
            self.store.ngsild_write(tenant, put=put, delete=delete, history=history)
        except NagarError as exc:
            with self._lock:
                for b, a, _ in changes:
                    self._cache.pop((tenant, (a or b)["id"]), None)
            raise exc
        if self.cached:
            for before, after, _ in changes:
                self._remember((tenant, (after or before)["id"]), after)
        for _, items in prepared:
            self._obs.pop(items[0]["id"], None)
        if self.subscriptions is not None:
            self.subscriptions.changed(tenant, changes)

    # entity operations (clause 5.6) -------------------------------------------------------------
    def create(self, tenant: str, body: Any, ctx: Context) -> dict:
        """Clause 5.6.1 "Create Entity": AlreadyExists (409) if the id is taken."""
        ent = E.parse_entity(body, ctx)
        if self._load(tenant, ent["id"]) is not None:
            raise AlreadyExists(f"entity {ent['id']} already exists", field="id")
        self.commit(tenant, [(None, ent, list(ent["attrs"]))])
        return ent

    def replace(self, tenant: str, eid: str, body: Any, ctx: Context) -> None:
        """Clause 5.6.18 (V1.6.1 "Replace Entity", PUT): every attribute is replaced; the id in the body,
        if any, must be the path's."""
        E.check_uri(eid, "entityId")
        old = self._load(tenant, eid)
        if old is None:
            raise ResourceNotFound(f"no entity {eid}", field="entityId")
        if isinstance(body, dict) and "id" in body and body["id"] != eid:
            raise BadRequestData("the body's id differs from the path's", field="id")
        if isinstance(body, dict) and "type" not in body:
            body = {**body, "type": [CORE.compact(t) for t in old["type"]] if ctx is CORE else old["type"]}
        ent = E.parse_entity({**body, "id": eid} if isinstance(body, dict) else body, ctx)
        ent["createdAt"] = old["createdAt"]
        self.commit(tenant, [(old, ent, list(ent["attrs"]))])

    def delete(self, tenant: str, eid: str) -> None:
        """Clause 5.6.6 "Delete Entity"."""
        E.check_uri(eid, "entityId")
        old = self._load(tenant, eid)
        if old is None:
            raise ResourceNotFound(f"no entity {eid}", field="entityId")
        self.commit(tenant, [(old, None, list(old["attrs"]))])

    def append(self, tenant: str, eid: str, body: Any, ctx: Context, *, no_overwrite: bool) -> dict:
        """Clause 5.6.3 "Append Entity Attributes" (``options=noOverwrite`` keeps existing ones)."""
        old = self._need(tenant, eid)
        now = _now()
        new = E.parse_attrs(body, ctx, now=now)
        ent, updated, not_updated = self._apply_attrs(old, new, ctx, now=now, create=True, no_overwrite=no_overwrite)
        if isinstance(body, dict) and "type" in body:
            for t in E.parse_types(body["type"], ctx):
                if t not in ent["type"]:
                    ent["type"] = ent["type"] + [t]
        if updated or ent["type"] != old["type"]:
            self.commit(tenant, [(old, ent, [ctx.expand(u) for u in updated])])
        return {"updated": updated, "notUpdated": not_updated}

    def update_attrs(self, tenant: str, eid: str, body: Any, ctx: Context) -> dict:
        """Clause 5.6.2 "Update Entity Attributes": only attributes that exist are replaced."""
        old = self._need(tenant, eid)
        now = _now()
        new = E.parse_attrs(body, ctx, now=now)
        ent, updated, not_updated = self._apply_attrs(old, new, ctx, now=now, create=False, no_overwrite=False)
        if updated:
            self.commit(tenant, [(old, ent, [ctx.expand(u) for u in updated])])
        return {"updated": updated, "notUpdated": not_updated}

    def _need(self, tenant: str, eid: str) -> dict:
        E.check_uri(eid, "entityId")
        old = self._load(tenant, eid)
        if old is None:
            raise ResourceNotFound(f"no entity {eid}", field="entityId")
        return old

    @staticmethod
    def _apply_attrs(old: dict, new: dict[str, list[dict]], ctx: Context, *, now: str, create: bool,
                     no_overwrite: bool) -> tuple[dict, list[str], list[dict]]:
        attrs = dict(old["attrs"])
        updated, not_updated = [], []
        for name, insts in new.items():
            short = ctx.compact(name)
            cur = attrs.get(name)
            if cur is None:
                if create:
                    attrs[name] = insts
                    updated.append(short)
                else:
                    not_updated.append({"attributeName": short, "reason": "attribute does not exist"})
                continue
            have = {i.get("datasetId") for i in cur}
            if no_overwrite:
                fresh = [i for i in insts if i.get("datasetId") not in have]
                if fresh:
                    attrs[name] = cur + fresh
                    updated.append(short)
                else:
                    not_updated.append({"attributeName": short, "reason": "attribute exists (noOverwrite)"})
                continue
            if not create and not all(i.get("datasetId") in have for i in insts):
                not_updated.append({"attributeName": short, "reason": "no instance with that datasetId"})
                continue
            attrs[name] = E.merge_instances(cur, insts, now=now)
            updated.append(short)
        ent = {**old, "attrs": attrs, "modifiedAt": now if updated else old["modifiedAt"]}
        return ent, updated, not_updated

    def patch_attr(self, tenant: str, eid: str, attr: str, body: Any, ctx: Context) -> None:
        """Clause 5.6.4 "Partial Attribute update": the instance chosen by ``datasetId`` (default: the
        one without) gets the members sent."""
        old = self._need(tenant, eid)
        E.check_name(attr)
        name = ctx.expand(attr)
        cur = old["attrs"].get(name)
        if cur is None:
            raise ResourceNotFound(f"entity {eid} has no attribute {attr}", field="attrId")
        if not isinstance(body, dict) or not body:
            raise BadRequestData("the body must be a non-empty JSON object (attribute fragment)", field="body")
        now = _now()
        frag = E.normalize_attr(attr, body, ctx, now=now)[0] if ("type" in body or "value" in body or "object" in body
                                                                 or "languageMap" in body) else None
        ds = body.get("datasetId")
        idx = next((k for k, i in enumerate(cur) if i.get("datasetId") == ds), None)
        if idx is None:
            raise ResourceNotFound(f"attribute {attr} has no instance with datasetId {ds!r}", field="datasetId")
        if frag is None:  # only sub-attributes / metadata
            frag = {"sub": E.normalize_attr(attr, {"value": 0, **body}, ctx, now=now)[0].get("sub", {})}
            for m in ("observedAt", "unitCode"):
                if m in body:
                    frag[m] = E.normalize_attr(attr, {"value": 0, **body}, ctx, now=now)[0][m]
        insts = list(cur)
        explicit = {k for k in body}
        frag = {k: v for k, v in frag.items() if k in explicit or k == "sub"}
        insts[idx] = E.partial_update(cur[idx], frag, now=now)
        ent = {**old, "attrs": {**old["attrs"], name: insts}, "modifiedAt": now}
        self.commit(tenant, [(old, ent, [name])])

    def delete_attr(self, tenant: str, eid: str, attr: str, ctx: Context, *, dataset_id: str | None,
                    delete_all: bool) -> None:
        """Clause 5.6.5 "Delete Entity Attribute" (one instance by ``datasetId``, or ``deleteAll``)."""
        old = self._need(tenant, eid)
        E.check_name(attr)
        name = ctx.expand(attr)
        cur = old["attrs"].get(name)
        if cur is None:
            raise ResourceNotFound(f"entity {eid} has no attribute {attr}", field="attrId")
        if delete_all:
            keep = []
        else:
            keep = [i for i in cur if i.get("datasetId") != dataset_id]
            if len(keep) == len(cur):
                raise ResourceNotFound(f"attribute {attr} has no instance with datasetId {dataset_id!r}",
                                       field="datasetId")
        attrs = dict(old["attrs"])
        if keep:
            attrs[name] = keep
        else:
            del attrs[name]
        ent = {**old, "attrs": attrs, "modifiedAt": _now()}
        self.commit(tenant, [(old, ent, [])])
        self.store.ngsild_delete_history(tenant, eid, name, dataset_id, delete_all)

    # batch operations (clause 5.6.7-5.6.10) -----------------------------------------------------
    def _batch_items(self, body: Any, ctx_of) -> list:
        if not isinstance(body, list):
            raise BadRequestData("a batch is a JSON array", field="body")
        if not body:
            raise BadRequestData("a batch must not be empty", field="body")
        if len(body) > MAX_BATCH:
            raise BadRequestData(f"a batch holds at most {MAX_BATCH} entities", field="body")
        return body

    def batch(self, tenant: str, op: str, body: Any, ctx_of, *, mode: str = "replace",
              no_overwrite: bool = False) -> dict:
        """BatchOperationResult ``{"success": [ids], "errors": [{"entityId", "error": ProblemDetails}]}``
        for create / upsert / update / delete. Valid entities are written in one transaction; each
        invalid one is reported with its ProblemDetails and written not at all."""
        items = self._batch_items(body, ctx_of)
        now = _now()
        success, errors, changes = [], [], []
        seen: dict[str, dict] = {}
        staged: dict[str, dict | None] = {}

        def current(eid: str) -> dict | None:
            return staged[eid] if eid in staged else self._load(tenant, eid)

        for item in items:
            eid = item.get("id") if isinstance(item, dict) else item if isinstance(item, str) else None
            try:
                if op == "delete":
                    E.check_uri(item, "id")
                    old = current(item)
                    if old is None:
                        raise ResourceNotFound(f"no entity {item}", field="id")
                    staged[item] = None
                    changes.append((old, None, list(old["attrs"])))
                    success.append(item)
                    continue
                ctx = ctx_of(item)
                if op in ("create", "upsert"):
                    ent = E.parse_entity(item, ctx, now=now)
                    old = current(ent["id"])
                    if op == "create" and old is not None:
                        raise AlreadyExists(f"entity {ent['id']} already exists", field="id")
                    if old is not None and mode == "update":
                        ent, _, _ = self._apply_attrs(old, ent["attrs"], ctx, now=now, create=True,
                                                      no_overwrite=False)
                        names = list(ent["attrs"])
                    else:
                        if old is not None:
                            ent["createdAt"] = old["createdAt"]
                        names = list(ent["attrs"])
                    staged[ent["id"]] = ent
                    seen[ent["id"]] = ent
                    changes.append((old, ent, names))
                    success.append(ent["id"])
                else:  # update
                    E.check_uri(eid, "id")
                    old = current(eid)
                    if old is None:
                        raise ResourceNotFound(f"no entity {eid}", field="id")
                    new = E.parse_attrs(item, ctx, now=now)
                    ent, upd, _ = self._apply_attrs(old, new, ctx, now=now, create=True, no_overwrite=no_overwrite)
                    staged[eid] = ent
                    changes.append((old, ent, [ctx.expand(u) for u in upd]))
                    success.append(eid)
            except NagarError as exc:
                from .errors import problem_of

                errors.append({"entityId": eid if isinstance(eid, str) else None, "error": problem_of(exc)})
        if changes:
            try:
                self.commit(tenant, _last_per_id(changes))
            except NagarError as exc:  # a mapped entity's observations refused: report them all failed
                from .errors import problem_of

                ids = list(dict.fromkeys((a or b)["id"] for b, a, _ in changes))
                errors.extend({"entityId": i, "error": problem_of(exc)} for i in ids)
                success = []
        created = [(a or b)["id"] for b, a, _ in _last_per_id(changes) if b is None and a is not None] if success else []
        return {"success": list(dict.fromkeys(success)), "errors": errors, "created": created}


def _last_per_id(changes: list) -> list:
    """Fold several changes of one entity in a batch into one (first before, last after)."""
    out: dict[str, list] = {}
    for before, after, names in changes:
        eid = (after or before)["id"]
        if eid in out:
            out[eid][1] = after
            out[eid][2] = list(dict.fromkeys(out[eid][2] + names))
        else:
            out[eid] = [before, after, names]
    return [tuple(v) for v in out.values()]


def broker_of(store, settings) -> Broker:
    """The store's broker (created on first use; one per store object)."""
    b = store.__dict__.get("_ngsild_broker")
    if b is None:
        with _CREATE:
            b = store.__dict__.get("_ngsild_broker")
            if b is None:
                b = Broker(store, settings)
                from .subscriptions import attach

                attach(b)
                store.__dict__["_ngsild_broker"] = b
    return b


def shutdown(store) -> None:
    """Stop the store's broker's notification worker (app shutdown)."""
    b = store.__dict__.get("_ngsild_broker")
    if b is not None and b.subscriptions is not None:
        b.subscriptions.stop()


_CREATE = threading.Lock()


def limit_check(limit: int) -> None:
    if limit > MAX_RESULTS:
        raise TooManyResults(f"limit is at most {MAX_RESULTS}", field="limit")


def aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)
