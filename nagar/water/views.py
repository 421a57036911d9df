"""Routes for water quality under ``/api/v1/cities/{city}/water``.

Reads are scoped to the cities the caller may read (another city is a 404); writes need the write right
in the city (``check_city``) and are audited by the service.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Path, Query

from nagar.core.errors import InvalidInput
from nagar.security.permissions import Perm, PrincipalDep, check_city, require
from nagar.store.deps import StoreDep

from . import objectives as objx
from . import service
from .models import ObjectiveSetIn, SamplesIn, SamplesWritten, StationsWritten, WaterStationsIn

router = APIRouter(prefix="/api/v1/cities/{city}/water", tags=["water"])

CityPath = Path(..., max_length=100, examples=["dhaka"])
SetQuery = Query(None, max_length=64, description=f"Objective set id (default {objx.DEFAULT_SET}); see /objectives")
StartQ = Query(None, description="ISO 8601 with a UTC offset")
EndQ = Query(None, description="ISO 8601 with a UTC offset (exclusive)")


@router.get("/parameters", summary="Water parameters and their canonical units", **require(Perm.READ))
def get_parameters(store: StoreDep, principal: PrincipalDep, city: str = CityPath) -> dict:
    service.get_city(store, city_id=city, scope=principal.scope(Perm.READ))
    return {"items": service.parameters()}


@router.get("/stations", summary="A city's water-quality stations", **require(Perm.READ))
def get_stations(store: StoreDep, principal: PrincipalDep, city: str = CityPath) -> dict:
    return {"city": city, "items": service.list_stations(store, city=city, scope=principal.scope(Perm.READ))}


@router.post("/stations", summary="Add or replace water-quality stations", **require(Perm.WRITE))
def post_stations(body: WaterStationsIn, store: StoreDep, principal: PrincipalDep,
                  city: str = CityPath) -> StationsWritten:
    check_city(store, principal, city, Perm.WRITE)
    return StationsWritten(**service.put_stations(store, city=city, stations=[s.model_dump() for s in body.stations],
                                                  actor=principal.actor))


@router.post("/samples", summary="Load lab samples (all or nothing; units converted)", **require(Perm.WRITE))
def post_samples(body: SamplesIn, store: StoreDep, principal: PrincipalDep, city: str = CityPath) -> SamplesWritten:
    check_city(store, principal, city, Perm.WRITE)
    return SamplesWritten(**service.load_samples(store, city=city, rows=[s.model_dump() for s in body.samples],
                                                 actor=principal.actor))


@router.get("/wqi", summary="CCME WQI 1.0 per station and period", **require(Perm.READ))
def get_wqi(store: StoreDep, principal: PrincipalDep, city: str = CityPath, objectives: str | None = SetQuery,
            period: Literal["all", "year", "quarter", "month"] = Query("year"),
            station: str | None = Query(None, max_length=100),
            start: datetime | None = StartQ, end: datetime | None = EndQ) -> dict:
    return service.wqi(store, city=city, objectives=objectives, period=period, station=station, start=start, end=end,
                       scope=principal.scope(Perm.READ))


@router.get("/exceedances", summary="Samples that failed their objective (with the excursion), and failures per station and period", **require(Perm.READ))
def get_exceedances(store: StoreDep, principal: PrincipalDep, city: str = CityPath, objectives: str | None = SetQuery,
                    station: str | None = Query(None, max_length=100), start: datetime | None = StartQ,
                    end: datetime | None = EndQ,
                    period: Literal["all", "year", "quarter", "month"] = Query("all", description=(
                        "Periods of the summary (local calendar)")),
                    limit: int = Query(1000, ge=1, le=10000)) -> dict:
    return service.exceedances(store, city=city, objectives=objectives, station=station, start=start, end=end,
                               period=period, limit=limit, scope=principal.scope(Perm.READ))


@router.get("/stations/{station}/parameters/{parameter}/history",
            summary="A parameter's samples at a station with its limit", **require(Perm.READ))
def get_history(store: StoreDep, principal: PrincipalDep, city: str = CityPath,
                station: str = Path(..., max_length=100), parameter: str = Path(..., max_length=40),
                objectives: str | None = SetQuery, start: datetime | None = StartQ,
                end: datetime | None = EndQ) -> dict:
    return service.history(store, city=city, station=station, parameter=parameter, objectives=objectives, start=start,
                           end=end, scope=principal.scope(Perm.READ))


@router.get("/objectives", summary="Objective sets: the shipped ones (with sources) and the city's own",
            **require(Perm.READ))
def get_objectives(store: StoreDep, principal: PrincipalDep, city: str = CityPath) -> dict:
    return service.list_objective_sets(store, city=city, scope=principal.scope(Perm.READ))


@router.put("/objectives", summary="Add or replace one of the city's own objective sets (JSON or CSV rows)",
            **require(Perm.WRITE))
def put_objectives(body: ObjectiveSetIn, store: StoreDep, principal: PrincipalDep, city: str = CityPath) -> dict:
    check_city(store, principal, city, Perm.WRITE)
    meta = body.model_dump(exclude={"objectives", "csv"})
    if (body.objectives is None) == (body.csv is None):
        raise InvalidInput("give exactly one of objectives or csv", field="objectives")
    if body.csv is not None:
        data = objx.parse_csv(body.csv, meta=meta, city=city)
        raw = {k: {"lower": o.lower, "upper": o.upper, "detection_limit": o.detection_limit, "note": o.note}
               for k, o in data.objectives.items()}
    else:
        raw = {k: o.model_dump() for k, o in body.objectives.items()}
    return service.put_objective_set(store, city=city, data={**meta, "objectives": raw}, actor=principal.actor)
