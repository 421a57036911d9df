"""PM2.5 forecasts over the store: train each station's model, measure its skill, issue and keep forecasts.

Hourly means come from the store (valid and estimated readings only: flagged faults never train a
model). The model and its evaluation are the pure functions of :mod:`nagar.forecast.model`. Each
training run is recorded (model, trained_at, training period, sample count, time, skill) and issues one
24-hour forecast from the newest hour with data; forecasts are stored as rows of (station, issued_at,
target_time, value, AQI category under the city's standard) so that an alert such as "tomorrow morning
very unhealthy" is a plain query on them. Each stored forecast is handed to the alerts' public
``evaluate_forecast`` when the city has forecast rules (:func:`store_forecast`).

Training runs in the background in the server (:class:`ForecastTrainer`, started by the app lifespan)
or on demand (``nagar forecast train``).
"""

from __future__ import annotations

import logging
import threading
import time as _time
from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl

from nagar.core.errors import InvalidInput, NotFound
from nagar.core.settings import Settings
from nagar.core.tenancy import Scope
from nagar.registry.service import get_city, get_station
from nagar.store.base import Store

from . import model as M

log = logging.getLogger("nagar.forecast")

PARAMETER = "pm25"
HOUR_US = 3_600_000_000
DEFAULT_DAYS = 120
"""History a model trains on (at most)."""
MIN_DAYS_FOR_SKILL = 10
"""History needed besides the evaluation folds."""


def _standard(store: Store, settings: Settings, city: dict):
    from nagar.air.service import get_standard

    return get_standard(settings, city.get("standard") or settings.default_standard)


