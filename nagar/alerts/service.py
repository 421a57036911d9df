"""Alert rules evaluated as data arrives.

- :class:`AlertEngine` evaluates one written observation batch: it looks only at the stations and hours
  in the batch, re-aggregates just those hours from the store (``Store.hourly_windows``; for AQI rules the
  air service's ``hourly_grid`` + ``compute_aqi``), advances each rule's per-scope state
  (:mod:`nagar.alerts.engine`) and persists state, events and pending deliveries in one transaction.
- :class:`AlertWorker` runs the engine and the webhook :class:`~nagar.alerts.webhooks.Dispatcher` on a
  background thread fed by ``store.on_write`` (the API's lifespan and ``nagar ingest`` start one), so an
  ingest request only pays for a queue put. Tests call :meth:`AlertEngine.process_batch` directly (the
  synchronous mode) for deterministic results.
- :func:`samples_written` evaluates ``water`` rules on lab samples as they are loaded;
  :func:`evaluate_forecast` evaluates ``forecast`` rules on forecast rows (contract in README.md).
- Rule, endpoint and history operations for the API and the CLI (audited writes).
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
from datetime import datetime, time, timedelta, timezone
from typing import Callable
from zoneinfo import ZoneInfo

import numpy as np

from nagar.core.errors import InvalidInput, NotFound, StoreError
from nagar.core.tenancy import Scope
from nagar.registry.service import get_city
from nagar.security import audit
from nagar.security.egress import check_destination

from . import engine
from .models import EndpointIn, RuleIn, RuleSpec
from .webhooks import Dispatcher

log = logging.getLogger("nagar.alerts")
HOUR = timedelta(hours=1)
MIN_HOURS = {"1h": 1, "8h": 6, "24h": 18}
"""Completeness of trailing means (EPA TAD 2024: 75 % of the averaging period), as nagar.air.service."""
MAX_HOURS_PER_BATCH = 24 * 400


def _tables(store):
    if not hasattr(store, "alert_rules"):
        raise StoreError("this store has no alert tables (nagar.store.alerts_tables.AlertTables)")
    return store


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _floor_hour(t: datetime) -> datetime:
    return t.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)


def in_quiet_hours(spec: dict, t: datetime, tz: str) -> bool:
    """Whether ``t`` falls in the rule's quiet hours, read in the city's local time ([start, end), may wrap
    midnight)."""
    q = spec.get("quiet_hours")
    if not q:
        return False
    lt = t.astimezone(ZoneInfo(tz)).time()
    a, b = time.fromisoformat(q["start"]), time.fromisoformat(q["end"])
    return (a <= lt < b) if a < b else (lt >= a or lt < b)


_OPS = {"gt": ">", "ge": "≥", "lt": "<", "le": "≤"}


def describe(spec: dict) -> str:
    what = {"observation": f"{spec.get('parameter')} {spec.get('averaging', '1h')} mean",
            "aqi": f"AQI ({spec.get('standard') or 'city standard'})", "water": f"water {spec.get('parameter')}",
            "forecast": f"forecast {spec.get('parameter')}"}[spec["kind"]]
    bound = spec["threshold"] if spec.get("threshold") is not None else f"category {spec['category']}"
    dur = spec.get("duration", 1)
    unit = "sample" if spec["kind"] == "water" else "hour"
    return f"{what} {_OPS[spec.get('comparison', 'gt')]} {bound} for {dur} {unit}{'s' if dur != 1 else ''}"


def _message(rule: dict, scope_key: str, tr: engine.Transition) -> str:
    where = "the city" if scope_key == "city" else scope_key
    v = "" if tr.value is None or np.isnan(tr.value) or rule["spec"].get("category") else f" (value {tr.value:.4g})"
    if tr.kind == "onset":
        return f"{rule['name']}: {describe(rule['spec'])} at {where} since {tr.time:%Y-%m-%d %H:%M} UTC{v}"
    return f"{rule['name']}: ended at {where} at {tr.time:%Y-%m-%d %H:%M} UTC{v}"


def _advance(store, rule: dict, tz: str, scope_key: str, steps: list[tuple[datetime, bool, float | None]],
             states: dict, now: datetime, *, spacing: timedelta | None = HOUR) -> list[dict]:
    """Walk ``steps`` (time, condition, value), in time order, for one scope and persist the outcome in one
    transaction. A step continues the run when it comes ``spacing`` after the previous one (None: any
    later step does, as for lab samples)."""
    st = states.get((rule["id"], scope_key))
    state = None if st is None else engine.State(st["last_time"], bool(st["last_cond"]), int(st["run_before"]),
                                                 st["episode"], st["last_value"])
    events: list[dict] = []
    changed = False
    for t, cond, value in steps:
        contiguous = state is not None and (spacing is None or t - state.last_time == spacing)
        new, trs = engine.step(state, t=t, cond=cond, value=value, contiguous=contiguous,
                               duration=int(rule["spec"].get("duration", 1)),
                               recovery=int(rule["spec"].get("recovery", 1)),
                               new_episode=store.next_alert_episode)
        if new is None:
            continue
        state, changed = new, True
        for tr in trs:
            events.append({"city": rule["city"], "kind": tr.kind, "episode": tr.episode, "time": tr.time,
                           "value": None if tr.value is None or np.isnan(tr.value) else float(tr.value),
                           "message": _message(rule, scope_key, tr),
                           "suppressed": in_quiet_hours(rule["spec"], tr.time, tz)})
    if not changed:
        return []
    return store.advance_alert_state(rule_id=rule["id"], scope_key=scope_key, state=state.as_dict(), events=events,
                                     now=now)


def _hourly_steps(hours: np.ndarray, values: np.ndarray, cond: np.ndarray) -> list:
    """Steps for hourly data; hours without a value are skipped (so a missing hour breaks the run)."""
    out = []
    for h, v, c in zip(hours, values, cond):
        if np.isnan(v):
            continue
        out.append((h.astype("datetime64[us]").astype(datetime).replace(tzinfo=timezone.utc), bool(c), float(v)))
    return out


class AlertEngine:
    """Evaluates observation/AQI rules for written batches (synchronously; see :class:`AlertWorker`)."""

    def __init__(self, store, settings=None, *, clock: Callable[[], datetime] | None = None):
        from nagar.core.settings import get_settings

        self.store = _tables(store)
        self.settings = settings or get_settings()
        self.clock = clock or _utcnow

    def process_batch(self, batch) -> list[dict]:
        """Evaluate the rules touched by ``batch`` (an observation Arrow table as written); returns the
        events recorded."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if batch.num_rows == 0:
            return []
        stations = pc.unique(batch.column("station")).to_pylist()
        cities = self.store.existing_stations(stations)
        out: list[dict] = []
        for city in sorted(set(cities.values())):
            rules = self.store.alert_rules(city=city, kinds=["observation", "aqi"], enabled_only=True)
            if not rules:
                continue
            mine = [s for s in stations if cities.get(s) == city]
            m = pc.is_in(batch.column("station"), value_set=pa.array(mine, pa.string()))
            times = pc.filter(batch.column("time"), m)
            params = set(pc.unique(pc.filter(batch.column("parameter"), m)).to_pylist())
            t0 = _floor_hour(pc.min(times).as_py())
            t1 = _floor_hour(pc.max(times).as_py()) + HOUR
            if t1 - t0 > MAX_HOURS_PER_BATCH * HOUR:  # a bulk back-fill: alerts look at its last 400 days only
                t0 = t1 - MAX_HOURS_PER_BATCH * HOUR
            out += self._city(city, rules, mine, params, t0, t1)
        return out

    def _city(self, city: str, rules: list[dict], batch_stations: list[str], params: set, t0, t1) -> list[dict]:
        c = self.store.get_city(city)
        all_st = [s["id"] for s in self.store.list_stations(city=city)]
        states = self.store.alert_states([r["id"] for r in rules])
        now = self.clock()
        hours = np.arange(np.datetime64(t0.replace(tzinfo=None), "h"), np.datetime64(t1.replace(tzinfo=None), "h"))
        events: list[dict] = []
        cache: dict = {}  # one hourly_windows query per (stations, parameter) for this batch
        for rule in rules:
            spec = rule["spec"]
            if spec["kind"] == "observation" and spec["parameter"] not in params:
                continue
            if spec["kind"] == "aqi":
                try:
                    if not params & set(self._standard(rule, c).parameters):
                        continue  # nothing the index uses was written
                except Exception:
                    log.exception("alert rule %s names an unknown standard", rule["id"])
                    continue
            if spec.get("station") and spec["station"] not in batch_stations:
                continue
            sts = [spec["station"]] if spec.get("station") else all_st
            try:
                grid = self._values(rule, c, sts, t0, t1, len(hours), cache)
            except Exception:  # a rule that cannot be evaluated (e.g. a removed standard) must not stop the rest
                log.exception("alert rule %s could not be evaluated", rule["id"])
                continue
            op = spec.get("comparison", "gt")
            if spec.get("category") is not None:
                thr = float(self._category_index(rule, c, spec["category"]))
            else:
                thr = float(spec["threshold"])
            row = engine.worst(grid, op) if not spec.get("station") else grid[0]
            cond = engine.compare(np.nan_to_num(row, nan=-np.inf), op, thr)
            key = spec["station"] if spec.get("station") else "city"
            events += _advance(self.store, rule, c["timezone"], key, _hourly_steps(hours, row, cond), states, now)
        return events

    def _standard(self, rule, city: dict):
        from nagar.air.service import get_standard

        return get_standard(self.settings, rule["spec"].get("standard") or city.get("standard")
                            or self.settings.default_standard)

    def _category_index(self, rule, city: dict, key: str) -> int:
        std = self._standard(rule, city)
        keys = [c.key for c in std.categories]
        if key not in keys:
            raise InvalidInput(f"unknown category {key!r} of {std.id}; one of {', '.join(keys)}", field="category")
        return keys.index(key)

    def _values(self, rule: dict, city: dict, stations: list[str], t0, t1, T: int, cache: dict) -> np.ndarray:
        """(stations x hours) values for the rule: means of the parameter, or AQI (category index when the
        rule compares categories)."""
        spec = rule["spec"]
        S = len(stations)
        if spec["kind"] == "observation":
            import polars as pl

            key = (tuple(stations), spec["parameter"], t0, t1)
            if key not in cache:
                cache[key] = pl.from_arrow(self.store.hourly_windows(stations=stations, parameters=[spec["parameter"]],
                                                                     start=t0, end=t1))
            hw = cache[key]
            g = np.full((S, T), np.nan)
            if hw.height:
                col = {"1h": "mean_1h", "8h": "mean_8h", "24h": "mean_24h"}[spec.get("averaging", "1h")]
                v = hw.get_column(col).to_numpy().astype(float)
                if spec.get("averaging", "1h") != "1h":
                    n = hw.get_column({"8h": "n_8h", "24h": "n_24h"}[spec["averaging"]]).to_numpy()
                    v = np.where(n >= MIN_HOURS[spec["averaging"]], v, np.nan)
                sidx = {s: i for i, s in enumerate(stations)}
                si = np.array([sidx[s] for s in hw.get_column("station").to_list()])
                tt = hw.get_column("time").dt.replace_time_zone(None).to_numpy().astype("datetime64[h]")
                ti = (tt - np.datetime64(t0.replace(tzinfo=None), "h")).astype(np.int64)
                g[si, ti] = v
            return g
        from nagar.air.aqi import compute_aqi
        from nagar.air.service import hourly_grid

        std = self._standard(rule, city)
        grid = hourly_grid(self.store, std, stations, t0, t1)
        res = compute_aqi({k: v.reshape(-1) for k, v in grid.conc.items()}, std)
        if spec.get("category") is not None:
            cat = np.asarray(res.category, dtype=float).reshape(S, -1)
            return np.where(cat < 0, np.nan, cat)
        return np.asarray(res.aqi, dtype=float).reshape(S, -1)


