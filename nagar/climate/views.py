"""Routes for climate: activity data, emission factors, the GPC inventory, renewable share, pathways.

Reads are scoped to the cities the caller may read (another city is a 404); writes need the write right
in the city (``check_city``) and are audited by the service.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Path, Query, Response

from nagar.security.permissions import Perm, PrincipalDep, check_city, require
from nagar.store.deps import StoreDep

from . import service
from .models import ActivityBatch, ActivityWritten, DriversIn, FactorIn, InventoryRunIn, PathwayIn

router = APIRouter(prefix="/api/v1/climate", tags=["climate"])

Gwp = Query("ar5", description="GWP100 set for CO2e: ar5 (CH4 28, N2O 265), ar6 (CH4 fossil 29.8 / non-fossil 27.0, "
                                "N2O 273) or ar4")


@router.get("/activity", summary="A city's activity data (all years, or one)", **require(Perm.READ))
def get_activity(store: StoreDep, principal: PrincipalDep, city: str = Query(..., examples=["dhaka"]),
                 year: int | None = Query(None, ge=1900, le=2100)) -> dict:
    return {"city": city, "items": service.list_activity(store, city=city, year=year,
                                                         scope=principal.scope(Perm.READ))}


@router.post("/activity", summary="Add or replace activity data rows of a city", **require(Perm.WRITE))
def post_activity(body: ActivityBatch, store: StoreDep, principal: PrincipalDep) -> ActivityWritten:
    check_city(store, principal, body.city, Perm.WRITE)
    return ActivityWritten(**service.put_activity(store, city=body.city, rows=body.rows, actor=principal.actor))


@router.delete("/activity/{activity_id}", status_code=204, summary="Delete one activity row", **require(Perm.WRITE))
def delete_activity(store: StoreDep, principal: PrincipalDep, activity_id: int = Path(..., ge=1)) -> Response:
    row = service.get_activity_row(store, activity_id=activity_id, scope=principal.scope(Perm.READ))
    check_city(store, principal, row["city"], Perm.WRITE)
    service.delete_activity(store, activity_id=activity_id, actor=principal.actor)
    return Response(status_code=204)


@router.get("/factors", summary="Emission factors: the shipped tables, and a city's own", **require(Perm.READ))
def get_factors(store: StoreDep, principal: PrincipalDep,
                city: str | None = Query(None, description="Include this city's own factors")) -> dict:
    return service.list_factors(store, city=city, scope=principal.scope(Perm.READ))


@router.post("/factors", status_code=201, summary="Add a city's own emission factor (with its source)",
             **require(Perm.WRITE))
def post_factor(body: FactorIn, store: StoreDep, principal: PrincipalDep) -> dict:
    check_city(store, principal, body.city, Perm.WRITE)
    return service.add_factor(store, factor=body, actor=principal.actor)


def _json_or_csv(perm: Perm) -> dict:
    kw = require(perm)
    kw["responses"] = {**kw["responses"], 200: {"description": "The inventory (JSON) or the GPC reporting table (CSV)",
                                                "content": {"application/json": {}, "text/csv": {}}}}
    return kw


@router.get("/inventory", summary="GPC inventory of a city and year (JSON or the reporting table as CSV)",
            **_json_or_csv(Perm.READ))
def get_inventory(store: StoreDep, principal: PrincipalDep, city: str = Query(..., examples=["dhaka"]),
                  year: int | None = Query(None, ge=1900, le=2100, description="Default: latest year with data"),
                  gwp: Literal["ar5", "ar6", "ar4"] = Gwp,
                  grid_region: str | None = Query(None, max_length=40, description="Grid region, e.g. PH-LV"),
                  format: Literal["json", "csv"] = Query("json")):
    out = service.inventory_report(store, city=city, year=year, gwp=gwp, grid_region=grid_region, fmt=format,
                                   scope=principal.scope(Perm.READ))
    if format == "csv":
        name = f"gpc-{city}-{year or 'latest'}-{gwp}.csv"
        return Response(out, media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return out


@router.get("/inventory/runs", summary="Inventories saved for a city", **require(Perm.READ))
def get_inventory_runs(store: StoreDep, principal: PrincipalDep, city: str = Query(..., examples=["dhaka"])) -> dict:
    return {"city": city, "items": service.list_inventory_runs(store, city=city, scope=principal.scope(Perm.READ))}


@router.post("/inventory/runs", status_code=201, summary="Compute and keep an inventory as reported",
             **require(Perm.WRITE))
def post_inventory_run(body: InventoryRunIn, store: StoreDep, principal: PrincipalDep) -> dict:
    check_city(store, principal, body.city, Perm.WRITE)
    return service.save_inventory_run(store, city=body.city, year=body.year, gwp=body.gwp,
                                      grid_region=body.grid_region, actor=principal.actor)


@router.get("/renewable-share", summary="Renewable share of a city's electricity per month and year",
            **require(Perm.READ))
def get_renewable_share(store: StoreDep, principal: PrincipalDep, city: str = Query(..., examples=["dhaka"]),
                        year: int | None = Query(None, ge=1900, le=2100, description=(
                            "Default: the latest year with activity data, else the current year")),
                        grid_renewable_fraction: float | None = Query(None, ge=0, le=1, description=(
                            "Renewable fraction of grid electricity; without it grid-mix renewables are not "
                            "counted")),
                        basis: Literal["auto", "metered", "annual_prorated"] = Query("auto")) -> dict:
    return service.renewable_share(store, city=city, year=year, grid_renewable_fraction=grid_renewable_fraction,
                                   basis=basis, scope=principal.scope(Perm.READ))


@router.get("/drivers", summary="A city's stored drivers of its business-as-usual projection",
            **require(Perm.READ))
def get_drivers(store: StoreDep, principal: PrincipalDep, city: str = Query(..., examples=["dhaka"])) -> dict:
    return service.get_drivers(store, city=city, scope=principal.scope(Perm.READ))


@router.put("/drivers", summary="Set a city's BAU drivers (used by pathways that give none)", **require(Perm.WRITE))
def put_drivers(body: DriversIn, store: StoreDep, principal: PrincipalDep) -> dict:
    check_city(store, principal, body.city, Perm.WRITE)
    return service.put_drivers(store, body=body, actor=principal.actor)


@router.post("/pathway", summary="BAU projection and a project portfolio's pathway to 2041 / 2050",
             **require(Perm.READ))
def post_pathway(body: PathwayIn, store: StoreDep, principal: PrincipalDep) -> dict:
    return service.pathway(store, body=body, scope=principal.scope(Perm.READ))
