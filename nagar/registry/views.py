"""Routes for cities and stations."""

from __future__ import annotations

from fastapi import APIRouter, Query, status

from nagar.security import audit
from nagar.security.permissions import Perm, PrincipalDep, check_city, require
from nagar.store.deps import SettingsDep, StoreDep

from . import service
from .models import CityBase, CityCreate, CityRead, StationBase, StationCreate, StationRead

router = APIRouter(prefix="/api/v1", tags=["registry"])


@router.get("/cities", summary="Cities you may see (open-data cities and your own)", **require(Perm.READ))
def list_cities(store: StoreDep, principal: PrincipalDep) -> dict[str, list[CityRead]]:
    return {"items": [CityRead(**c) for c in service.list_cities(store, scope=principal.scope(Perm.READ))]}


@router.post("/cities", status_code=status.HTTP_201_CREATED, summary="Create a city (409 if the id exists)",
             **require(Perm.PLATFORM))
def create_city(city: CityCreate, store: StoreDep, settings: SettingsDep, principal: PrincipalDep) -> CityRead:
    row = service.create_city(store, city=city, settings=settings)
    audit.record(store, actor=principal.actor, action="city.create", city=city.id, target=f"city:{city.id}",
                 details=city.model_dump())
    return CityRead(**row)


@router.put("/cities/{city_id}", summary="Replace a city's settings (every field is replaced)",
            **require(Perm.PLATFORM))
def replace_city(city_id: str, city: CityBase, store: StoreDep, settings: SettingsDep,
                 principal: PrincipalDep) -> CityRead:
    row = service.replace_city(store, city_id=city_id, city=city, settings=settings)
    audit.record(store, actor=principal.actor, action="city.update", city=city_id, target=f"city:{city_id}",
                 details=city.model_dump())
    return CityRead(**row)


@router.get("/cities/{city_id}", summary="One city", **require(Perm.READ))
def get_city(city_id: str, store: StoreDep, principal: PrincipalDep) -> CityRead:
    return CityRead(**service.get_city(store, city_id=city_id, scope=principal.scope(Perm.READ)))


@router.get("/stations", summary="List stations, optionally of one city", **require(Perm.READ))
def list_stations(store: StoreDep, principal: PrincipalDep,
                  city: str | None = Query(None, examples=["dhaka"])) -> dict[str, list[StationRead]]:
    rows = service.list_stations(store, city=city, scope=principal.scope(Perm.READ))
    return {"items": [StationRead(**s) for s in rows]}


@router.post("/stations", status_code=status.HTTP_201_CREATED, summary="Create a station (409 if the id exists)",
             **require(Perm.ADMIN))
def create_station(station: StationCreate, store: StoreDep, principal: PrincipalDep) -> StationRead:
    check_city(store, principal, station.city, Perm.ADMIN)
    row = service.create_station(store, station=station)
    audit.record(store, actor=principal.actor, action="station.create", city=station.city,
                 target=f"station:{station.id}", details=station.model_dump())
    return StationRead(**row)


@router.put("/stations/{station_id}", summary="Replace a station's metadata (its city cannot change)",
            **require(Perm.ADMIN))
def replace_station(station_id: str, station: StationBase, store: StoreDep, principal: PrincipalDep) -> StationRead:
    current = service.get_station(store, station_id=station_id, scope=principal.scope(Perm.READ))
    check_city(store, principal, current["city"], Perm.ADMIN)
    row = service.replace_station(store, station_id=station_id, station=station)
    audit.record(store, actor=principal.actor, action="station.update", city=current["city"],
                 target=f"station:{station_id}", details=station.model_dump())
    return StationRead(**row)


@router.get("/stations/{station_id}", summary="One station", **require(Perm.READ))
def get_station(station_id: str, store: StoreDep, principal: PrincipalDep) -> StationRead:
    return StationRead(**service.get_station(store, station_id=station_id, scope=principal.scope(Perm.READ)))
