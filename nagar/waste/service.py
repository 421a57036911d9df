"""E-waste operations shared by the API and the CLI: POM data, the generation model, collection points,
handlers, collection events, the chain of custody and the formal collection rate.

Keyword-only, the store first; ``scope`` limits what a caller sees (None: all cities). Writes take the
caller's ``actor`` and are audited here; the caller has checked the right to write in the city (routes
with ``check_city``, the CLI runs as the operator).

Custody rules (each refusal is a 4xx naming the rule in ``details.rule``; nothing is written):

- a batch is created by a collection event at a collection point, held by the collecting handler;
- a transfer moves all or part of a batch from the handler holding it to another registered handler of
  the same city: refused when the sender holds none of it (``broken_chain``, 409), when it passes on
  more than it holds (``more_than_held``, 409), when more arrives than was sent
  (``received_more_than_sent``, 422), when the receiver is a transporter or recycler without a
  licence (``unlicensed``, 409) or whose licence expired before the transfer day (``licence_expired``,
  409); collectors need no licence (they hand over at municipal collection points; transport and
  recycling of e-waste are the licensed activities);
- a recycler's output (materials recovered + residues) never exceeds the input it takes from what it
  holds (``output_exceeds_input``, 422);
- losses (sent - received, or input - output) above the city's tolerance (default 5 %) are accepted,
  flagged and listed.
"""

from __future__ import annotations

import csv
import io
import math
from datetime import date, datetime, timezone

from nagar.core.errors import Conflict, InvalidInput, NotFound, StoreError
from nagar.core.tenancy import Scope
from nagar.registry.service import get_city
from nagar.security import audit
from nagar.store.waste_tables import MASS_EPS

from . import unu

LICENSED_ROLES = frozenset({"transporter", "recycler"})
DEFAULT_LOSS_TOLERANCE = 0.05


def _tables(store):
    if not hasattr(store, "ewaste_pom"):
        raise StoreError("this store has no e-waste tables (nagar.store.waste_tables.WasteTables)")
    return store


def _now() -> datetime:
    return datetime.now(timezone.utc)


# POM data ---------------------------------------------------------------------------------------------
def pom_kg(*, unu_key: str, kg: float | None, units: float | None, avg_weight_kg: float | None,
           where: str = "row") -> tuple[float, float | None]:
    """Mass put on market [kg] of a row given in kg or in units × average weight (given, else the key's
    shipped weight). Returns ``(kg, avg_weight_used)``; raises InvalidInput naming ``where``."""
    keys = unu.load_keys()
    if unu_key not in keys:
        raise InvalidInput(f"{where}: unknown UNU-KEY {unu_key!r} (54 keys, e.g. 0306 mobile phones)", field="unu_key")
    if kg is not None:
        return float(kg), avg_weight_kg
    if units is None:
        raise InvalidInput(f"{where}: give kg, or units (with avg_weight_kg)", field="kg")
    w = avg_weight_kg if avg_weight_kg is not None else keys[unu_key].avg_weight_kg
    if w is None:
        raise InvalidInput(f"{where}: UNU-KEY {unu_key} has no shipped average weight; give avg_weight_kg",
                           field="avg_weight_kg")
    return float(units) * float(w), float(w)


