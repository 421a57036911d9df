"""Routes for cities and stations."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response, status

from nagar.store.deps import StoreDep

from . import service
from .models import CityCreate, CityRead, StationCreate, StationRead

router = APIRouter(prefix="/api/v1", tags=["registry"])


@router.get("/cities", summary="List cities")
def list_cities(store: StoreDep) -> dict[str, list[CityRead]]:
    return {"items": [CityRead(**c) for c in service.list_cities(store)]}


@router.post("/cities", status_code=status.HTTP_201_CREATED, summary="Create or replace a city")
def create_city(city: CityCreate, store: StoreDep, response: Response) -> CityRead:
    row, created = service.create_city(store, city=city)
    if not created:
        response.status_code = status.HTTP_200_OK
    return CityRead(**row)


@router.get("/cities/{city_id}", summary="One city")
def get_city(city_id: str, store: StoreDep) -> CityRead:
    return CityRead(**service.get_city(store, city_id=city_id))


@router.get("/stations", summary="List stations, optionally of one city")
def list_stations(store: StoreDep, city: str | None = Query(None, examples=["dhaka"])) -> dict[str, list[StationRead]]:
    return {"items": [StationRead(**s) for s in service.list_stations(store, city=city)]}


@router.post("/stations", status_code=status.HTTP_201_CREATED, summary="Create or replace a station")
def create_station(station: StationCreate, store: StoreDep, response: Response) -> StationRead:
    row, created = service.create_station(store, station=station)
    if not created:
        response.status_code = status.HTTP_200_OK
    return StationRead(**row)


@router.get("/stations/{station_id}", summary="One station")
def get_station(station_id: str, store: StoreDep) -> StationRead:
    return StationRead(**service.get_station(store, station_id=station_id))
