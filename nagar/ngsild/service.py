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

import asyncio
import logging
import queue
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from datetime import datetime, timezone
from typing import Any, Iterable

from nagar.core.errors import NagarError
from nagar.core.tenancy import Scope, allows

from . import entities as E
from . import mapping, stations, waterviews
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

log = logging.getLogger("nagar.ngsild")
MAX_GROUP = 512
"""Most requests written by one group commit (one transaction, one fsync)."""
MAX_BATCH = 1000
"""Entities per batch operation (clause 5.6.7-5.6.10 leave the limit to the implementation)."""
MAX_RESULTS = 1000
"""Largest ``limit`` of a query (pagination: clauses 5.5.9 and 6.3.10; beyond it TooManyResults, whose
threshold clause 5.5.6 leaves to the implementation)."""
_UNIT_CODE_OF = {"µg/m³": "GQ", "mg/m³": "GP", "ppm": "59", "ppb": "61", "°C": "CEL", "%": "P1"}


_GROUP = threading.local()


def _now() -> str:
    """The current time; inside a group commit the group's time (one per commit, read once: every change
    of a group is stamped with the same modifiedAt)."""
    now = getattr(_GROUP, "now", None)
    return now if now is not None else E.now_iso()


def _in_writer(fn):
    """Run a write operation in the writer thread (planned against the staged state of its group
    commit); called from elsewhere, it is queued and waited for. ``op.submit(broker, ...)`` queues it
    without waiting (the async routes await the future)."""
    import functools

    @functools.wraps(fn)
    def wrapper(self, *args, **kw):
        if getattr(self._tl, "batch", None) is not None:
            return fn(self, *args, **kw)
        return self.submit(functools.partial(fn, self), *args, **kw).result()

    def submit(self, *args, audit=None, **kw):
        return self.submit(functools.partial(fn, self), *args, audit=audit, **kw)

    def submit_async(self, *args, audit=None, **kw):
        return self.submit_async(functools.partial(fn, self), *args, audit=audit, **kw)

    wrapper.submit = submit
    wrapper.submit_async = submit_async
    return wrapper