def parse_pom_csv(text: str) -> list[dict]:
    """Read POM rows from CSV text with a header: ``year, unu_key`` and ``kg`` or ``units`` (optional
    ``avg_weight_kg``, ``source``). A key written as a number (``306``) is zero-padded. Any bad value
    raises InvalidInput naming the line (the header is line 1) and the column."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise InvalidInput("line 1: empty file; expected a header with year, unu_key and kg or units", field="file")
    reader.fieldnames = header
    for need in ("year", "unu_key"):
        if need not in header:
            raise InvalidInput(f"line 1: missing column {need!r} (columns: {', '.join(header)})", field=need)
    if "kg" not in header and "units" not in header:
        raise InvalidInput("line 1: needs a 'kg' or a 'units' column", field="kg")
    rows, seen = [], {}
    for n, raw in enumerate(reader, start=2):
        if None in raw:
            raise InvalidInput(f"line {n}: more values than columns", field="file")
        rec = {k: (v or "").strip() for k, v in raw.items()}
        if not any(rec.values()):
            continue

        def num(col: str, *, integer: bool = False, required: bool = False):
            v = rec.get(col, "")
            if v == "":
                if required:
                    raise InvalidInput(f"line {n}, column {col}: empty", field=col)
                return None
            try:
                x = int(v) if integer else float(v)
            except ValueError:
                raise InvalidInput(f"line {n}, column {col}: {v!r} is not a{'n integer' if integer else ' number'}",
                                   field=col) from None
            if not math.isfinite(x) or x < 0:
                raise InvalidInput(f"line {n}, column {col}: {v!r} must be a finite number >= 0", field=col)
            return x

        year = num("year", integer=True, required=True)
        if not 1950 <= year <= 2100:
            raise InvalidInput(f"line {n}, column year: {year} is outside 1950-2100", field="year")
        key = rec.get("unu_key", "")
        if not key.isdigit() or len(key) > 4:
            raise InvalidInput(f"line {n}, column unu_key: {key!r} is not a UNU-KEY (four digits, e.g. 0306)",
                               field="unu_key")
        key = key.zfill(4)
        if key not in unu.load_keys():
            raise InvalidInput(f"line {n}, column unu_key: unknown UNU-KEY {key}", field="unu_key")
        kg, units, w = num("kg"), num("units"), num("avg_weight_kg")
        if kg is None and units is None:
            raise InvalidInput(f"line {n}, column kg: give kg or units", field="kg")
        if w is not None and w <= 0:
            raise InvalidInput(f"line {n}, column avg_weight_kg: must be > 0", field="avg_weight_kg")
        try:
            mass, w_used = pom_kg(unu_key=key, kg=kg, units=units, avg_weight_kg=w, where=f"line {n}")
        except InvalidInput as exc:
            col = "avg_weight_kg" if exc.field == "avg_weight_kg" else exc.field
            raise InvalidInput(exc.message.replace(f"line {n}:", f"line {n}, column {col}:"), field=col) from None
        if (year, key) in seen:
            raise InvalidInput(f"line {n}: year {year} and UNU-KEY {key} already given on line {seen[(year, key)]}",
                               field="unu_key")
        seen[(year, key)] = n
        rows.append({"year": year, "unu_key": key, "kg": mass, "units": units, "avg_weight_kg": w_used,
                     "source": rec.get("source") or None})
    if not rows:
        raise InvalidInput("no data rows after the header", field="file")
    return rows


def put_pom(store, *, city: str, rows: list[dict], actor: str) -> dict:
    """Validate and upsert POM rows of a city (all or nothing); audited."""
    get_city(store, city_id=city)
    clean = []
    for i, r in enumerate(rows):
        d = r if isinstance(r, dict) else r.model_dump()
        kg, w = pom_kg(unu_key=d["unu_key"], kg=d.get("kg"), units=d.get("units"),
                       avg_weight_kg=d.get("avg_weight_kg"), where=f"rows[{i}]")
        clean.append({"city": city, "year": int(d["year"]), "unu_key": d["unu_key"], "kg": kg,
                      "units": d.get("units"), "avg_weight_kg": w, "source": d.get("source")})
    ins, upd = _tables(store).put_ewaste_pom(clean, actor=actor, now=_now())
    audit.record(store, actor=actor, action="ewaste.pom.put", city=city, target=f"city:{city}",
                 details={"inserted": ins, "updated": upd, "years": sorted({r["year"] for r in clean}),
                          "keys": len({r["unu_key"] for r in clean})})
    return {"city": city, "inserted": ins, "updated": upd}


def list_pom(store, *, city: str, scope: Scope = None) -> list[dict]:
    get_city(store, city_id=city, scope=scope)
    return _tables(store).ewaste_pom(city=city, scope=scope)


def put_population(store, *, city: str, rows: list[dict], actor: str) -> dict:
    get_city(store, city_id=city)
    clean = [{"city": city, **(r if isinstance(r, dict) else r.model_dump())} for r in rows]
    _tables(store).put_ewaste_population(clean)
    audit.record(store, actor=actor, action="ewaste.population.put", city=city, target=f"city:{city}",
                 details={"years": sorted(r["year"] for r in clean)})
    return {"city": city, "rows": len(clean)}


def generation(store, *, city: str, start: int | None = None, end: int | None = None, scope: Scope = None) -> dict:
    """The model run on a city's stored POM (and population, for kg per inhabitant)."""
    get_city(store, city_id=city, scope=scope)
    pom = _tables(store).ewaste_pom(city=city, scope=scope)
    if not pom:
        raise NotFound(f"no POM data for {city}; load it with PUT .../ewaste/pom or `nagar ewaste pom`", field="city")
    pop = store.ewaste_population(city=city, scope=scope)
    try:
        out = unu.estimate(pom, start=start, end=end, population=pop or None)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="to") from None
    out["city"] = city
    out["categories"] = {str(c): v for c, v in out["categories"].items()}
    return out