def hourly_series(store: Store, *, station: str, end: datetime | None = None, days: int = DEFAULT_DAYS,
                  scope: Scope = None) -> tuple[int, np.ndarray]:
    """(first hour in µs, hourly means on a complete grid with NaN gaps) of a station's PM2.5, up to its
    newest valid hour (or ``end``), at most ``days`` long."""
    if end is None:
        last = store.latest_time(stations=[station], scope=scope).get(station)
        if last is None:
            return 0, np.zeros(0)
        end = last.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - timedelta(days=days)
    tbl = store.observations(stations=[station], parameters=[PARAMETER], start=start, end=end, aggregation="hour",
                             scope=scope)
    df = pl.from_arrow(tbl)
    if df.height == 0:
        return 0, np.zeros(0)
    us = df.get_column("time").dt.epoch("us").to_numpy()
    t0 = int(us.min())
    n = int((us.max() - t0) // HOUR_US) + 1
    y = np.full(n, np.nan)
    y[(us - t0) // HOUR_US] = df.get_column("value").to_numpy()
    return t0, y


def _dt(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=int(us))


def train_station(store: Store, *, station: str, settings: Settings, days: int = DEFAULT_DAYS, folds: int = 3,
                  fold_days: int = 7, stride: int = 2, end: datetime | None = None, fit_fn: M.FitFn | None = None,
                  now: datetime | None = None, scope: Scope = None) -> dict:
    """Evaluate (rolling origin), fit on all history, issue a 24-hour forecast, store both."""
    t_start = _time.perf_counter()
    st = get_station(store, station_id=station, scope=scope)
    city = get_city(store, city_id=st["city"], scope=scope)
    std = _standard(store, settings, city)
    t0, y = hourly_series(store, station=station, end=end, days=days, scope=scope)
    if np.isfinite(y).sum() < 24 * (MIN_DAYS_FOR_SKILL + 1):
        raise InvalidInput(f"station {station!r} has too little PM2.5 history to train "
                           f"({int(np.isfinite(y).sum())} hours; needs {24 * (MIN_DAYS_FOR_SKILL + 1)})",
                           field="station")
    n = len(y)
    cal = M.calendar(t0 + np.arange(n + M.HORIZON) * HOUR_US, city["timezone"])
    skill: dict = {}
    if n >= 24 * (MIN_DAYS_FOR_SKILL + 1) + folds * fold_days * 24:
        ev = M.rolling_origin(y, cal, folds=folds, fold_days=fold_days, std=std, fit_fn=fit_fn, stride=stride)
        skill = {**ev.skill, "standard": std.id, "folds": [
            {**f, "train_before": _dt(t0 + f["train_before"] * HOUR_US).isoformat(),
             "issue_from": _dt(t0 + f["issue_from"] * HOUR_US).isoformat(),
             "issue_to": _dt(t0 + f["issue_to"] * HOUR_US).isoformat()} for f in ev.folds],
            "method": f"rolling origin: {folds} folds of {fold_days} days, trained on targets before each fold"}
    t_fit = _time.perf_counter()
    fitted = M.fit(y, cal, stride=stride, fit_fn=fit_fn)
    fit_seconds = _time.perf_counter() - t_fit
    last = int(np.flatnonzero(np.isfinite(y))[-1])
    X, T, Hh = M.design(y, cal, np.array([last]))
    pred = M.predict(fitted, X)
    cats = M.category_index(pred, std)
    issued = _dt(t0 + last * HOUR_US)
    now = now or datetime.now(timezone.utc)
    row = store.add_forecast_model({
        "city": city["id"], "station": station, "parameter": PARAMETER, "model": M.MODEL_NAME, "trained_at": now,
        "train_start": _dt(t0), "train_end": _dt(t0 + n * HOUR_US), "n_samples": int(np.isfinite(y).sum()),
        "seconds": round(_time.perf_counter() - t_start, 3), "skill": skill,
        "params": {**M.MODEL_PARAMS, "features": list(M.FEATURES), "stride": stride, "fit_seconds": round(fit_seconds, 3),
                   "direct": "one model, horizon as a feature (1-24 h)"}})
    rows = [{"city": city["id"], "station": station, "parameter": PARAMETER, "issued_at": issued,
             "target_time": _dt(t0 + int(t) * HOUR_US), "horizon": int(h), "value": round(float(v), 1),
             "standard": std.id, "category_key": std.categories[c].key if c >= 0 else None,
             "category": std.categories[c].name if c >= 0 else None, "model_id": row["id"]}
            for t, h, v, c in zip(T, Hh, pred, cats)]
    alerts = store_forecast(store, rows, city=city["id"], station=station, issued_at=issued, settings=settings,
                            now=now)
    return {"model": row, "forecast": rows, "alerts": alerts}


def forecast_rules_apply(store: Store, *, city: str, station: str) -> bool:
    """Whether the store has alert tables and the city has an enabled ``forecast`` rule for this station
    (a city-wide one or one naming it): one small query, so a city without such rules costs nothing more."""
    if not hasattr(store, "alert_rules"):
        return False
    return any(not r["spec"].get("station") or r["spec"]["station"] == station
               for r in store.alert_rules(city=city, kinds=["forecast"], enabled_only=True))


def store_forecast(store: Store, rows: list[dict], *, city: str, station: str, issued_at: datetime,
                   settings: Settings, now: datetime | None = None) -> list[dict]:
    """Store one station's newly issued forecast rows, then evaluate the city's forecast alert rules on it
    (``nagar.alerts.service.evaluate_forecast``, contract in nagar/alerts/README.md: PM2.5 in µg/m³ at aware
    target times, and the issue time). Returns the alert events recorded. A failure of the alert evaluation
    is logged and never undoes or fails the forecast."""
    store.put_forecasts(rows)
    try:
        if not forecast_rules_apply(store, city=city, station=station):
            return []
        from nagar.alerts import service as alerts_service  # forecast -> alerts, never the reverse

        return alerts_service.evaluate_forecast(
            store, city=city, station=station, issued_at=issued_at, settings=settings, now=now,
            forecast_rows=[{"time": r["target_time"], "parameter": r["parameter"], "value": r["value"]}
                           for r in rows if r["station"] == station])
    except Exception:  # alerting must never break forecasting
        log.exception("forecast alert evaluation failed for station %s", station)
        return []


def pm25_stations(store: Store, *, city: str, scope: Scope = None) -> list[str]:
    return [s["id"] for s in store.list_stations(city=city, scope=scope) if PARAMETER in (s.get("parameters") or [])]


def train_city(store: Store, *, city: str, settings: Settings, progress=None, scope: Scope = None, **kw) -> dict:
    """Train every PM2.5 station of a city; stations with too little history are listed as skipped, the
forecast alert events recorded as their forecasts were stored under ``alerts``."""
    get_city(store, city_id=city, scope=scope)
    trained, skipped, alerts = [], [], []
    for sid in pm25_stations(store, city=city, scope=scope):
        try:
            out = train_station(store, station=sid, settings=settings, scope=scope, **kw)
            trained.append(out["model"])
            alerts += out["alerts"]
        except InvalidInput as exc:
            skipped.append({"station": sid, "reason": exc.message})
        if progress:
            progress(sid)
    return {"city": city, "trained": trained, "skipped": skipped, "alerts": alerts}


def _category_colours(settings: Settings, standard_id: str | None) -> dict:
    from nagar.air.service import get_standard

    if not standard_id:
        return {}
    try:
        std = get_standard(settings, standard_id)
    except NotFound:
        return {}
    return {c.key: c.colour for c in std.categories}


def latest_forecast(store: Store, *, city: str, settings: Settings, station: str | None = None,
                    scope: Scope = None) -> dict:
    """Each station's newest forecast (or one station's), with its model's metadata."""
    c = get_city(store, city_id=city, scope=scope)
    if station is not None:
        st = get_station(store, station_id=station, scope=scope)
        if st["city"] != city:
            raise NotFound(f"no station {station!r} in city {city!r}", field="station")
    rows = store.forecasts(city=city, station=station, parameter=PARAMETER, scope=scope)
    models = {m["id"]: m for m in store.latest_forecast_models(city=city, station=station, scope=scope)}
    by: dict[str, dict] = {}
    for r in rows:
        item = by.setdefault(r["station"], {"station": r["station"], "issued_at": r["issued_at"],
                                            "standard": r["standard"], "model_id": r["model_id"], "items": []})
        item["items"].append({"time": r["target_time"], "horizon": r["horizon"], "pm25": r["value"],
                              "category_key": r["category_key"], "category": r["category"]})
    for item in by.values():
        m = models.get(item["model_id"])
        item["model"] = None if m is None else {k: m[k] for k in ("id", "model", "trained_at", "train_start",
                                                                   "train_end", "n_samples", "seconds")}
        colours = _category_colours(settings, item["standard"])
        for it in item["items"]:
            it["colour"] = colours.get(it["category_key"])
    return {"city": c["id"], "parameter": PARAMETER, "unit": "µg/m³", "items": list(by.values())}


def worst_ahead(store: Store, *, city: str, settings: Settings, start: datetime, end: datetime,
                scope: Scope = None) -> list[dict]:
    """Per station, the worst AQI category its newest forecast gives for target hours in [start, end),
    with the hours in it and the peak PM2.5: what an alert rule such as "tomorrow morning very unhealthy"
    evaluates (categories ranked in the order of the city's standard)."""
    from nagar.air.service import get_standard

    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput("start and end must include a UTC offset", field="start")
    get_city(store, city_id=city, scope=scope)
    rows = store.forecasts(city=city, parameter=PARAMETER, start=start, end=end, scope=scope)
    out: dict[str, dict] = {}
    ranks: dict[str, dict[str, int]] = {}
    for r in rows:
        if r["category_key"] is None:
            continue
        if r["standard"] not in ranks:
            ranks[r["standard"]] = {c.key: i for i, c in enumerate(get_standard(settings, r["standard"]).categories)}
        rank = ranks[r["standard"]][r["category_key"]]
        cur = out.get(r["station"])
        if cur is None or rank > cur["rank"]:
            out[r["station"]] = {"station": r["station"], "issued_at": r["issued_at"], "standard": r["standard"],
                                 "category_key": r["category_key"], "category": r["category"], "rank": rank,
                                 "hours": [], "peak_pm25": r["value"]}
        item = out[r["station"]]
        if rank == item["rank"]:
            item["hours"].append(r["target_time"])
        item["peak_pm25"] = max(item["peak_pm25"], r["value"])
    return [out[k] for k in sorted(out)]


def skill_report(store: Store, *, city: str, station: str | None = None, scope: Scope = None) -> dict:
    """The newest model's rolling-origin skill per station, and the city's (scored rows pooled)."""
    c = get_city(store, city_id=city, scope=scope)
    models = store.latest_forecast_models(city=city, station=station, scope=scope)
    items = []
    for m in models:
        sk = m["skill"] or {}
        items.append({"station": m["station"], "model_id": m["id"], "model": m["model"], "trained_at": m["trained_at"],
                      "train_start": m["train_start"], "train_end": m["train_end"], "n_samples": m["n_samples"],
                      "seconds": m["seconds"], "n": sk.get("n", 0), "mae": sk.get("mae", {}),
                      "mae_by_band": sk.get("mae_by_band", {}), "category_hit_rate": sk.get("category_hit_rate", {}),
                      "standard": sk.get("standard"), "method": sk.get("method")})
    pooled: dict = {"n": 0, "mae": {}, "category_hit_rate": {}}
    tot = sum(i["n"] for i in items)
    if tot:
        pooled["n"] = tot
        for key in ("mae", "category_hit_rate"):
            names = set().union(*(i[key].keys() for i in items if i["n"]))
            pooled[key] = {k: sum(i[key].get(k, 0) * i["n"] for i in items if i["n"] and i[key].get(k) is not None) / tot
                           for k in sorted(names)}
    return {"city": c["id"], "parameter": PARAMETER, "baselines": {
        "persistence": "the value at the issue hour carried forward",
        "yesterday": "the value at the same hour one day before the target"}, "city_pooled": pooled, "items": items}


class ForecastTrainer:
    """A background thread that (re)trains every city's stations when their newest model is older than
    ``every`` (checked every ``check`` seconds); the first pass runs shortly after start-up."""

    def __init__(self, store: Store, settings: Settings, *, every: timedelta = timedelta(hours=6),
                 check: float = 600.0, delay: float = 5.0):
        self.store, self.settings = store, settings
        self.every, self.check, self.delay = every, check, delay
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0
        self.errors = 0

    def start(self) -> "ForecastTrainer":
        self._thread = threading.Thread(target=self._run, name="nagar-forecast", daemon=True)
        self._thread.start()
        return self

    def due(self, now: datetime) -> list[str]:
        cities = sorted({s["city"] for s in self.store.list_stations()})
        out = []
        for c in cities:
            models = self.store.latest_forecast_models(city=c)
            if not pm25_stations(self.store, city=c):
                continue
            if not models or min(m["trained_at"] for m in models) < now - self.every:
                out.append(c)
        return out

    def run_once(self) -> int:
        n = 0
        for c in self.due(datetime.now(timezone.utc)):
            if self._stop.is_set():
                break
            res = train_city(self.store, city=c, settings=self.settings)
            n += len(res["trained"])
        self.runs += 1
        return n

    def _run(self) -> None:
        if self._stop.wait(self.delay):
            return
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # training must never take the server down; logged and counted
                self.errors += 1
                log.exception("forecast training failed")
            if self._stop.wait(self.check):
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
