"""Routes for funds, instruments, candidate projects, portfolio plans, the efficient frontier and MRV.

Funds, instruments and plans are platform-level (platform administrators write them; anyone reads fund
terms). Candidate projects belong to a city: its city admins write them, reads are scoped like every
city's data. Monitored (MRV) data of funded projects is written by the city's operators.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Response, status

from nagar.security import audit
from nagar.security.permissions import Perm, PrincipalDep, check_city, require
from nagar.store.deps import StoreDep

from . import service
from .models import (FrontierOut, FundBase, FundCreate, FundRead, InstrumentBase, InstrumentCreate, InstrumentRead,
                     MrvBatch, PlanRequest, PlanRules, ProjectBase, ProjectCreate, ProjectRead)

router = APIRouter(prefix="/api/v1/funding", tags=["funding"])


# funds -------------------------------------------------------------------------------------------------
@router.get("/funds", summary="Funds and their exchange rates", **require(Perm.READ))
def list_funds(store: StoreDep) -> dict[str, list[FundRead]]:
    return {"items": [FundRead(**f) for f in service.list_funds(store)]}


@router.post("/funds", status_code=status.HTTP_201_CREATED, summary="Create a fund (409 if the id exists)",
             **require(Perm.PLATFORM))
def create_fund(fund: FundCreate, store: StoreDep, principal: PrincipalDep) -> FundRead:
    row = service.create_fund(store, fund=fund)
    audit.record(store, actor=principal.actor, action="fund.create", target=f"fund:{fund.id}",
                 details=fund.model_dump())
    return FundRead(**row)


@router.get("/funds/{fund_id}", summary="One fund", **require(Perm.READ))
def get_fund(fund_id: str, store: StoreDep) -> FundRead:
    return FundRead(**service.get_fund(store, fund_id=fund_id))


@router.put("/funds/{fund_id}", summary="Replace a fund's settings (name, base currency, exchange rates)",
            **require(Perm.PLATFORM))
def replace_fund(fund_id: str, fund: FundBase, store: StoreDep, principal: PrincipalDep) -> FundRead:
    row = service.replace_fund(store, fund_id=fund_id, fund=fund)
    audit.record(store, actor=principal.actor, action="fund.update", target=f"fund:{fund_id}",
                 details=fund.model_dump())
    return FundRead(**row)


# instruments -----------------------------------------------------------------------------------------
@router.get("/funds/{fund_id}/instruments", summary="A fund's instruments, caps in their currency and the base",
            **require(Perm.READ))
def list_instruments(fund_id: str, store: StoreDep) -> dict[str, list[InstrumentRead]]:
    return {"items": [InstrumentRead(**i) for i in service.list_instruments(store, fund_id=fund_id)]}


@router.post("/instruments", status_code=status.HTTP_201_CREATED,
             summary="Create an instrument (equity, loan with rate/tenor/grace, or grant)", **require(Perm.PLATFORM))
def create_instrument(instrument: InstrumentCreate, store: StoreDep, principal: PrincipalDep) -> InstrumentRead:
    row = service.create_instrument(store, instrument=instrument)
    audit.record(store, actor=principal.actor, action="instrument.create", target=f"instrument:{instrument.id}",
                 details=instrument.model_dump())
    return InstrumentRead(**row)


@router.get("/instruments/{instrument_id}", summary="One instrument", **require(Perm.READ))
def get_instrument(instrument_id: str, store: StoreDep) -> InstrumentRead:
    return InstrumentRead(**service.get_instrument(store, instrument_id=instrument_id))


@router.put("/instruments/{instrument_id}", summary="Replace an instrument's terms", **require(Perm.PLATFORM))
def replace_instrument(instrument_id: str, instrument: InstrumentBase, store: StoreDep,
                       principal: PrincipalDep) -> InstrumentRead:
    row = service.replace_instrument(store, instrument_id=instrument_id, instrument=instrument)
    audit.record(store, actor=principal.actor, action="instrument.update", target=f"instrument:{instrument_id}",
                 details=instrument.model_dump())
    return InstrumentRead(**row)


@router.delete("/instruments/{instrument_id}", status_code=status.HTTP_204_NO_CONTENT,
               summary="Delete an instrument that finances nothing yet", **require(Perm.PLATFORM))
def delete_instrument(instrument_id: str, store: StoreDep, principal: PrincipalDep) -> Response:
    service.delete_instrument(store, instrument_id=instrument_id)
    audit.record(store, actor=principal.actor, action="instrument.delete", target=f"instrument:{instrument_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# projects --------------------------------------------------------------------------------------------
@router.get("/projects", summary="Candidate and funded projects you may see", **require(Perm.READ))
def list_projects(store: StoreDep, principal: PrincipalDep, city: str | None = Query(None, examples=["dhaka"]),
                  sector: str | None = Query(None, examples=["solar_pv"]),
                  status_: Literal["candidate", "funded"] | None = Query(None, alias="status")
                  ) -> dict[str, list[ProjectRead]]:
    rows = service.list_projects(store, city=city, sector=sector, status=status_, scope=principal.scope(Perm.READ))
    return {"items": [ProjectRead(**r) for r in rows]}


@router.post("/projects", status_code=status.HTTP_201_CREATED, summary="Propose a candidate project for a city",
             **require(Perm.ADMIN))
def create_project(project: ProjectCreate, store: StoreDep, principal: PrincipalDep) -> ProjectRead:
    check_city(store, principal, project.city, Perm.ADMIN)
    row = service.create_project(store, project=project)
    audit.record(store, actor=principal.actor, action="funding_project.create", city=project.city,
                 target=f"funding_project:{project.id}", details=project.model_dump())
    return ProjectRead(**row)


@router.get("/projects/{project_id}", summary="One project", **require(Perm.READ))
def get_project(project_id: str, store: StoreDep, principal: PrincipalDep) -> ProjectRead:
    return ProjectRead(**service.get_project(store, project_id=project_id, scope=principal.scope(Perm.READ)))


@router.put("/projects/{project_id}", summary="Replace a candidate project (its city cannot change)",
            **require(Perm.ADMIN))
def replace_project(project_id: str, project: ProjectBase, store: StoreDep, principal: PrincipalDep) -> ProjectRead:
    current = service.get_project(store, project_id=project_id, scope=principal.scope(Perm.READ))
    check_city(store, principal, current["city"], Perm.ADMIN)
    row = service.replace_project(store, project_id=project_id, project=project)
    audit.record(store, actor=principal.actor, action="funding_project.update", city=current["city"],
                 target=f"funding_project:{project_id}", details=project.model_dump())
    return ProjectRead(**row)


@router.delete("/projects/{project_id}", status_code=status.HTTP_204_NO_CONTENT,
               summary="Withdraw a candidate project (not funded, nothing links to it)", **require(Perm.ADMIN))
def delete_project(project_id: str, store: StoreDep, principal: PrincipalDep) -> Response:
    current = service.get_project(store, project_id=project_id, scope=principal.scope(Perm.READ))
    check_city(store, principal, current["city"], Perm.ADMIN)
    service.delete_project(store, project_id=project_id)
    audit.record(store, actor=principal.actor, action="funding_project.delete", city=current["city"],
                 target=f"funding_project:{project_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# plans -----------------------------------------------------------------------------------------------
@router.post("/plan", summary="Choose and finance the portfolio: optimum, greedy comparison and gap",
             **require(Perm.PLATFORM))
def make_plan(request: PlanRequest, store: StoreDep, principal: PrincipalDep) -> dict:
    plan = service.make_plan(store, request=request, actor=principal.actor)
    audit.record(store, actor=principal.actor, action="funding.plan",
                 target=f"plan:{plan['id']}" if plan["id"] else None,
                 details={"fund": request.fund, "status": plan["status"],
                          "objective": plan["portfolio"]["objective"], "committed": plan["portfolio"]["committed"],
                          "projects": len(plan["portfolio"]["chosen"]), "saved": plan["id"] is not None})
    return plan


@router.get("/plans", summary="Saved plans, newest first (without their portfolios)", **require(Perm.PLATFORM))
def list_plans(store: StoreDep, fund: str | None = Query(None)) -> dict:
    return {"items": service.list_plans(store, fund_id=fund)}


@router.get("/plans/{plan_id}", summary="One saved plan", **require(Perm.PLATFORM))
def get_plan(plan_id: str, store: StoreDep) -> dict:
    return service.get_plan(store, plan_id=plan_id)


@router.post("/plans/{plan_id}/adopt", summary="Commit a plan: record allocations, mark its projects funded",
             **require(Perm.PLATFORM))
def adopt_plan(plan_id: str, store: StoreDep, principal: PrincipalDep) -> dict:
    out = service.adopt_plan(store, plan_id=plan_id, actor=principal.actor)
    audit.record(store, actor=principal.actor, action="funding.adopt", target=f"plan:{plan_id}",
                 details={k: v for k, v in out.items() if k != "actor"})
    return out


_FRONTIER = require(Perm.PLATFORM)
_FRONTIER["responses"] = {**_FRONTIER.get("responses", {}),
                          200: {"description": "The frontier (JSON; null amounts where no portfolio meets the "
                                               "rules) or its drawing (SVG)",
                                "content": {"application/json": {}, "image/svg+xml": {}}}}
_FRONTIER["response_model"] = FrontierOut


@router.get("/frontier", summary="Efficient frontier: abatement against budget, exact and greedy", **_FRONTIER)
def get_frontier(
    store: StoreDep,
    fund: str | None = Query(None, examples=["jp-decarb"], description="Default: the only fund"),
    points: int = Query(10, ge=2, le=50),
    plan: str | None = Query(None, description="Reuse a saved plan's rules"),
    city_floor: float = Query(0.0, ge=0, le=1e18),
    city_ceiling_share: float | None = Query(None, gt=0, le=1),
    min_dscr: float = Query(1.0, gt=0, le=10),
    pm25_weight: float = Query(0.0, ge=0, le=1e6),
    water_weight: float = Query(0.0, ge=0, le=1e6),
    horizon_year: int | None = Query(None, ge=2000, le=2200),
    budget: float | None = Query(None, ge=0, le=1e18, description="Top of the sweep (default: the caps together)"),
    format: Literal["json", "svg"] = Query("json"),
):
    if plan is not None:
        saved = service.get_plan(store, plan_id=plan)
        fund = fund or saved["fund"]
        rules = PlanRules(**{k: v for k, v in saved["rules"].items() if k in PlanRules.model_fields})
    else:
        rules = PlanRules(city_floor=city_floor, city_ceiling_share=city_ceiling_share, min_dscr=min_dscr,
                          pm25_weight=pm25_weight, water_weight=water_weight, horizon_year=horizon_year,
                          budget=budget, mip_rel_gap=1e-3, time_limit=30)
    out = service.frontier(store, fund_id=fund or service.default_fund(store), rules=rules, points=points)
    if format == "svg":
        return Response(out["svg"], media_type="image/svg+xml")
    return {k: v for k, v in out.items() if k != "svg"}


# MRV -------------------------------------------------------------------------------------------------
@router.post("/projects/{project_id}/mrv", summary="Record monitored data of a funded project (replaces the same "
             "year and metric)", **require(Perm.WRITE))
def record_mrv(project_id: str, batch: MrvBatch, store: StoreDep, principal: PrincipalDep) -> dict:
    current = service.get_project(store, project_id=project_id, scope=principal.scope(Perm.READ))
    check_city(store, principal, current["city"], Perm.WRITE)
    n = service.record_mrv(store, project_id=project_id, records=batch.records, actor=principal.actor)
    audit.record(store, actor=principal.actor, action="funding.mrv", city=current["city"],
                 target=f"funding_project:{project_id}",
                 details={"records": n, "years": sorted({r.year for r in batch.records})})
    return {"project": project_id, "records": n}


@router.get("/projects/{project_id}/mrv", summary="Realised against planned abatement per year",
            **require(Perm.READ))
def get_mrv(project_id: str, store: StoreDep, principal: PrincipalDep) -> dict:
    return service.mrv_report(store, project_id=project_id, scope=principal.scope(Perm.READ))


@router.get("/mrv", summary="Planned against realised abatement of every funded project you may see",
            **require(Perm.READ))
def mrv_summary(store: StoreDep, principal: PrincipalDep, city: str | None = Query(None)) -> dict:
    return service.mrv_summary(store, city=city, scope=principal.scope(Perm.READ))