def keys_table() -> dict:
    t = unu.key_table()
    return {"sources": t["sources"], "categories": t["categories"], "keys": t["keys"]}


# points and handlers ------------------------------------------------------------------------------
def add_point(store, *, city: str, point, actor: str) -> dict:
    get_city(store, city_id=city)
    row = {"city": city, **point.model_dump()}
    if not _tables(store).add_ewaste_point(row, actor=actor, now=_now()):
        raise Conflict(f"collection point {point.id!r} already exists", field="id")
    audit.record(store, actor=actor, action="ewaste.point.create", city=city, target=f"ewaste_point:{point.id}",
                 details=point.model_dump())
    return store.ewaste_point(point.id)


def list_points(store, *, city: str, scope: Scope = None) -> list[dict]:
    get_city(store, city_id=city, scope=scope)
    return _tables(store).ewaste_points(city=city, scope=scope)


def add_handler(store, *, city: str, handler, actor: str) -> dict:
    get_city(store, city_id=city)
    if handler.licence_expires is not None and handler.licence_no is None:
        raise InvalidInput("a licence expiry needs a licence number", field="licence_no")
    row = {"city": city, **handler.model_dump()}
    if not _tables(store).add_ewaste_handler(row, actor=actor, now=_now()):
        raise Conflict(f"handler {handler.id!r} already exists", field="id")
    audit.record(store, actor=actor, action="ewaste.handler.register", city=city,
                 target=f"ewaste_handler:{handler.id}", details=handler.model_dump(mode="json"))
    return store.ewaste_handler(handler.id)


def list_handlers(store, *, city: str, scope: Scope = None, on: date | None = None) -> list[dict]:
    get_city(store, city_id=city, scope=scope)
    on = on or _now().date()
    out = []
    for h in _tables(store).ewaste_handlers(city=city, scope=scope):
        h["licence_valid"] = licence_problem(h, on) is None
        out.append(h)
    return out


def licence_problem(handler: dict, day: date) -> tuple[str, str] | None:
    """``(rule, message)`` when ``handler`` may not receive e-waste on ``day``, else None. Transporters and
    recyclers need a licence valid on the day (an expiry date is the last valid day)."""
    if handler["role"] not in LICENSED_ROLES:
        return None
    if not handler.get("licence_no"):
        return "unlicensed", f"handler {handler['id']!r} ({handler['role']}) has no licence"
    exp = handler.get("licence_expires")
    if exp is not None and exp < day:
        return "licence_expired", (f"handler {handler['id']!r} ({handler['role']}): licence "
                                   f"{handler['licence_no']} expired on {exp.isoformat()}, before {day.isoformat()}")
    return None


def _handler(store, city: str, handler_id: str, field: str) -> dict:
    h = store.ewaste_handler(handler_id)
    if h is None or h["city"] != city:
        raise InvalidInput(f"{field}: no registered handler {handler_id!r} in {city}", field=field,
                           details={"rule": "unregistered_handler"})
    return h


