"""Funding operations shared by the API and the CLI. Keyword-only; ``scope`` limits the cities a caller
sees (None: all). Permission checks and audit entries are the caller's (views, CLI)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import polars as pl

from nagar.core.errors import Conflict, InvalidInput, NotFound
from nagar.core.tenancy import Scope

from . import inputs, mrv, optimiser
from .finance import annual_debt_service, debt_service_factor
from .models import (FundBase, FundCreate, InstrumentBase, InstrumentCreate, MrvRecord, PlanRequest, PlanRules,
                     ProjectBase, ProjectCreate)

_FIELD_OF_FAMILY = {"floor": "city_floor", "ceiling": "city_ceiling_share", "sector": "sector_max_share",
                    "budget": "budget", "cap": "instruments"}


# funds -------------------------------------------------------------------------------------------------
def get_fund(store, *, fund_id: str) -> dict:
    row = store.get_fund(fund_id)
    if row is None:
        raise NotFound(f"no fund {fund_id!r}", field="fund")
    return row


def list_funds(store) -> list[dict]:
    return store.list_funds()


def create_fund(store, *, fund: FundCreate) -> dict:
    if store.get_fund(fund.id) is not None:
        raise Conflict(f"fund {fund.id!r} already exists; PUT replaces it", field="id")
    return put_fund(store, fund=fund)


def replace_fund(store, *, fund_id: str, fund: FundBase) -> dict:
    get_fund(store, fund_id=fund_id)
    return put_fund(store, fund=FundCreate(id=fund_id, **fund.model_dump()))


def put_fund(store, *, fund: FundCreate) -> dict:
    store.put_fund(fund.model_dump())
    return store.get_fund(fund.id)


# instruments -----------------------------------------------------------------------------------------
def _instrument_read(fund: dict, row: dict) -> dict:
    out = dict(row)
    out["cap_base"] = float(inputs.instruments_for(fund, [row])[0].cap)
    out["annual_debt_service_per_unit"] = (
        float(debt_service_factor(row["interest_rate"], row["tenor_years"], row.get("grace_years") or 0))
        if row["kind"] == "loan" else None)
    return out


def _check_instrument(store, instrument: InstrumentCreate) -> dict:
    fund = get_fund(store, fund_id=instrument.fund_id)
    if instrument.currency != fund["base_currency"] and instrument.currency not in inputs.fx_of(fund):
        raise InvalidInput(f"fund {fund['id']} has no exchange rate for {instrument.currency}; add it to the "
                           "fund's fx first", field="currency")
    return fund


def create_instrument(store, *, instrument: InstrumentCreate) -> dict:
    if store.get_instrument(instrument.id) is not None:
        raise Conflict(f"instrument {instrument.id!r} already exists; PUT replaces it", field="id")
    return put_instrument(store, instrument=instrument)


def replace_instrument(store, *, instrument_id: str, instrument: InstrumentBase) -> dict:
    current = get_instrument(store, instrument_id=instrument_id)
    if current["fund_id"] != instrument.fund_id:
        raise Conflict("an instrument cannot move to another fund", field="fund_id")
    return put_instrument(store, instrument=InstrumentCreate(id=instrument_id, **instrument.model_dump()))


def put_instrument(store, *, instrument: InstrumentCreate) -> dict:
    fund = _check_instrument(store, instrument)
    store.put_instrument(instrument.model_dump())
    return _instrument_read(fund, store.get_instrument(instrument.id))


def get_instrument(store, *, instrument_id: str) -> dict:
    row = store.get_instrument(instrument_id)
    if row is None:
        raise NotFound(f"no instrument {instrument_id!r}", field="instrument")
    return _instrument_read(store.get_fund(row["fund_id"]), row)


def list_instruments(store, *, fund_id: str) -> list[dict]:
    fund = get_fund(store, fund_id=fund_id)
    return [_instrument_read(fund, r) for r in store.list_instruments(fund_id=fund_id)]


def delete_instrument(store, *, instrument_id: str) -> None:
    get_instrument(store, instrument_id=instrument_id)
    if any(a["instrument_id"] == instrument_id for a in store.list_allocations()):
        raise Conflict(f"instrument {instrument_id!r} finances adopted projects; it cannot be deleted",
                       field="instrument")
    store.delete_instrument(instrument_id)


# projects --------------------------------------------------------------------------------------------
def _check_projects(store, projects: list[ProjectCreate]) -> None:
    """Cities exist, a stored project keeps its city, links and listed instruments name known things."""
    cities = {c["id"] for c in store.list_cities()}
    batch = {p.id for p in projects}
    if len(batch) != len(projects):
        raise InvalidInput("the batch names a project id twice", field="id")
    stored = {r["id"]: r for r in store.list_projects()}
    instruments = {r["id"] for r in store.list_instruments()}
    for p in projects:
        if p.city not in cities:
            raise InvalidInput(f"project {p.id}: unknown city {p.city!r}", field="city")
        if p.id in stored and stored[p.id]["city"] != p.city:
            raise Conflict(f"project {p.id!r} belongs to city {stored[p.id]['city']!r}, not {p.city!r}", field="city")
        for kind in ("requires", "excludes"):
            for q in getattr(p, kind):
                if q not in batch and q not in stored:
                    raise InvalidInput(f"project {p.id} {kind} unknown project {q!r}", field=kind)
        for i in p.eligible_instruments:
            if i not in instruments:
                raise InvalidInput(f"project {p.id}: unknown instrument {i!r}", field="eligible_instruments")


def put_projects(store, *, projects: list[ProjectCreate]) -> int:
    """Create or replace several projects at once (the caller has checked its right in every city)."""
    _check_projects(store, projects)
    return store.put_projects([p.model_dump() for p in projects])


def create_project(store, *, project: ProjectCreate) -> dict:
    if store.get_project(project.id) is not None:
        raise Conflict(f"project id {project.id!r} is already in use", field="id")
    put_projects(store, projects=[project])
    return store.get_project(project.id)


def replace_project(store, *, project_id: str, project: ProjectBase, scope: Scope = None) -> dict:
    current = get_project(store, project_id=project_id, scope=scope)
    if current["status"] == "funded":
        raise Conflict(f"project {project_id!r} is funded; its plan figures are fixed (record MRV instead)",
                       field="status")
    put_projects(store, projects=[ProjectCreate(id=project_id, **project.model_dump())])
    return store.get_project(project_id)


def get_project(store, *, project_id: str, scope: Scope = None) -> dict:
    row = store.get_project(project_id, scope=scope)
    if row is None:
        raise NotFound(f"no project {project_id!r}", field="project")
    return row


def _visible_city(store, city: str | None, scope: Scope) -> None:
    if city is not None and store.get_city(city, scope=scope) is None:
        raise NotFound(f"no city {city!r}", field="city")


def list_projects(store, *, city: str | None = None, sector: str | None = None, status: str | None = None,
                  scope: Scope = None) -> list[dict]:
    _visible_city(store, city, scope)
    return store.list_projects(city=city, sector=sector, status=status, scope=scope)


def delete_project(store, *, project_id: str, scope: Scope = None) -> dict:
    row = get_project(store, project_id=project_id, scope=scope)
    if row["status"] == "funded":
        raise Conflict(f"project {project_id!r} is funded and cannot be deleted", field="status")
    linked = sorted(r["id"] for r in store.list_projects()
                    if project_id in r["requires"] or project_id in r["excludes"])
    if linked:
        raise Conflict(f"projects {', '.join(linked[:5])} link to {project_id!r}; change them first", field="project")
    store.delete_project(project_id)
    return row


# plans -----------------------------------------------------------------------------------------------
def _committed(store, fund_id: str) -> dict[str, float]:
    """Base-currency amounts already allocated by adopted plans, per instrument."""
    ids = {r["id"] for r in store.list_instruments(fund_id=fund_id)}
    out: dict[str, float] = {}
    for a in store.list_allocations():
        if a["instrument_id"] in ids:
            out[a["instrument_id"]] = out.get(a["instrument_id"], 0.0) + a["amount_base"]
    return out


def _inputs(store, *, fund_id: str, rules: PlanRules, scope: Scope = None):
    fund = get_fund(store, fund_id=fund_id)
    rows = store.list_instruments(fund_id=fund_id)
    if not rows:
        raise InvalidInput(f"fund {fund_id!r} has no instruments", field="fund")
    used = _committed(store, fund_id)
    instruments = [optimiser.Instrument(**{**i.__dict__, "cap": max(0.0, i.cap - used.get(i.id, 0.0))})
                   for i in inputs.instruments_for(fund, rows)]
    projects = store.list_projects(status="candidate", scope=scope)
    if rules.cities is not None:
        unknown = sorted(set(rules.cities) - {c["id"] for c in store.list_cities(scope=scope)})
        if unknown:
            raise NotFound(f"no city {unknown[0]!r}", field="cities")
        projects = [p for p in projects if p["city"] in set(rules.cities)]
    ids = {r["id"] for r in rows}
    # a project that lists instruments, none of them this fund's, cannot be financed here
    projects = [p for p in projects if not p["eligible_instruments"] or set(p["eligible_instruments"]) & ids]
    known = {p["id"] for p in projects}
    for p in projects:  # links to projects outside the selection (funded, other cities, other funds) drop out
        p["requires"] = [q for q in p["requires"] if q in known]
        p["excludes"] = [q for q in p["excludes"] if q in known]
        p["eligible_instruments"] = [i for i in p["eligible_instruments"] if i in ids]
    frame = inputs.projects_frame(fund, projects)
    cons = optimiser.Constraints(
        budget=rules.budget, city_floor=rules.city_floor, city_floors=rules.city_floors,
        city_ceiling_share=rules.city_ceiling_share, sector_max_share=rules.sector_max_share,
        sector_max=rules.sector_max, min_dscr=rules.min_dscr, pm25_weight=rules.pm25_weight,
        water_weight=rules.water_weight, horizon_year=rules.horizon_year, mip_rel_gap=rules.mip_rel_gap,
        time_limit=rules.time_limit)
    return fund, rows, instruments, {p["id"]: p for p in projects}, frame, cons


def _portfolio(fund: dict, inst_rows: list[dict], projects: dict[str, dict], res: optimiser.PlanResult,
               frame: pl.DataFrame) -> dict:
    fx = {**inputs.fx_of(fund), fund["base_currency"]: 1.0}
    inst = {r["id"]: r for r in inst_rows}
    base = frame.select("id", "cost", "annual_saving").rows_by_key("id", unique=True)
    items = []
    alloc = res.allocations if res.allocations is not None else pl.DataFrame()
    parts: dict[str, list] = {}
    for a in alloc.iter_rows(named=True):
        parts.setdefault(a["project"], []).append(a)
    for pid in res.chosen:
        p = projects[pid]
        cost_base, saving_base = base[pid]
        split = []
        debt = 0.0
        for a in parts.get(pid, []):
            r = inst[a["instrument"]]
            split.append({"instrument": r["id"], "kind": r["kind"], "amount_base": a["amount"],
                          "amount": a["amount"] / fx[r["currency"]], "currency": r["currency"]})
            if r["kind"] == "loan":
                debt += float(annual_debt_service(a["amount"], r["interest_rate"], r["tenor_years"],
                                                  r.get("grace_years") or 0))
        items.append({"project": pid, "city": p["city"], "sector": p["sector"], "name": p["name"],
                      "cost_base": cost_base, "annual_saving_base": saving_base,
                      "annual_abatement": p["annual_abatement"],
                      "lifetime_abatement": p["annual_abatement"] * p["lifetime_years"],
                      "annual_debt_service_base": debt,
                      "dscr": (saving_base / debt) if debt > 0 else None, "split": split})
    out = res.to_dict()
    out.pop("allocations")
    out["items"] = items
    return out


def make_plan(store, *, request: PlanRequest, actor: str, scope: Scope = None) -> dict:
    """Solve the fund's portfolio (optimal) and the spreadsheet comparison; keep it when asked.

    Infeasible rules raise InvalidInput naming the binding constraint (``details`` lists them all)."""
    fund, inst_rows, instruments, projects, frame, cons = _inputs(store, fund_id=request.fund, rules=request,
                                                                  scope=scope)
    gr = optimiser.greedy(frame, instruments, cons, rank_by=request.rank_by)
    res = optimiser.solve(frame, instruments, cons, start=gr)
    if res.status == "infeasible":
        fam = res.binding[0]["family"] if res.binding else None
        raise InvalidInput(res.message, field=_FIELD_OF_FAMILY.get(fam, "rules"),
                           details={"binding": res.binding, "excluded_projects": len(res.excluded)})
    plan = {
        "id": f"plan-{uuid.uuid4().hex[:12]}" if request.save and res.status != "no_solution" else None,
        "fund": fund["id"], "base_currency": fund["base_currency"], "status": res.status, "message": res.message,
        "created_at": datetime.now(timezone.utc), "actor": actor,
        "rules": request.model_dump(exclude={"save"}),
        "instruments": [{"id": i.id, "kind": i.kind, "available_base": i.cap} for i in instruments],
        "portfolio": _portfolio(fund, inst_rows, projects, res, frame),
        "greedy": {k: v for k, v in gr.to_dict().items() if k != "allocations"},
        "comparison": optimiser.compare(res, gr),
    }
    if plan["id"]:
        store.save_plan({"id": plan["id"], "fund_id": fund["id"], "created_at": plan["created_at"], "actor": actor,
                         "status": res.status, "objective": res.objective,
                         "request": plan["rules"], "result": _jsonable(plan)})
    return plan


def _jsonable(obj):
    import json

    return json.loads(json.dumps(obj, default=str))


def get_plan(store, *, plan_id: str) -> dict:
    row = store.get_plan(plan_id)
    if row is None:
        raise NotFound(f"no plan {plan_id!r}", field="plan")
    return {**row["result"], "adopted_at": row["adopted_at"]}


def list_plans(store, *, fund_id: str | None = None) -> list[dict]:
    return store.list_plans(fund_id=fund_id)


def adopt_plan(store, *, plan_id: str, actor: str) -> dict:
    """Commit a saved plan: its allocations are recorded and its projects become funded."""
    row = store.get_plan(plan_id)
    if row is None:
        raise NotFound(f"no plan {plan_id!r}", field="plan")
    if row["adopted_at"] is not None:
        raise Conflict(f"plan {plan_id!r} was adopted at {row['adopted_at']:%Y-%m-%d %H:%M} UTC", field="plan")
    items = row["result"]["portfolio"]["items"]
    stale = [it["project"] for it in items
             if (p := store.get_project(it["project"])) is None or p["status"] != "candidate"]
    if stale:
        raise Conflict(f"projects changed since the plan was made (funded or deleted): {', '.join(stale[:5])}; "
                       "make a new plan", field="plan")
    allocations = [{"plan_id": plan_id, "project_id": it["project"], "city": it["city"],
                    "instrument_id": s["instrument"], "amount_base": s["amount_base"], "amount": s["amount"],
                    "currency": s["currency"]} for it in items for s in it["split"]]
    store.adopt_plan(plan_id, allocations)
    return {"plan": plan_id, "projects": len(items), "allocations": len(allocations),
            "committed_base": sum(a["amount_base"] for a in allocations), "actor": actor}


def default_fund(store) -> str:
    """The fund to use when a caller names none: the only one there is."""
    funds = store.list_funds()
    if len(funds) != 1:
        raise InvalidInput("name the fund" + (f" (one of {', '.join(f['id'] for f in funds)})" if funds else
                                              "; none exists yet"), field="fund")
    return funds[0]["id"]


def frontier(store, *, fund_id: str, rules: PlanRules, points: int = 10, scope: Scope = None,
             on_point=None) -> dict:
    """Abatement against budget: the exact optimum and the greedy portfolio at ``points`` budgets."""
    if not 2 <= points <= 50:
        raise InvalidInput("points must be between 2 and 50", field="points")
    fund, _rows, instruments, _projects, frame, cons = _inputs(store, fund_id=fund_id, rules=rules, scope=scope)
    total = sum(i.cap for i in instruments)
    top = min(rules.budget, total) if rules.budget is not None else total
    table = optimiser.frontier(frame, instruments, cons, budgets=[top * (k + 1) / points for k in range(points)],
                               rank_by=rules.rank_by, on_point=on_point)
    from .plot import frontier_svg

    return {"fund": fund_id, "base_currency": fund["base_currency"], "items": table.to_dicts(),
            "svg": frontier_svg(table, currency=fund["base_currency"], title=f"Efficient frontier: {fund['name']}")}


# MRV -------------------------------------------------------------------------------------------------
def _grid_factor(store, city: str) -> float | None:
    row = store.get_city(city)
    return mrv.grid_factors().get(row["country"]) if row else None


def record_mrv(store, *, project_id: str, records: list[MrvRecord], actor: str, scope: Scope = None) -> int:
    project = get_project(store, project_id=project_id, scope=scope)
    if project["status"] != "funded":
        raise Conflict(f"project {project_id!r} is not funded; MRV is recorded for funded projects", field="project")
    return store.put_mrv([{"project_id": project_id, "city": project["city"], "actor": actor, **r.model_dump()}
                          for r in records])


def record_mrv_bulk(store, *, records: list[dict], actor: str) -> int:
    """Monitored values for several projects (dicts with project_id, year, metric, value[, grid_factor])."""
    cities = {p["id"]: p["city"] for p in store.list_projects(status="funded")}
    rows = []
    for r in records:
        if r["project_id"] not in cities:
            raise Conflict(f"project {r['project_id']!r} is not funded", field="project")
        rec = MrvRecord(**{k: v for k, v in r.items() if k != "project_id"})
        rows.append({"project_id": r["project_id"], "city": cities[r["project_id"]], "actor": actor,
                     **rec.model_dump()})
    return store.put_mrv(rows)


def mrv_report(store, *, project_id: str, scope: Scope = None) -> dict:
    """Realised against planned abatement per year for one funded project."""
    project = get_project(store, project_id=project_id, scope=scope)
    recs = store.list_mrv(project_id=project_id)
    frame = (pl.DataFrame([{k: r[k] for k in ("year", "metric", "value", "grid_factor")} for r in recs],
                          schema={"year": pl.Int64, "metric": pl.String, "value": pl.Float64,
                                  "grid_factor": pl.Float64})
             if recs else pl.DataFrame(schema={"year": pl.Int64, "metric": pl.String, "value": pl.Float64,
                                               "grid_factor": pl.Float64}))
    ef = _grid_factor(store, project["city"])
    years = list(range(project["start_year"], max(r["year"] for r in recs) + 1)) if recs else []
    table = mrv.against_plan(frame, planned_annual=project["annual_abatement"], start_year=project["start_year"],
                             grid_factor=ef, years=years)
    planned, realised = float(table["planned_t"].sum()), float(table["realised_t"].sum())
    return {"project": project_id, "city": project["city"], "status": project["status"],
            "planned_annual_t": project["annual_abatement"], "grid_factor": ef, "years": table.to_dicts(),
            "planned_to_date_t": planned, "realised_to_date_t": realised,
            "ratio": realised / planned if planned > 0 else None}


def mrv_summary(store, *, city: str | None = None, scope: Scope = None) -> dict:
    """Planned against realised abatement to date for every funded project the caller may see."""
    _visible_city(store, city, scope)
    items = []
    for p in store.list_projects(city=city, status="funded", scope=scope):
        r = mrv_report(store, project_id=p["id"], scope=scope)
        items.append({k: r[k] for k in ("project", "city", "planned_annual_t", "planned_to_date_t",
                                        "realised_to_date_t", "ratio")} | {"years_reported": len(r["years"])})
    planned = sum(i["planned_to_date_t"] for i in items)
    realised = sum(i["realised_to_date_t"] for i in items)
    return {"items": items, "planned_to_date_t": planned, "realised_to_date_t": realised,
            "ratio": realised / planned if planned > 0 else None}
