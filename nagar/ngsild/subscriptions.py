"""NGSI-LD subscriptions and notifications (ETSI GS CIM 009 V1.6.1 clauses 5.8.1-5.8.5 for the
operations, 5.2.12 for the Subscription data type, 5.2.14 for NotificationParams, 5.3.1 for
Notification, 5.8.6 for the notification behaviour).

A write hands its changes to :meth:`Subscriptions.changed`, which only queues them: a background thread
matches them against the tenant's subscriptions (``entities`` selectors, ``watchedAttributes``, ``q``,
``geoQ``), applies ``throttling`` (seconds between notifications of one subscription) and ``expiresAt``
/ ``isActive``, renders the entities in ``notification.format`` with ``notification.attributes`` and the
subscription's own @context, and POSTs the Notification to ``notification.endpoint.uri``. Each attempt
updates ``timesSent``, ``lastNotification`` and ``lastSuccess`` / ``lastFailure``. The writer never waits
for delivery. Changes made outside NGSI-LD come the same way: observations of mapped stations and station
views (:meth:`Subscriptions.observed`) and lab samples of water views (:meth:`Subscriptions.water_changed`,
from :mod:`nagar.ngsild.waterviews`). Notifications are at-most-once: a failed POST is recorded, not retried, and queued changes
are lost if the process stops.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Any

from . import entities as E
from .context import Context, resolve
from .errors import AlreadyExists, BadRequestData, ResourceNotFound
from .patterns import compile_pattern

log = logging.getLogger("nagar.ngsild")
_FORMATS = ("normalized", "keyValues", "concise")
_OBSERVED, _WATER = object(), object()
"""Queue item kinds besides ``(tenant, changes)``: objects, so that no city id can be taken for one."""


def parse_subscription(body: Any, ctx_spec: Any, ctx: Context, *, sub_id: str | None = None,
                       current: dict | None = None) -> dict:
    """Validate a Subscription (create, or the fragment of an update merged into ``current``)."""
    if not isinstance(body, dict):
        raise BadRequestData("a subscription must be a JSON object", field="body")
    sub = dict(current or {})
    if current is None:
        sid = body.get("id") or f"urn:ngsi-ld:Subscription:{uuid.uuid4()}"
        sub["id"] = E.check_uri(sid, "id")
        if body.get("type", "Subscription") != "Subscription":
            raise BadRequestData("type must be Subscription", field="type")
        sub["@context"] = ctx_spec
    for k in ("entities", "watchedAttributes", "q", "geoQ", "notification", "expiresAt", "throttling", "isActive",
              "subscriptionName", "description"):
        if k in body:
            sub[k] = body[k]
    ents = sub.get("entities")
    if ents is not None:
        if not isinstance(ents, list) or not ents:
            raise BadRequestData("entities must be a non-empty list of {type, id?, idPattern?}", field="entities")
        for e in ents:
            if not isinstance(e, dict) or not isinstance(e.get("type"), str):
                raise BadRequestData("every entities item needs a type", field="entities")
            if "id" in e:
                E.check_uri(e["id"], "entities.id")
            if "idPattern" in e:  # checked now: it is matched against every notified entity (RE2, patterns.py)
                if not isinstance(e["idPattern"], str):
                    raise BadRequestData("entities.idPattern must be a string", field="entities.idPattern")
                compile_pattern(e["idPattern"], "entities.idPattern")
    watched = sub.get("watchedAttributes")
    if watched is not None and (not isinstance(watched, list) or not watched
                                or not all(isinstance(w, str) for w in watched)):
        raise BadRequestData("watchedAttributes must be a non-empty list of names", field="watchedAttributes")
    if ents is None and watched is None:
        raise BadRequestData("a subscription needs entities or watchedAttributes", field="entities")
    n = sub.get("notification")
    if not isinstance(n, dict) or not isinstance(n.get("endpoint"), dict):
        raise BadRequestData("notification.endpoint is required", field="notification")
    uri = n["endpoint"].get("uri")
    if not isinstance(uri, str) or not uri.startswith(("http://", "https://")):
        raise BadRequestData("notification.endpoint.uri must be an http(s) URL", field="notification.endpoint.uri")
    if n.get("format", "normalized") not in _FORMATS:
        raise BadRequestData(f"notification.format must be one of {', '.join(_FORMATS)}", field="notification.format")
    if "attributes" in n and (not isinstance(n["attributes"], list)
                              or not all(isinstance(a, str) for a in n["attributes"])):
        raise BadRequestData("notification.attributes must be a list of names", field="notification.attributes")
    if "throttling" in sub and (isinstance(sub["throttling"], bool) or not isinstance(sub["throttling"], (int, float))
                                or sub["throttling"] < 0):
        raise BadRequestData("throttling is a number of seconds >= 0", field="throttling")
    if "expiresAt" in sub:
        E.parse_time(sub["expiresAt"], "expiresAt")
    if "isActive" in sub and not isinstance(sub["isActive"], bool):
        raise BadRequestData("isActive must be true or false", field="isActive")
    if "q" in sub:
        from .query import parse_q

        if not isinstance(sub["q"], str):
            raise BadRequestData("q must be a string", field="q")
        parse_q(sub["q"], ctx)
    if "geoQ" in sub:
        g = sub["geoQ"]
        if not isinstance(g, dict):
            raise BadRequestData("geoQ must be an object", field="geoQ")
        from .query import parse_geo

        parse_geo(g.get("georel"), g.get("geometry"), g.get("coordinates"), g.get("geoproperty"), ctx)
    return sub


def status_of(sub: dict, now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    if "expiresAt" in sub and E.parse_time(sub["expiresAt"], "expiresAt") <= now:
        return "expired"
    return "active" if sub.get("isActive", True) else "paused"


def render_subscription(row: dict) -> dict:
    """A stored subscription with its status members (clause 5.2.12 / 5.2.14 NotificationParams)."""
    sub = E_loads(row["body"])
    out = {k: v for k, v in sub.items() if k != "@context"}
    out["type"] = "Subscription"
    out["status"] = status_of(sub)
    out["isActive"] = sub.get("isActive", True)
    n = dict(out.get("notification") or {})
    n["timesSent"] = row["times_sent"]
    failing = row["last_failure"] and (not row["last_success"] or row["last_failure"] > row["last_success"])
    n["status"] = "failed" if failing else "ok"
    for k in ("last_notification", "last_success", "last_failure"):
        if row[k] is not None:
            t = row[k] if row[k].tzinfo else row[k].replace(tzinfo=timezone.utc)
            n["".join(w.capitalize() if i else w for i, w in enumerate(k.split("_")))] = E.iso(t)
    out["notification"] = n
    return out


def E_loads(s: str) -> dict:
    from .service import loads

    return loads(s)


class Subscriptions:
    """The notification worker of one broker."""

    def __init__(self, broker):
        self.broker = broker
        self.store = broker.store
        self._q: queue.Queue = queue.Queue(maxsize=100_000)
        self._subs: dict[str, list[dict]] = {}
        self._any: bool | None = None
        self._last: dict[tuple[str, str], float] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._client = None
        self._lock = threading.Lock()

    # CRUD (clauses 5.8.1-5.8.5) -----------------------------------------------------------------
    def _allow_private(self) -> bool:
        return bool(getattr(self.broker.settings, "egress_allow_private", False))

    def _check_endpoint(self, sub: dict) -> None:
        """The notification endpoint must be a public address (nagar.security.egress), checked literally
        here and again, resolved, before each notification."""
        from nagar.security.egress import RefusedDestination, check_destination

        try:
            check_destination(sub["notification"]["endpoint"]["uri"], allow_private=self._allow_private(),
                              resolve=False, field="notification.endpoint.uri")
        except RefusedDestination as exc:
            raise BadRequestData(str(exc), field="notification.endpoint.uri") from None

    def create(self, tenant: str, body: Any, ctx_spec: Any, ctx: Context) -> dict:
        sub = parse_subscription(body, ctx_spec, ctx)
        self._check_endpoint(sub)
        from .service import dumps

        if not self.store.ngsild_put_subscription(tenant, sub["id"], dumps(sub), create=True):
            raise AlreadyExists(f"subscription {sub['id']} already exists", field="id")
        self._subs.pop(tenant, None)
        self._any = None
        return sub

    def get(self, tenant: str, sub_id: str) -> dict:
        rows = self.store.ngsild_subscriptions(tenant, sub_id)
        if not rows:
            raise ResourceNotFound(f"no subscription {sub_id}", field="subscriptionId")
        return rows[0]

    def update(self, tenant: str, sub_id: str, body: Any, ctx: Context) -> None:
        row = self.get(tenant, sub_id)
        current = E_loads(row["body"])
        if isinstance(body, dict) and "id" in body and body["id"] != sub_id:
            raise BadRequestData("the subscription id cannot change", field="id")
        sub = parse_subscription(body, None, resolve(current.get("@context")), current=current)
        self._check_endpoint(sub)
        from .service import dumps

        self.store.ngsild_put_subscription(tenant, sub_id, dumps(sub), create=False)
        self._subs.pop(tenant, None)
        self._any = None

    def delete(self, tenant: str, sub_id: str) -> None:
        if not self.store.ngsild_delete_subscription(tenant, sub_id):
            raise ResourceNotFound(f"no subscription {sub_id}", field="subscriptionId")
        self._subs.pop(tenant, None)
        self._any = None

    # fan-out ------------------------------------------------------------------------------------
    def changed(self, tenant: str, changes: list) -> None:
        """Called by the writer after a commit: queue, never block (a full queue drops, logged)."""
        subs = self._subs.get(tenant)
        if subs is None:
            subs = [E_loads(r["body"]) for r in self.store.ngsild_subscriptions(tenant)]
            self._subs[tenant] = subs
        if not subs:
            return
        self._ensure_thread()
        try:
            self._q.put_nowait((tenant, [(a, names) for _, a, names in changes if a is not None]))
        except queue.Full:
            log.warning("ngsild notification queue full; changes of %s dropped", tenant)

    def observed(self, by_station: dict[str, set[str]]) -> None:
        """Observations arrived for these stations (parameters): queue, never block the writer."""
        if self._any is None:
            self._any = bool(self.store.ngsild_subscriptions())
        if not self._any:  # the common case: a cheap no-op for every ingest path
            return
        self._ensure_thread()
        try:
            self._q.put_nowait((_OBSERVED, by_station))
        except queue.Full:
            log.warning("ngsild notification queue full; observations of %s dropped", sorted(by_station))

    def listening(self) -> bool:
        """Whether any tenant has a subscription (cached until one is created, updated or deleted here)."""
        if self._any is None:
            self._any = bool(self.store.ngsild_subscriptions())
        return self._any

    def water_changed(self, by_tenant: dict[str, list[tuple[dict, list[str]]]]) -> None:
        """Water views changed by a committed sample load (``(view, changed names)`` per tenant, from
        :meth:`nagar.ngsild.waterviews.WaterViews.changes`): queue, never block the writer."""
        if not by_tenant:
            return
        self._ensure_thread()
        try:
            self._q.put_nowait((_WATER, by_tenant))
        except queue.Full:
            log.warning("ngsild notification queue full; water samples of %s dropped", sorted(by_tenant))

    def _observed(self, by_station: dict[str, set[str]]) -> None:
        """Notify the subscriptions of the mapped entities of stations whose observations changed, with the
        attributes backed by those parameters as the changed ones."""
        from .context import CORE
        from .service import loads
        from .temporal import observation_backed

        for sid, params in by_station.items():
            st = self.store.get_station(sid)
            if st is None:
                continue
            tenant = st["city"]
            changes = []
            for row in self.store.ngsild_query(tenant, station=sid):
                ent = loads(row["body"])
                backed = observation_backed(ent)
                names = [iri for iri, p in backed.items() if p in params]
                names += [CORE.expand(p) for p in params if p not in backed.values()]
                changes.append((ent, names))
            if not changes:  # no entity of its own: the station's view (nagar.ngsild.stations)
                from .stations import PREFIX, views_of

                view = views_of(self.broker).get(tenant, PREFIX + sid)
                if view is not None:
                    changes.append((view, [iri for iri, p in observation_backed(view).items() if p in params]))
            if changes:
                self._deliver(tenant, changes)

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._stop.clear()
                    self._thread = threading.Thread(target=self._run, name="ngsild-notify", daemon=True)
                    self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._q.put(None)
        if self._thread is not None:
            self._thread.join(timeout)
        if self._client is not None:
            self._client.close()
            self._client = None

    def _run(self) -> None:
        import httpx

        self._client = httpx.Client(timeout=5.0)
        while not self._stop.is_set():
            item = self._q.get()
            if item is None:
                break
            try:
                if item[0] is _OBSERVED:
                    self._observed(item[1])
                elif item[0] is _WATER:  # clause 5.8.6 for water views, like any entity change
                    for tenant, changes in item[1].items():
                        self._deliver(tenant, changes)
                else:
                    self._deliver(*item)
            except Exception:  # a bad subscription must not stop the worker
                log.exception("ngsild notification failed")

    def _deliver(self, tenant: str, changes: list) -> None:
        from .query import parse_geo, parse_q, parse_type_selection

        now = datetime.now(timezone.utc)
        for sub in self._subs.get(tenant) or [E_loads(r["body"]) for r in self.store.ngsild_subscriptions(tenant)]:
            if status_of(sub, now) != "active":
                continue
            ctx = resolve(sub.get("@context"))
            matched = []
            watched = {ctx.expand(w) for w in sub.get("watchedAttributes") or []}
            q = parse_q(sub["q"], ctx) if sub.get("q") else None
            g = sub.get("geoQ")
            geo = parse_geo(g.get("georel"), g.get("geometry"), g.get("coordinates"), g.get("geoproperty"), ctx) \
                if g else None
            for ent, names in changes:
                if sub.get("entities") and not any(self._selects(sel, ent, ctx, parse_type_selection)
                                                   for sel in sub["entities"]):
                    continue
                if watched and not watched.intersection(names):
                    continue
                full = self.broker._overlay(ent)
                if q is not None and not q(full):
                    continue
                if geo is not None and not geo(full):
                    continue
                matched.append(full)
            if not matched:
                continue
            key = (tenant, sub["id"])
            thr = float(sub.get("throttling") or 0)
            if thr and time.monotonic() - self._last.get(key, -1e18) < thr:
                continue
            self._last[key] = time.monotonic()
            n = sub["notification"]
            attrs = {ctx.expand(a) for a in n["attributes"]} if n.get("attributes") else None
            data = [E.render(e, ctx, fmt=n.get("format", "normalized"), attrs=attrs) for e in matched]
            body = {"id": f"urn:ngsi-ld:Notification:{uuid.uuid4()}", "type": "Notification",
                    "subscriptionId": sub["id"], "notifiedAt": E.iso(now), "data": data}
            headers = {"Content-Type": "application/json", "NGSILD-Tenant": tenant}
            from .context import link_header

            headers["Link"] = link_header(ctx)
            ok = False
            try:
                from .service import dumps

                from nagar.security.egress import check_destination

                # the host may have been re-pointed since the subscription was made (DNS rebinding)
                check_destination(n["endpoint"]["uri"], allow_private=self._allow_private())
                r = self._client.post(n["endpoint"]["uri"], content=dumps(body), headers=headers)
                ok = 200 <= r.status_code < 300
            except Exception as exc:  # network errors are the receiver's problem: recorded as a failure
                log.info("notification to %s failed: %s", n["endpoint"]["uri"], exc)
            self.store.ngsild_notified(tenant, sub["id"], at=now, ok=ok)

    @staticmethod
    def _selects(sel: dict, ent: dict, ctx: Context, parse_type_selection) -> bool:
        pred, _ = parse_type_selection(sel["type"], ctx)
        if not pred(ent["type"]):
            return False
        if "id" in sel and sel["id"] != ent["id"]:
            return False
        if "idPattern" in sel:
            try:  # RE2, linear time; a pattern stored before RE2 that it refuses selects nothing
                return compile_pattern(sel["idPattern"], "entities.idPattern").fullmatch(ent["id"]) is not None
            except BadRequestData:
                return False
        return True


def attach(broker) -> None:
    """Give the broker its notification worker and register the water write listener now, so that samples
    loaded before any NGSI-LD read still reach the subscriptions (see :mod:`nagar.ngsild.waterviews`)."""
    from .stations import views_of

    broker.subscriptions = Subscriptions(broker)
    views_of(broker).water.listen()