def _batch(store, city: str, batch_id: int, scope: Scope = None) -> dict:
    b = _tables(store).ewaste_batch(batch_id, scope=scope)
    if b is None or b["city"] != city:
        raise NotFound(f"no batch {batch_id} in {city}", field="batch_id")
    return b


def tolerance(store, *, city: str) -> float:
    s = _tables(store).ewaste_settings(city=city)
    return float(s["loss_tolerance"]) if s else DEFAULT_LOSS_TOLERANCE


def set_tolerance(store, *, city: str, loss_tolerance: float, actor: str) -> dict:
    get_city(store, city_id=city)
    _tables(store).put_ewaste_settings(city=city, loss_tolerance=loss_tolerance, actor=actor, now=_now())
    audit.record(store, actor=actor, action="ewaste.settings.put", city=city, target=f"city:{city}",
                 details={"loss_tolerance": loss_tolerance})
    return {"city": city, "loss_tolerance": loss_tolerance}


# collection events and custody ---------------------------------------------------------------------
def add_event(store, *, city: str, event, actor: str) -> dict:
    """A collection event: one batch per EEE category, held by the collector."""
    get_city(store, city_id=city)
    point = store.ewaste_point(event.point_id)
    if point is None or point["city"] != city:
        raise InvalidInput(f"point_id: no collection point {event.point_id!r} in {city}", field="point_id")
    collector = _handler(store, city, event.collector_id, "collector_id")
    bad = licence_problem(collector, event.day)
    if bad:
        raise Conflict(bad[1], field="collector_id", details={"rule": bad[0]})
    cats = [i.category for i in event.items]
    if len(set(cats)) != len(cats):
        raise InvalidInput("items: one entry per EEE category", field="items")
    out = _tables(store).add_ewaste_event(
        {"city": city, "point_id": event.point_id, "collector_id": event.collector_id, "day": event.day,
         "note": event.note}, [i.model_dump() for i in event.items], actor=actor, now=_now())
    audit.record(store, actor=actor, action="ewaste.collect", city=city, target=f"ewaste_event:{out['id']}",
                 details={"point": event.point_id, "collector": event.collector_id, "day": event.day.isoformat(),
                          "batches": [[b["id"], b["category"], b["kg"]] for b in out["batches"]]})
    return out


def _loss(kg_out: float, kg_in: float, tol: float) -> dict:
    loss = kg_out - kg_in
    share = loss / kg_out if kg_out > 0 else 0.0
    return {"loss_kg": loss, "loss_share": share, "flagged": share > tol + 1e-12}


def transfer(store, *, city: str, t, actor: str) -> dict:
    """Move (part of) a batch to another registered handler, under the custody rules (module docstring)."""
    get_city(store, city_id=city)
    b = _batch(store, city, t.batch_id)
    sender = _handler(store, city, t.from_handler, "from_handler")
    receiver = _handler(store, city, t.to_handler, "to_handler")
    if sender["id"] == receiver["id"]:
        raise InvalidInput("to_handler: a handler cannot transfer to itself", field="to_handler")
    if t.day < b["day"]:
        raise InvalidInput(f"day: {t.day.isoformat()} is before the batch was collected ({b['day'].isoformat()})",
                           field="day")
    received = t.kg if t.kg_received is None else t.kg_received
    if received > t.kg + MASS_EPS:
        raise InvalidInput(f"mass created from nothing: {received:g} kg received but only {t.kg:g} kg sent",
                           field="kg_received", details={"rule": "received_more_than_sent"})
    bad = licence_problem(receiver, t.day)
    if bad:
        raise Conflict(bad[1], field="to_handler", details={"rule": bad[0]})
    move = _tables(store).add_ewaste_move(
        {"city": city, "batch_id": t.batch_id, "kind": "transfer", "day": t.day, "from_handler": sender["id"],
         "to_handler": receiver["id"], "kg_out": t.kg, "kg_in": received,
         "details": {"note": t.note} if t.note else {}}, actor=actor, now=_now())
    loss = _loss(t.kg, received, tolerance(store, city=city))
    audit.record(store, actor=actor, action="ewaste.transfer", city=city, target=f"ewaste_batch:{t.batch_id}",
                 details={"move": move["id"], "from": sender["id"], "to": receiver["id"], "day": t.day.isoformat(),
                          "kg_sent": t.kg, "kg_received": received, "flagged": loss["flagged"]})
    return {**move, **loss}