class Broker:
    """Entity storage, cache, mapping and change fan-out for one store."""

    def __init__(self, store, settings):
        self.store = store
        self.settings = settings
        self.cached = type(store).__name__ == "DuckDBStore"
        self._cache: OrderedDict[tuple[str, str], dict | None] = OrderedDict()
        self._cache_max = 50_000
        self._obs: dict[str, list[dict]] = {}
        self._mirror: dict[str, dict[str, dict]] = {}
        self._stations: dict[str, str] = {}
        self._cities: tuple[float, frozenset] = (0.0, frozenset())
        self._lock = threading.RLock()
        self.subscriptions = None  # set by nagar.ngsild.subscriptions.attach
        import os

        self.default_tenant = os.environ.get("NAGAR_NGSILD_DEFAULT_TENANT", "").strip()
        self.commit_delay = float(os.environ.get("NAGAR_NGSILD_COMMIT_DELAY_MS", "2")) / 1000.0
        """How long the writer waits for more requests to join a group commit (classic commit delay)."""
        self._jobs: queue.Queue = queue.Queue()
        self._writer: threading.Thread | None = None
        self._tl = threading.local()
        store.on_write(self._observations_written)

    # tenancy ------------------------------------------------------------------------------------
    def _city_ids(self) -> frozenset:
        at, ids = self._cities
        if time.monotonic() - at > 5.0:
            ids = frozenset(c["id"] for c in self.store.list_cities())
            self._cities = (time.monotonic(), ids)
        return ids

    def tenant(self, header: str | None, *, read: Scope, write: Scope | None = None) -> str:
        """The city a request acts on (clause 4.14 multi-tenancy; clause 6.3.14 the ``NGSILD-Tenant``
        header). A city that does not exist or that the caller may not see is a NonexistentTenant (404);
        a visible city without the write right is a 403."""
        tenant = (header or "").strip() or self.default_tenant
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
        """The committed entity (cache, else store), or the station view of that id, or None."""
        key = (tenant, eid)
        if self.cached:
            with self._lock:  # the store read too: a commit's cache update cannot slip in between
                if key in self._cache:
                    self._cache.move_to_end(key)
                    ent = self._cache[key]
                else:
                    row = self.store.ngsild_get(tenant, eid)
                    ent = loads(row["body"]) if row else None
                    self._remember(key, ent)
        else:
            row = self.store.ngsild_get(tenant, eid)
            ent = loads(row["body"]) if row else None
        return ent if ent is not None else stations.views_of(self).get(tenant, eid)

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
        return stations.finish({**ent, "attrs": attrs}) if stations.is_view(ent) else {**ent, "attrs": attrs}

    def _observations_written(self, batch) -> None:
        """Store write listener: observations of a station changed, so its overlay is stale, and the
        subscriptions watching its entities hear of readings that came by another path (file, MQTT,
        ingest API); the broker's own writes are notified as entity changes already."""
        sids = batch.column("station").to_pylist()
        for sid in set(sids):
            self._obs.pop(sid, None)
        by_station: dict[str, set[str]] = {}
        for sid, prm in zip(sids, batch.column("parameter").to_pylist()):
            by_station.setdefault(sid, set()).add(prm)
        stations.views_of(self).observed(by_station)
        if self.subscriptions is None or threading.current_thread() is self._writer:
            return
        self.subscriptions.observed(by_station)

    def query(self, tenant: str, *, ids: list[str] | None = None, id_pattern: str | list[str] | None = None,
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
        pattern = None  # RE2, linear time: see patterns.py (several, from a POST query: any of them)
        if id_pattern:
            from .patterns import compile_any, compile_pattern

            pattern = compile_pattern(id_pattern, "idPattern") if isinstance(id_pattern, str) \
                else compile_any(list(id_pattern), "entities.idPattern")
        qp = Q.parse_q(q, ctx) if q else None
        if self.cached:  # the tenant's in-memory mirror: no SQL, no JSON parsing
            mirror = self._tenant_mirror(tenant)
            keys = sorted(mirror) if ids is None else sorted(i for i in set(ids) if i in mirror)
            candidates = ((k, mirror[k]) for k in keys)
        else:
            candidates = ((r["id"], loads(r["body"])) for r in self.store.ngsild_query(tenant, ids=ids, type_like=like))
        candidates = stations.views_of(self).merge(tenant, ids, candidates)
        out = []
        for eid, ent in candidates:
            if pattern is not None and not pattern.fullmatch(eid):
                continue
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

    def _tenant_mirror(self, tenant: str) -> dict[str, dict]:
        """Every entity of a tenant, kept in step by the group commits (loaded once, in the writer thread,
        so no commit can slip between the read and the first update)."""
        m = self._mirror.get(tenant)
        if m is None:
            if getattr(self._tl, "batch", None) is not None or threading.current_thread() is self._writer:
                m = self._load_mirror(tenant)
            else:
                m = self.submit(self._load_mirror, tenant).result()
        return m

    def _load_mirror(self, tenant: str) -> dict[str, dict]:
        with self._lock:  # commits update mirrors under this lock, after writing: none is missed
            m = self._mirror.get(tenant)
            if m is None:
                m = {r["id"]: loads(r["body"]) for r in self.store.ngsild_query(tenant)}
                self._mirror[tenant] = m
        return m

    # writes -------------------------------------------------------------------------------------
    def _prepare_mapped(self, tenant: str, ent: dict, when: str,
                        names: list[str] | None = None) -> tuple[str | None, list[dict]]:
        """Station and observation rows of a mapped entity (validated, nothing written yet)."""
        kind = mapping.kind_of(ent)
        if kind is None:
            return None, []
        only = None if names is None else {mapping.short(n) for n in names}
        sid, station, rows, problems = mapping.rows_for(ent, when=when, only=only)
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

    def _write_mapped(self, tenant: str, items: list[tuple["_Job", list]], placed: dict[str, str]) -> dict:
        """Stations and observations of the mapped entities of one tenant in a group: one ingest call
        (validation, unit conversion, ``store.write_observations``), inside the group's transaction.
        Returns the jobs all of whose observations were refused (their entities are then not written);
        ``placed`` gets each station's tenant, remembered once the transaction has committed."""
        from nagar.ingest.service import ingest_rows

        rows: list[dict] = []
        owner: list = []
        for job, prepared in items:
            for sid, its in prepared:
                station, obs = dict(its[0]), its[1:]
                kind = station.pop("_kind", None)
                if station.pop("_new") or kind == "Device":
                    current = self.store.get_station(sid)
                    params = sorted(set((current or {}).get("parameters") or []) | set(station["parameters"]))
                    self.store.upsert_station({**station, "parameters": params})
                placed[sid] = tenant
                rows.extend(obs)
                owner.extend([job] * len(obs))
        if not rows:
            return {}
        try:
            res = ingest_rows(self.store, rows=rows, settings=self.settings, scope=frozenset({tenant}))
        except NagarError as exc:
            err = BadRequestData(f"observations refused: {exc.message}", field=exc.field)
            return {job: err for job, _ in items}
        bad: dict = {}
        for e in res.errors:
            bad.setdefault(owner[e.index], []).append(f"{e.field}: {e.reason}")
        failed = {}
        for job, n in _count(owner).items():
            if len(bad.get(job, ())) == n:
                failed[job] = BadRequestData("every observation of the entity was refused: "
                                             + "; ".join(bad[job][:5]), field="value")
        return failed

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

    def _current(self, tenant: str, eid: str) -> dict | None:
        """The entity as the write being planned sees it: staged by an earlier write of the same group
        commit, else stored."""
        batch = getattr(self._tl, "batch", None)
        if batch is not None and (tenant, eid) in batch.staged:
            return batch.staged[(tenant, eid)]
        return waterviews.refuse_write(self._load(tenant, eid))  # a water view is never written

    def commit(self, tenant: str, changes: list[tuple[dict | None, dict | None, list[str]]], *,
               hist_del: list[tuple] = ()) -> None:
        """Stage ``(before, after, changed attribute names)`` triples in the current group commit (the
        writer thread's batch); mapped entities are validated and their stations resolved now, so a bad
        one fails only its own request."""
        batch = getattr(self._tl, "batch", None)
        if batch is None:  # not planned in the writer thread: run as a job of its own
            self.submit(self.commit, tenant, changes, hist_del=hist_del).result()
            return
        now = _now()
        prepared = []
        for before, after, names in changes:
            if after is not None:
                stations.strip(after)
                sid, items = self._prepare_mapped(tenant, after, now, names)
                if sid is not None:
                    after["station"] = sid
                    prepared.append((sid, items))
        batch.stage(tenant, changes, prepared, list(hist_del))

    # group commit ---------------------------------------------------------------------------------
    def submit(self, fn, *args, audit: tuple | None = None, **kw) -> Future:
        """Queue a write (``fn(*args, **kw)``, planned in the writer thread) for the next group commit.
        ``audit``: (actor, action, city, target, details or details(result)) recorded in the same
        transaction as the write."""
        fut: Future = Future()
        self._jobs.put(_Job(fn, args, kw, fut, audit))
        self._ensure_writer()  # after queueing: a writer that stopped meanwhile is replaced for this job
        return fut

    def submit_async(self, fn, *args, audit: tuple | None = None, **kw) -> "asyncio.Future":
        """:meth:`submit` for a caller on an event loop (call it there): an asyncio future, settled with
        the others of its group in one call into the loop."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._jobs.put(_Job(fn, args, kw, fut, audit, loop))
        self._ensure_writer()
        return fut

    def _ensure_writer(self) -> None:
        if self._writer is None or not self._writer.is_alive():
            with self._lock:
                if self._writer is None or not self._writer.is_alive():
                    self._writer = threading.Thread(target=self._writer_loop, name="ngsild-writer", daemon=True)
                    self._writer.start()

    def stop(self) -> None:
        """Finish the queued writes and stop the writer (a later write starts a new one)."""
        writer = self._writer
        if writer is not None and writer.is_alive():
            self._jobs.put(None)
            writer.join(10)

    def _writer_loop(self) -> None:
        """Group commit: a writer that was idle waits ``commit_delay`` after the first job for others to
        join, then takes everything queued (up to MAX_GROUP); a writer that was busy takes what queued up
        meanwhile at once. It sleeps rather than waking for each job, so a group of N costs one wake-up,
        not N thread switches. A stop request (None) ends the loop once every job taken with it is done."""
        pending: list = []
        stop = False
        while True:
            if not pending:
                first = self._jobs.get()
                if first is None:
                    if self._retire():
                        return
                    continue
                pending.append(first)
                if self.commit_delay > 0:
                    time.sleep(self.commit_delay)
            while len(pending) < MAX_GROUP:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                else:
                    pending.append(job)
            jobs, pending = pending[:MAX_GROUP], pending[MAX_GROUP:]
            self._run_group(jobs)
            if stop and not pending:
                if self._retire():
                    return
                stop = False

    def _retire(self) -> bool:
        """Leave the writer's post if nothing is queued (under the lock :meth:`_ensure_writer` takes, so a
        job queued from now on starts a new writer); False: jobs came in, carry on."""
        with self._lock:
            if not self._jobs.empty():
                return False
            if self._writer is threading.current_thread():
                self._writer = None
            return True

    def _run_group(self, jobs: list["_Job"]) -> None:
        """Plan every job against the staged state, write all and their audit entries in one transaction,
        answer (asyncio waiters: one wake-up of their event loop per group)."""
        batch = _Batch()
        self._tl.batch = batch
        _GROUP.now = E.now_iso()
        planned = []
        settle = _Settle()
        try:
            for job in jobs:
                if not job.start():
                    continue
                batch.job = job
                mark = batch.mark()
                try:
                    job.result = job.fn(*job.args, **job.kw)
                    planned.append(job)
                except BaseException as exc:  # this request's own error (BadRequestData, ResourceNotFound, ...)
                    batch.rollback(mark)
                    settle.fail(job, exc)
        finally:
            self._tl.batch = None
            _GROUP.now = None
        try:
            if planned:
                failed = self._flush(batch, planned)
                for job in planned:
                    if job in failed:
                        settle.fail(job, failed[job])
                    else:
                        settle.ok(job, job.result)
        except BaseException as exc:  # the store failed: nothing of the group is acknowledged
            with self._lock:
                for (t, eid) in batch.staged:
                    self._cache.pop((t, eid), None)
            for job in planned:
                settle.fail(job, exc)
        finally:
            settle.send()

    def _audit_entries(self, planned: list["_Job"], failed: dict) -> list:
        """The audit entries (builders, ``nagar.security.audit.entry_builder``) of a group's successful
        jobs: one per caller and city; a caller's only job keeps its own action, several are listed under
        ``ngsild.group``."""
        from nagar.security import audit

        def details(job):
            d = job.audit[4]
            return d(job.result) if callable(d) else d

        by_actor: dict[tuple, list] = {}
        for job in planned:
            if job not in failed and job.audit is not None:
                by_actor.setdefault((job.audit[0], job.audit[2]), []).append(job)
        out = []
        for (actor, city), group in by_actor.items():
            if len(group) == 1:
                job = group[0]
                out.append(audit.entry_builder(actor=actor, action=job.audit[1], city=city, target=job.audit[3],
                                               details=details(job)))
                continue
            ops = [[j.audit[1], j.audit[3]] for j in group]
            out.append(audit.entry_builder(actor=actor, action="ngsild.group", city=city,
                                           target=f"{len(group)} operations",
                                           details={"operations": ops[:200], "more": max(0, len(ops) - 200)}))
        return out

    def _flush(self, batch: "_Batch", planned: list["_Job"]) -> dict:
        """Write a planned group: observations of mapped entities (per tenant, through the ingest path),
        then every entity change and the group's audit entries in one transaction; returns the jobs that
        failed at the first stage."""
        if not batch.obs:
            failed: dict = {}
            folded = self._commit_entities(batch, planned, failed)
        else:
            # observations, stations, entity changes and audit entries stand or fall together: the
            # listeners of the observation writes hear of them only when this transaction commits
            placed: dict[str, str] = {}
            with self.store.transaction():
                failed = {}
                by_tenant: dict[str, list] = {}
                for job, tenant, prepared in batch.obs:
                    by_tenant.setdefault(tenant, []).append((job, prepared))
                for tenant, items in by_tenant.items():
                    failed.update(self._write_mapped(tenant, items, placed))
                folded = self._commit_entities(batch, planned, failed)
            self._stations.update(placed)
        self._committed(batch, failed, folded)
        return failed

    def _commit_entities(self, batch: "_Batch", planned: list["_Job"], failed: dict) -> dict:
        """Write the entity changes and audit entries of a group (its observations written; ``failed``
        holds the jobs whose observations were all refused, and gets those built on them) in one
        transaction; returns the changes folded per entity, ``(tenant, id) -> [before, after]``."""
        if failed:
            bad_keys = {(t, (a or b)["id"]) for job, t, b, a, _ in batch.changes if job in failed}
            for job, t, b, a, _ in batch.changes:  # later writes built on a failed one fail with it
                if job not in failed and (t, (a or b)["id"]) in bad_keys:
                    failed[job] = next(iter(failed.values()))
        writes: dict[str, dict] = {}
        folded: dict[tuple, list] = {}
        for job, tenant, before, after, names in batch.changes:
            if job in failed:
                continue
            w = writes.setdefault(tenant, {"history": [], "hist_del": []})
            if after is not None:
                w["history"].extend(self._history(after, names))
            key = (tenant, (after or before)["id"])
            if key in folded:
                folded[key][1] = after
            else:
                folded[key] = [before, after]
        for job, tenant, hd in batch.hist_del:
            if job not in failed:
                writes.setdefault(tenant, {"history": [], "hist_del": []})["hist_del"].extend(hd)
        for (tenant, eid), (before, after) in folded.items():
            w = writes[tenant]
            if after is None:
                w.setdefault("delete", []).append(eid)
            else:
                w.setdefault("put", []).append({
                    "id": eid, "stored": before is not None and not stations.is_view(before),
                    "types": dumps(after["type"]), "body": dumps(after), "station": after.get("station"),
                    "created_at": E.parse_time(after["createdAt"], "createdAt"),
                    "modified_at": E.parse_time(after["modifiedAt"], "modifiedAt")})
        self.store.ngsild_commit(writes, self._audit_entries(planned, failed))
        return folded

    def _committed(self, batch: "_Batch", failed: dict, folded: dict) -> None:
        """After a group's commit: caches, station views and subscriptions learn of its changes."""
        if self.cached:
            with self._lock:  # readers fill the cache under this lock: a stale read cannot land after this
                for (tenant, eid), (before, after) in folded.items():
                    self._remember((tenant, eid), after)
                    m = self._mirror.get(tenant)
                    if m is not None:
                        if after is None:
                            m.pop(eid, None)
                        else:
                            m[eid] = after
        for job, tenant, prepared in batch.obs:
            for sid, _ in prepared:
                self._obs.pop(sid, None)
        for tenant in {t for job, t, b, a, _ in batch.changes if job not in failed
                       and (b is None or a is None or stations.is_view(b))}:
            stations.views_of(self).entities_changed(tenant)
        if self.subscriptions is not None:
            per: dict[str, list] = {}
            for job, tenant, before, after, names in batch.changes:
                if job not in failed:
                    per.setdefault(tenant, []).append((before, after, names))
            for tenant, changes in per.items():
                self.subscriptions.changed(tenant, changes)

    # entity operations (clause 5.6) -------------------------------------------------------------
    @_in_writer
    def create(self, tenant: str, body: Any, ctx: Context) -> dict:
        """Clause 5.6.1 "Create Entity": AlreadyExists (409) if the id is taken."""
        ent = E.parse_entity(body, ctx)
        old = self._current(tenant, ent["id"])
        if old is not None and not stations.is_view(old):  # a station view is no entity yet
            raise AlreadyExists(f"entity {ent['id']} already exists", field="id")
        self.commit(tenant, [(None, ent, list(ent["attrs"]))])
        return ent

    @_in_writer
    def replace(self, tenant: str, eid: str, body: Any, ctx: Context) -> None:
        """Clause 5.6.18 (V1.6.1 "Replace Entity", PUT): every attribute is replaced; the id in the body,
        if any, must be the path's."""
        E.check_uri(eid, "entityId")
        old = self._current(tenant, eid)
        if old is None:
            raise ResourceNotFound(f"no entity {eid}", field="entityId")
        if isinstance(body, dict) and "id" in body and body["id"] != eid:
            raise BadRequestData("the body's id differs from the path's", field="id")
        if isinstance(body, dict) and "type" not in body:
            body = {**body, "type": [CORE.compact(t) for t in old["type"]] if ctx is CORE else old["type"]}
        ent = E.parse_entity({**body, "id": eid} if isinstance(body, dict) else body, ctx)
        ent["createdAt"] = old["createdAt"]
        self.commit(tenant, [(old, ent, list(ent["attrs"]))])

    @_in_writer
    def delete(self, tenant: str, eid: str) -> None:
        """Clause 5.6.6 "Delete Entity"."""
        E.check_uri(eid, "entityId")
        old = self._current(tenant, eid)
        if old is None:
            raise ResourceNotFound(f"no entity {eid}", field="entityId")
        stations.refuse_delete(old)
        self.commit(tenant, [(old, None, list(old["attrs"]))])

    @_in_writer
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

    @_in_writer
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
        old = self._current(tenant, eid)
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

    @_in_writer
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

    @_in_writer
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
        self.commit(tenant, [(old, ent, [])], hist_del=[(eid, name, dataset_id, delete_all)])

    # batch operations (clause 5.6.7-5.6.10) -----------------------------------------------------
    def _batch_items(self, body: Any, ctx_of) -> list:
        if not isinstance(body, list):
            raise BadRequestData("a batch is a JSON array", field="body")
        if not body:
            raise BadRequestData("a batch must not be empty", field="body")
        if len(body) > MAX_BATCH:
            raise BadRequestData(f"a batch holds at most {MAX_BATCH} entities", field="body")
        return body

    @_in_writer
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
            return staged[eid] if eid in staged else self._current(tenant, eid)

        for item in items:
            eid = item.get("id") if isinstance(item, dict) else item if isinstance(item, str) else None
            try:
                if op == "delete":
                    E.check_uri(item, "id")
                    old = current(item)
                    if old is None:
                        raise ResourceNotFound(f"no entity {item}", field="id")
                    stations.refuse_delete(old)
                    staged[item] = None
                    changes.append((old, None, list(old["attrs"])))
                    success.append(item)
                    continue
                ctx = ctx_of(item)
                if op in ("create", "upsert"):
                    ent = E.parse_entity(item, ctx, now=now)
                    old = current(ent["id"])
                    if op == "create" and old is not None and not stations.is_view(old):
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
        created = [a["id"] for b, a, _ in _last_per_id(changes) if b is None and a is not None] if success else []
        return {"success": list(dict.fromkeys(success)), "errors": errors, "created": created}


