"""Routes for data quality: faults per station and period, the raw series with its flags, batch scans
and operators' overrides. Reads are scoped (a city the caller may not see is a 404); scans and
overrides need the write right in the city and are audited."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Literal

from fastapi import APIRouter, Path, Query

from nagar.core.errors import InvalidInput
from nagar.core.units import PARAMETERS
from nagar.security import audit
from nagar.security.permissions import Perm, PrincipalDep, check_city, require
from nagar.store.deps import StoreDep

from . import service
from .models import OverrideIn, OverrideOut, ScanIn, ScanOut

router = APIRouter(prefix="/api/v1/cities/{city}/quality", tags=["quality"])

CityPath = Path(..., max_length=64, examples=["dhaka"])
Kind = Literal["stuck", "spike", "out_of_range", "drift", "timestamp"]


def _param(p: str | None) -> str | None:
    if p is not None and p not in PARAMETERS:
        raise InvalidInput(f"unknown parameter {p!r}", field="parameter")
    return p


@router.get("/summary", summary="Faults per station of a city, counted by kind", **require(Perm.READ))
def get_summary(store: StoreDep, principal: PrincipalDep, city: str = CityPath,
                start: datetime | None = Query(None, description="ISO 8601 with offset; default: all"),
                end: datetime | None = Query(None, description="ISO 8601 with offset; default: all")) -> dict:
    return service.summary(store, city=city, start=start, end=end, scope=principal.scope(Perm.READ))


@router.get("/faults", summary="Detected faults of a city's readings (newest first)",
            description="Each item has a `severity`: `suspect` or `invalid` is the flag the reading was given (left "
                        "out of means and the AQI); `notice` (e.g. a reading off the station's clock) is recorded "
                        "only: the reading keeps its flag and still counts.", **require(Perm.READ))
def get_faults(store: StoreDep, principal: PrincipalDep, city: str = CityPath,
               station: str | None = Query(None, max_length=64, examples=["dhaka-gazipur"]),
               parameter: str | None = Query(None, max_length=32, examples=["pm25"]),
               kind: Kind | None = Query(None),
               start: datetime | None = Query(None, description="ISO 8601 with offset"),
               end: datetime | None = Query(None, description="ISO 8601 with offset"),
               limit: int = Query(500, ge=1, le=5000), offset: int = Query(0, ge=0, le=10_000_000)) -> dict:
    items = service.faults(store, city=city, station=station, parameter=_param(parameter), kind=kind, start=start,
                           end=end, limit=limit, offset=offset, scope=principal.scope(Perm.READ))
    return {"city": city, "items": items}


@router.get("/stations/{station_id}/series", summary="A station's raw readings of one parameter with flags and "
            "fault kinds", **require(Perm.READ))
def get_series(store: StoreDep, principal: PrincipalDep, city: str = CityPath,
               station_id: str = Path(..., max_length=64, examples=["dhaka-gazipur"]),
               parameter: str = Query("pm25", max_length=32),
               start: datetime | None = Query(None, description="Default: 30 days before end"),
               end: datetime | None = Query(None, description="Default: the station's newest reading")) -> dict:
    scope = principal.scope(Perm.READ)
    station = station_id
    _param(parameter)
    end = service._utc(end, "end")
    if end is None:
        last = store.latest_time(stations=[station], scope=scope).get(station)
        end = (last or datetime.now(timezone.utc)) + timedelta(hours=1)
    if start is None:
        start = end - timedelta(days=30)
    return service.series(store, city=city, station=station, parameter=parameter, start=start, end=end, scope=scope)


@router.post("/scan", summary="Examine a city's readings now and flag faults", **require(Perm.WRITE))
def post_scan(body: ScanIn, store: StoreDep, principal: PrincipalDep, city: str = CityPath) -> ScanOut:
    check_city(store, principal, city, Perm.WRITE)
    res = service.scan(store, city=city, start=body.start, end=body.end, stations=body.stations,
                       scope=principal.scope(Perm.WRITE))
    audit.record(store, actor=principal.actor, action="quality.scan", city=city, target=f"city:{city}",
                 details={"start": res.start, "end": res.end, "faults": res.faults, "flagged": res.flagged})
    return ScanOut(**res.__dict__)


@router.post("/overrides", status_code=201, summary="Mark a flagged reading valid again (audited)",
             **require(Perm.WRITE))
def post_override(body: OverrideIn, store: StoreDep, principal: PrincipalDep, city: str = CityPath) -> OverrideOut:
    check_city(store, principal, city, Perm.WRITE)
    st = store.get_station(body.station, scope=principal.scope(Perm.WRITE))
    if st is None or st["city"] != city:
        from nagar.core.errors import NotFound

        raise NotFound(f"no station {body.station!r} in city {city!r}", field="station")
    _param(body.parameter)
    return OverrideOut(**service.override(store, station=body.station, parameter=body.parameter, time=body.time,
                                          reason=body.reason, actor=principal.actor,
                                          scope=principal.scope(Perm.WRITE)))