def process(store, *, city: str, p, actor: str) -> dict:
    """A recycler's output from (part of) a batch it holds: materials recovered and residues."""
    get_city(store, city_id=city)
    _batch(store, city, p.batch_id)
    rec = _handler(store, city, p.recycler_id, "recycler_id")
    if rec["role"] != "recycler":
        raise InvalidInput(f"recycler_id: {rec['id']!r} is a {rec['role']}, not a recycler", field="recycler_id")
    bad = licence_problem(rec, p.day)
    if bad:
        raise Conflict(bad[1], field="recycler_id", details={"rule": bad[0]})
    out_kg = sum(p.materials.values()) + p.residues_kg
    if out_kg > p.input_kg + MASS_EPS:
        raise InvalidInput(f"recycler output {out_kg:g} kg (materials + residues) exceeds its input {p.input_kg:g} kg",
                           field="materials", details={"rule": "output_exceeds_input"})
    move = _tables(store).add_ewaste_move(
        {"city": city, "batch_id": p.batch_id, "kind": "process", "day": p.day, "from_handler": rec["id"],
         "to_handler": None, "kg_out": p.input_kg, "kg_in": out_kg,
         "details": {"materials": p.materials, "residues_kg": p.residues_kg}}, actor=actor, now=_now())
    loss = _loss(p.input_kg, out_kg, tolerance(store, city=city))
    audit.record(store, actor=actor, action="ewaste.process", city=city, target=f"ewaste_batch:{p.batch_id}",
                 details={"move": move["id"], "recycler": rec["id"], "day": p.day.isoformat(), "input_kg": p.input_kg,
                          "materials": p.materials, "residues_kg": p.residues_kg, "flagged": loss["flagged"]})
    return {**move, **loss}


def trace(store, *, city: str, batch_id: int, scope: Scope = None) -> dict:
    """A batch's custody chain back to its collection point, with its mass balance:
    collected = held now + lost in transit + taken into processing, and
    processing input = recovered + residues + processing losses."""
    get_city(store, city_id=city, scope=scope)
    b = _batch(store, city, batch_id, scope)
    point = store.ewaste_point(b["point_id"])
    moves = store.ewaste_moves(city=city, batch_id=batch_id)
    tol = tolerance(store, city=city)
    steps = []
    for m in moves:
        s = {k: m[k] for k in ("id", "kind", "day", "from_handler", "to_handler", "kg_out", "kg_in", "details")}
        if m["kind"] != "collect":
            s.update(_loss(m["kg_out"], m["kg_in"], tol))
        steps.append(s)
    holdings = store.ewaste_holdings(batch_id)
    transfers = [m for m in moves if m["kind"] == "transfer"]
    procs = [m for m in moves if m["kind"] == "process"]
    bal = {
        "collected_kg": b["kg"],
        "held_kg": sum(holdings.values()),
        "transit_loss_kg": sum(m["kg_out"] - m["kg_in"] for m in transfers),
        "processed_input_kg": sum(m["kg_out"] for m in procs),
        "recovered_kg": sum(sum(m["details"].get("materials", {}).values()) for m in procs),
        "residues_kg": sum(m["details"].get("residues_kg", 0.0) for m in procs),
    }
    bal["processing_loss_kg"] = bal["processed_input_kg"] - bal["recovered_kg"] - bal["residues_kg"]
    bal["balanced"] = abs(bal["collected_kg"] - bal["held_kg"] - bal["transit_loss_kg"]
                          - bal["processed_input_kg"]) < 1e-6 * max(1.0, b["kg"])
    return {"batch": b, "point": point, "category_name": unu.CATEGORIES[b["category"]], "steps": steps,
            "holdings": holdings, "balance": bal, "loss_tolerance": tol,
            "flagged": [s["id"] for s in steps if s.get("flagged")]}


