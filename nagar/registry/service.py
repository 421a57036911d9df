"""Registry operations shared by the API and the CLI. ``scope`` limits what a caller sees (None: all)."""

from __future__ import annotations

import math

from nagar.core.errors import Conflict, InvalidInput, NotFound
from nagar.core.tenancy import Scope
from nagar.store.base import Store

from .models import CityBase, CityCreate, StationBase, StationCreate


def _check_standard(settings, standard: str | None) -> str:
    """The city's AQI standard: a known id, or the server's default when none is given."""
    if standard is None:
        return settings.default_standard
    from nagar.air.standards import list_standards

    known = [s.id for s in list_standards(extra_dir=settings.standards_dir)]
    if standard not in known:
        raise InvalidInput(f"unknown AQI standard {standard!r}; known: {', '.join(known)}", field="standard")
    return standard


def create_city(store: Store, *, city: CityCreate, settings) -> dict:
    if store.get_city(city.id) is not None:
        raise Conflict(f"city {city.id!r} already exists; PUT /api/v1/cities/{city.id} replaces it", field="id")
    store.upsert_city({**city.model_dump(), "standard": _check_standard(settings, city.standard)})
    return store.get_city(city.id)


def replace_city(store: Store, *, city_id: str, city: CityBase, settings) -> dict:
    get_city(store, city_id=city_id)
    store.upsert_city({**city.model_dump(), "id": city_id, "standard": _check_standard(settings, city.standard)})
    return store.get_city(city_id)


def get_city(store: Store, *, city_id: str, scope: Scope = None) -> dict:
    city = store.get_city(city_id, scope=scope)
    if city is None:
        raise NotFound(f"no city {city_id!r}", field="city")
    return city


def list_cities(store: Store, *, scope: Scope = None) -> list[dict]:
    return store.list_cities(scope=scope)


def create_station(store: Store, *, station: StationCreate) -> dict:
    """Create a station; the caller has checked its right on ``station.city``. An id in use anywhere is a
    409 that does not say where (another city's station is not revealed)."""
    get_city(store, city_id=station.city)
    if store.get_station(station.id) is not None:
        raise Conflict(f"station id {station.id!r} is already in use", field="id")
    store.upsert_station(station.model_dump())
    return store.get_station(station.id)


def replace_station(store: Store, *, station_id: str, station: StationBase) -> dict:
    current = get_station(store, station_id=station_id)
    if station.city != current["city"]:
        raise InvalidInput("a station cannot move to another city; create a new one", field="city")
    store.upsert_station({**station.model_dump(), "id": station_id})
    return store.get_station(station_id)


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
