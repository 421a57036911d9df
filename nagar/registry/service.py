"""Registry operations shared by the API and the CLI. ``scope`` limits what a caller sees (None: all)."""

from __future__ import annotations

import math

from nagar.core.errors import NotFound
from nagar.core.tenancy import Scope
from nagar.store.base import Store

from .models import CityCreate, StationCreate


def create_city(store: Store, *, city: CityCreate) -> tuple[dict, bool]:
    created = store.upsert_city(city.model_dump())
    return store.get_city(city.id), created


def get_city(store: Store, *, city_id: str, scope: Scope = None) -> dict:
    city = store.get_city(city_id, scope=scope)
    if city is None:
        raise NotFound(f"no city {city_id!r}", field="city")
    return city


def list_cities(store: Store, *, scope: Scope = None) -> list[dict]:
    return store.list_cities(scope=scope)


def create_station(store: Store, *, station: StationCreate) -> tuple[dict, bool]:
    """Create or replace a station; the caller has checked its right on ``station.city``."""
    get_city(store, city_id=station.city)
    existing = store.get_station(station.id)
    if existing is not None and existing["city"] != station.city:
        # do not reveal another city's station: the id is simply taken
        from nagar.core.errors import Conflict

        raise Conflict(f"station id {station.id!r} is already in use", field="id")
    created = store.upsert_station(station.model_dump())
    return store.get_station(station.id), created


def get_station(store: Store, *, station_id: str, scope: Scope = None) -> dict:
    st = store.get_station(station_id, scope=scope)
    if st is None:
        raise NotFound(f"no station {station_id!r}", field="station")
    return st


def list_stations(store: Store, *, city: str | None = None, scope: Scope = None) -> list[dict]:
    if city is not None:
        get_city(store, city_id=city, scope=scope)
    return store.list_stations(city=city, scope=scope)


def nearest_city(store: Store, *, lat: float, lon: float, max_km: float = 100.0, scope: Scope = None) -> dict | None:
    """The city (within ``scope``) whose centre is nearest (haversine, R = 6371.0088 km), if within ``max_km``."""
    best, best_d = None, max_km
    for c in store.list_cities(scope=scope):
        p1, p2 = math.radians(lat), math.radians(c["lat"])
        dp, dl = p2 - p1, math.radians(c["lon"] - lon)
        a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
        d = 2 * 6371.0088 * math.asin(math.sqrt(a))
        if d <= best_d:
            best, best_d = c, d
    return best