_STOP = object()


class AlertWorker:
    """The engine and the dispatcher on one background thread. ``submit`` is the ``store.on_write``
    listener: it only queues the batch. Deliveries due for a retry are sent on every ``tick``."""

    def __init__(self, store, settings=None, *, tick: float = 1.0, dispatcher: Dispatcher | None = None):
        self.engine = AlertEngine(store, settings)
        self.dispatcher = dispatcher or Dispatcher(
            store, allow_private=bool(getattr(settings, "egress_allow_private", False)))
        self.tick = tick
        self._q: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nagar-alerts", daemon=True)

    def start(self) -> "AlertWorker":
        import atexit

        self.engine.store.on_write(self.submit)
        self._thread.start()
        # a worker left running must not be killed inside DuckDB's native code at interpreter exit
        atexit.register(self._halt)
        return self

    def _halt(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._q.put(_STOP)
            self._thread.join(timeout=10)

    def submit(self, batch) -> None:
        self._q.put(batch)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                batch = self._q.get(timeout=self.tick)
            except queue.Empty:
                batch = None
            if batch is _STOP:
                self._q.task_done()
                break
            try:
                if batch is not None:
                    self.engine.process_batch(batch)
                self.dispatcher.process_due()
            except Exception:  # never let one bad batch or receiver kill the worker
                log.exception("alert worker step failed")
            finally:
                if batch is not None:
                    self._q.task_done()

    def drain(self) -> None:
        """Wait until every queued batch has been evaluated (the CLI calls it before closing the store)."""
        self._q.join()

    def stop(self) -> None:
        """Stop listening, evaluate what is queued, end the thread (woken at once, not at its next tick)."""
        import atexit

        self.engine.store.off_write(self.submit)
        self.drain()
        self._halt()
        atexit.unregister(self._halt)


def start_worker(store, settings=None) -> AlertWorker | None:
    """Start the background evaluator for ``store`` (None when the store has no alert tables)."""
    if not hasattr(store, "alert_rules"):
        return None
    return AlertWorker(store, settings).start()


# water samples and forecasts -------------------------------------------------------------------------------
def samples_written(store, *, city: str, rows: list[dict], now: datetime | None = None) -> list[dict]:
    """Evaluate the city's ``water`` rules on newly loaded samples (canonical values), each sample one step."""
    if not hasattr(store, "alert_rules"):
        return []
    rules = store.alert_rules(city=city, kinds=["water"], enabled_only=True)
    if not rules:
        return []
    tz = store.get_city(city)["timezone"]
    states = store.alert_states([r["id"] for r in rules])
    out: list[dict] = []
    for rule in rules:
        spec = rule["spec"]
        mine = [r for r in rows if r["parameter"] == spec["parameter"]
                and (not spec.get("station") or r["station"] == spec["station"])]
        by_scope: dict[str, list] = {}
        for r in sorted(mine, key=lambda r: r["time"]):
            key = spec["station"] if spec.get("station") else r["station"]
            by_scope.setdefault(key, []).append(r)
        for key, rs in by_scope.items():
            vals = np.array([r["value"] for r in rs])
            cond = engine.compare(vals, spec.get("comparison", "gt"), float(spec["threshold"]))
            steps = [(r["time"], bool(c), float(r["value"])) for r, c in zip(rs, cond)]
            out += _advance(store, rule, tz, key, steps, states, now or _utcnow(), spacing=None)
    return out


def evaluate_forecast(store, *, city: str, station: str | None, forecast_rows: list[dict],
                      issued_at: datetime | None = None, settings=None,
                      now: datetime | None = None) -> list[dict]:
    """Evaluate the city's ``forecast`` rules on one forecast (contract in nagar/alerts/README.md).

    ``forecast_rows``: ``{"time": aware datetime (the hour forecast), "parameter": "pm25", "value": float
    in the parameter's canonical unit}``. ``station`` None: a city-wide forecast. Each rule looks at the
    rows of its parameter in its window (local hours of the day ``days_ahead`` after ``issued_at``); the
    condition holds when any hour in the window meets it (AQI/category of ``standard`` from the value
    treated as that pollutant's concentration, via its sub-index). The scope is the station (or ``city``)
    and the target day, so a re-issued forecast for the same window does not fire again, and one that no
    longer meets the condition records a recovery. Returns the events recorded."""
    if not hasattr(store, "alert_rules"):
        return []
    c = get_city(store, city_id=city)
    rules = [r for r in store.alert_rules(city=city, kinds=["forecast"], enabled_only=True)
             if not r["spec"].get("station") or r["spec"]["station"] == station]
    if not rules:
        return []
    for i, r in enumerate(forecast_rows):
        t = r.get("time")
        if not isinstance(t, datetime) or t.tzinfo is None:
            raise InvalidInput(f"forecast_rows[{i}].time must be a timezone-aware datetime", field="time")
    zone = ZoneInfo(c["timezone"])
    issued = (issued_at or _utcnow()).astimezone(zone)
    eng = AlertEngine(store, settings)
    states = store.alert_states([r["id"] for r in rules])
    out: list[dict] = []
    for rule in rules:
        spec = rule["spec"]
        w = spec.get("window") or {"days_ahead": 1, "from_hour": 6, "to_hour": 12}
        day = (issued + timedelta(days=int(w["days_ahead"]))).date()
        start = datetime.combine(day, time(0), zone) + timedelta(hours=int(w["from_hour"]))
        end = datetime.combine(day, time(0), zone) + timedelta(hours=int(w["to_hour"]))
        rows = [r for r in forecast_rows if r.get("parameter") == spec["parameter"] and start <= r["time"] < end]
        if not rows:
            continue
        vals = np.array([float(r["value"]) for r in rows])
        op = spec.get("comparison", "gt")
        if spec.get("category") is not None or spec.get("standard"):
            from nagar.air.aqi import sub_index

            std = eng._standard(rule, c)
            pol = [p for p in std.pollutants if p.parameter == spec["parameter"]]
            if not pol:
                raise InvalidInput(f"{std.id} has no pollutant for {spec['parameter']}", field="parameter")
            idx = np.asarray(sub_index(vals, pol[0].key, std), dtype=float)
            if spec.get("category") is not None:
                los = np.array([cat.lo for cat in std.categories])
                vals = np.where(np.isnan(idx), np.nan, np.searchsorted(los, idx, side="right") - 1.0)
                thr = float(eng._category_index(rule, c, spec["category"]))
            else:
                vals, thr = idx, float(spec["threshold"])
        else:
            thr = float(spec["threshold"])
        v = engine.worst(vals.reshape(-1, 1), op)[0] if vals.size else np.nan
        if np.isnan(v):
            continue
        cond = bool(engine.compare(np.array([v]), op, thr)[0])
        key = f"{station or 'city'}@{day.isoformat()}"
        out += _advance(store, rule, c["timezone"], key, [(start.astimezone(timezone.utc), cond, float(v))],
                        states, now or _utcnow(), spacing=None)
    return out


# rules, endpoints and history (API and CLI) ------------------------------------------------------------------
def _check_rule(store, city: str, spec: RuleSpec, settings=None) -> None:
    if spec.kind == "observation":
        from nagar.core.units import PARAMETERS

        if spec.parameter not in PARAMETERS:
            raise InvalidInput(f"unknown parameter {spec.parameter!r}", field="rule.parameter")
    if spec.kind == "water":
        from nagar.water.parameters import resolve

        spec.parameter = resolve(spec.parameter).key
    if spec.station is not None:
        ok = (store.get_station(spec.station) or {}).get("city") == city
        if spec.kind == "water":
            ok = bool(store.water_stations(city=city, ids=[spec.station]))
        if not ok:
            raise InvalidInput(f"no station {spec.station!r} in {city}", field="rule.station")
    if spec.kind in ("aqi", "forecast") and (spec.category is not None or spec.standard is not None
                                              or spec.kind == "aqi"):
        eng = AlertEngine(store, settings)
        c = store.get_city(city)
        try:
            std = eng._standard({"spec": spec.model_dump()}, c)
        except NotFound as exc:
            raise InvalidInput(exc.message, field="rule.standard") from None
        if spec.category is not None and spec.category not in [k.key for k in std.categories]:
            raise InvalidInput(f"unknown category {spec.category!r} of {std.id}; one of "
                               f"{', '.join(k.key for k in std.categories)}", field="rule.category")


def add_rule(store, *, city: str, body: RuleIn, actor: str, settings=None) -> dict:
    get_city(store, city_id=city)
    _check_rule(store, city, body.rule, settings)
    row = _tables(store).add_alert_rule(city=city, name=body.name, kind=body.rule.kind,
                                        spec=body.rule.model_dump(exclude_none=True), actor=actor, now=_utcnow())
    if not body.enabled:
        store.update_alert_rule(row["id"], name=row["name"], kind=row["kind"], spec=row["spec"], enabled=False,
                                now=_utcnow())
        row = store.alert_rule(row["id"])
    audit.record(store, actor=actor, action="alerts.rule.add", city=city, target=f"alert_rule:{row['id']}",
                 details={"name": body.name, "rule": row["spec"]})
    return _rule_out(row)


def replace_rule(store, *, city: str, rule_id: int, body: RuleIn, actor: str, settings=None) -> dict:
    get_rule(store, city=city, rule_id=rule_id)
    _check_rule(store, city, body.rule, settings)
    store.update_alert_rule(rule_id, name=body.name, kind=body.rule.kind, spec=body.rule.model_dump(exclude_none=True),
                            enabled=body.enabled, now=_utcnow())
    audit.record(store, actor=actor, action="alerts.rule.replace", city=city, target=f"alert_rule:{rule_id}",
                 details={"name": body.name, "enabled": body.enabled})
    return _rule_out(store.alert_rule(rule_id))


def delete_rule(store, *, city: str, rule_id: int, actor: str) -> None:
    get_rule(store, city=city, rule_id=rule_id)
    store.delete_alert_rule(rule_id)
    audit.record(store, actor=actor, action="alerts.rule.delete", city=city, target=f"alert_rule:{rule_id}")


def _rule_out(row: dict) -> dict:
    return {**row, "description": describe(row["spec"])}


def get_rule(store, *, city: str, rule_id: int, scope: Scope = None) -> dict:
    row = _tables(store).alert_rule(rule_id, scope=scope)
    if row is None or row["city"] != city:
        raise NotFound(f"no alert rule {rule_id} in {city}", field="rule_id")
    return _rule_out(row)


def list_rules(store, *, city: str, scope: Scope = None) -> list[dict]:
    get_city(store, city_id=city, scope=scope)
    return [_rule_out(r) for r in _tables(store).alert_rules(city=city, scope=scope)]


def history(store, *, city: str, rule_id: int | None = None, start: datetime | None = None, limit: int = 100,
            scope: Scope = None) -> list[dict]:
    get_city(store, city_id=city, scope=scope)
    return _tables(store).alert_events(city=city, rule_id=rule_id, start=start, limit=limit, scope=scope)


def add_endpoint(store, *, city: str, body: EndpointIn, actor: str, allow_private: bool = False) -> dict:
    """Register a webhook receiver; its signing secret is returned here, once. A literal loopback, private
    or link-local address (or ``localhost``) is refused unless ``allow_private`` (names are resolved and
    checked again before each delivery: :mod:`nagar.security.egress`)."""
    get_city(store, city_id=city)
    check_destination(body.url, allow_private=allow_private, resolve=False)
    secret = "whsec_" + secrets.token_urlsafe(32)
    row = _tables(store).add_alert_endpoint(city=city, name=body.name, url=body.url, secret=secret,
                                            max_attempts=body.max_attempts, actor=actor, now=_utcnow())
    audit.record(store, actor=actor, action="alerts.endpoint.add", city=city, target=f"alert_endpoint:{row['id']}",
                 details={"name": body.name, "url": body.url})
    return {**row, "secret": secret}


def delete_endpoint(store, *, city: str, endpoint_id: int, actor: str) -> None:
    if not _tables(store).alert_endpoints(city=city, ids=[endpoint_id]):
        raise NotFound(f"no webhook endpoint {endpoint_id} in {city}", field="endpoint_id")
    store.delete_alert_endpoint(endpoint_id)
    audit.record(store, actor=actor, action="alerts.endpoint.delete", city=city,
                 target=f"alert_endpoint:{endpoint_id}")


def list_endpoints(store, *, city: str, scope: Scope = None) -> list[dict]:
    get_city(store, city_id=city, scope=scope)
    return _tables(store).alert_endpoints(city=city, scope=scope)


def deliveries(store, *, city: str, status: str | None = None, limit: int = 100, scope: Scope = None) -> list[dict]:
    get_city(store, city_id=city, scope=scope)
    return _tables(store).alert_deliveries(city=city, status=status, limit=limit, scope=scope)