def _count(items: list) -> dict:
    out: dict = {}
    for x in items:
        out[x] = out.get(x, 0) + 1
    return out


class _Job:
    __slots__ = ("fn", "args", "kw", "future", "audit", "result", "loop")

    def __init__(self, fn, args, kw, future, audit, loop=None):
        self.fn, self.args, self.kw, self.future, self.audit, self.result = fn, args, kw, future, audit, None
        self.loop = loop  # set: ``future`` is an asyncio future of that loop

    def start(self) -> bool:
        """False when the waiter gave up before planning began (then nothing is done for it)."""
        if self.loop is not None:
            return not self.future.cancelled()
        return self.future.set_running_or_notify_cancel()


class _Settle:
    """A group's answers: thread futures at once, asyncio futures in one call per event loop."""

    def __init__(self):
        self.by_loop: dict = {}

    def ok(self, job: _Job, result) -> None:
        if job.loop is None:
            job.future.set_result(result)
        else:
            self.by_loop.setdefault(job.loop, []).append((job.future, result, None))

    def fail(self, job: _Job, exc: BaseException) -> None:
        if job.loop is None:
            job.future.set_exception(exc)
        else:
            self.by_loop.setdefault(job.loop, []).append((job.future, None, exc))

    def send(self) -> None:
        for loop, items in self.by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle_all, items)
            except RuntimeError:  # the loop is closed: nobody waits any more
                pass
        self.by_loop = {}


