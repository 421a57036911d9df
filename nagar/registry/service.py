"""Registry operations shared by the API and the CLI."""

from __future__ import annotations

from nagar.core.errors import NotFound
from nagar.store.base import Store

from .models import CityCreate, StationCreate


def create_city(store: Store, *, city: CityCreate) -> tuple[dict, bool]:
    created = store.upsert_city(city.model_dump())
    return store.get_city(city.id), created


def get_city(store: Store, *, city_id: str) -> dict:
    city = store.get_city(city_id)
    if city is None:
        raise NotFound(f"no city {city_id!r}", field="city")
    return city


def list_cities(store: Store) -> list[dict]:
    return store.list_cities()


def create_station(store: Store, *, station: StationCreate) -> tuple[dict, bool]:
    get_city(store, city_id=station.city)
    created = store.upsert_station(station.model_dump())
    return store.get_station(station.id), created


def get_station(store: Store, *, station_id: str) -> dict:
    st = store.get_station(station_id)
    if st is None:
        raise NotFound(f"no station {station_id!r}", field="station")
    return st


def list_stations(store: Store, *, city: str | None = None) -> list[dict]:
    if city is not None:
        get_city(store, city_id=city)
    return store.list_stations(city=city)


def nearest_city(store: Store, *, lat: float, lon: float, max_km: float = 100.0) -> dict | None:
    """The registered city whose centre is nearest (haversine), if within ``max_km``."""
    import math

    best, best_d = None, max_km
    for c in store.list_cities():
        p1, p2 = math.radians(lat), math.radians(c["lat"])
        dp, dl = p2 - p1, math.radians(c["lon"] - lon)
        a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
        d = 2 * 6371.0088 * math.asin(math.sqrt(a))
        if d <= best_d:
            best, best_d = c, d
    return best