def list_batches(store, *, city: str, scope: Scope = None) -> list[dict]:
    get_city(store, city_id=city, scope=scope)
    out = []
    for b in _tables(store).ewaste_batches(city=city, scope=scope):
        b["holdings"] = store.ewaste_holdings(b["id"])
        out.append(b)
    return out


def list_events(store, *, city: str, scope: Scope = None) -> list[dict]:
    get_city(store, city_id=city, scope=scope)
    return _tables(store).ewaste_events(city=city, scope=scope)


def flags(store, *, city: str, scope: Scope = None) -> dict:
    """Transfers and processing whose loss exceeds the city's tolerance (accepted, but listed)."""
    get_city(store, city_id=city, scope=scope)
    tol = tolerance(store, city=city)
    items = []
    for m in _tables(store).ewaste_moves(city=city, scope=scope):
        if m["kind"] == "collect":
            continue
        loss = _loss(m["kg_out"], m["kg_in"], tol)
        if loss["flagged"]:
            items.append({k: m[k] for k in ("id", "batch_id", "kind", "day", "from_handler", "to_handler", "kg_out",
                                            "kg_in")} | loss)
    return {"city": city, "loss_tolerance": tol, "items": items}


# indicators ---------------------------------------------------------------------------------------
def put_targets(store, *, city: str, rows: list, actor: str) -> dict:
    get_city(store, city_id=city)
    clean = [{"city": city, **r.model_dump()} for r in rows]
    _tables(store).put_ewaste_targets(clean, actor=actor, now=_now())
    audit.record(store, actor=actor, action="ewaste.targets.put", city=city, target=f"city:{city}",
                 details={"targets": [[r["year"], r["category"], r["rate"]] for r in clean]})
    return {"city": city, "items": store.ewaste_targets(city=city)}


def collection_rate(store, *, city: str, year: int | None = None, scope: Scope = None) -> dict:
    """Formal collection rate = documented collection / modelled e-waste generated (Forti et al. 2018,
    indicator 'e-waste collection rate'), per EEE category (and 0: all) and year, against the city's
    targets. Years: those with collection data (or ``year``)."""
    get_city(store, city_id=city, scope=scope)
    t = _tables(store)
    collected = t.ewaste_collected(city=city, scope=scope)
    targets = {(r["year"], r["category"]): r["rate"] for r in t.ewaste_targets(city=city, scope=scope)}
    years = sorted({r["year"] for r in collected} | {y for y, _ in targets})
    if year is not None:
        years = [year]
    pom = t.ewaste_pom(city=city, scope=scope)
    gen: dict[tuple[int, int], float] = {}
    if pom and years:
        res = unu.estimate(pom, end=max(max(years), min(r["year"] for r in pom)))
        for c, v in res["categories"].items():
            for y, g in zip(res["years"], v["generated"]):
                gen[(y, c)] = g
        for y, g in zip(res["years"], res["total"]["generated"]):
            gen[(y, 0)] = g
    col: dict[tuple[int, int], float] = {}
    for r in collected:
        col[(r["year"], r["category"])] = float(r["kg"])
        col[(r["year"], 0)] = col.get((r["year"], 0), 0.0) + float(r["kg"])
    items = []
    for y in years:
        for c in range(0, 7):
            g, k, tgt = gen.get((y, c)), col.get((y, c), 0.0), targets.get((y, c))
            if g is None and not k and tgt is None:
                continue
            rate = k / g if g else None
            items.append({"year": y, "category": c, "category_name": unu.CATEGORIES.get(c, "All categories"),
                          "generated_kg": g, "collected_kg": k, "rate": rate, "target": tgt,
                          "meets_target": None if (tgt is None or rate is None) else rate >= tgt})
    return {"city": city, "items": items, "model_has_pom": bool(pom)}