def _settle_all(items) -> None:
    for fut, result, exc in items:
        if fut.done():  # cancelled meanwhile
            continue
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(result)


class _Batch:
    """What the jobs of one group commit have planned so far."""

    def __init__(self):
        self.job = None
        self.staged: dict[tuple[str, str], dict | None] = {}
        self.changes: list[tuple] = []
        self.obs: list[tuple] = []
        self.hist_del: list[tuple] = []

    def mark(self) -> tuple[int, int, int]:
        return len(self.changes), len(self.obs), len(self.hist_del)

    def rollback(self, mark: tuple[int, int, int]) -> None:
        del self.changes[mark[0]:]
        del self.obs[mark[1]:]
        del self.hist_del[mark[2]:]
        self.staged = {}
        for _, t, b, a, _ in self.changes:
            self.staged[(t, (a or b)["id"])] = a

    def stage(self, tenant: str, changes: list, prepared: list, hist_del: list) -> None:
        for before, after, names in changes:
            self.changes.append((self.job, tenant, before, after, names))
            self.staged[(tenant, (after or before)["id"])] = after
        if prepared:
            self.obs.append((self.job, tenant, prepared))
        if hist_del:
            self.hist_del.append((self.job, tenant, hist_del))


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


def start(store, settings) -> None:
    """App start: create the store's broker now, so that its write listener (subscriptions notified of
    observations from any path) is registered before the first NGSI-LD request. A store without the
    NGSI-LD tables (a test double) is left alone."""
    if hasattr(store, "ngsild_get") and hasattr(store, "on_write"):
        broker_of(store, settings)


def shutdown(store) -> None:
    """Stop the store's broker's notification worker (app shutdown)."""
    b = store.__dict__.get("_ngsild_broker")
    if b is not None:
        b.stop()
        if b.subscriptions is not None:
            b.subscriptions.stop()


_CREATE = threading.Lock()


def limit_check(limit: int) -> None:
    if limit > MAX_RESULTS:
        raise TooManyResults(f"limit is at most {MAX_RESULTS}", field="limit")


def aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)
