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


STATION_MAX_KM = 100.0
"""How far from its city's centre a station may be: the radius ``nagar ingest`` uses to find a station's
city (:func:`nearest_city`), wide enough for a metropolitan area and its airport or river stations."""


def km_between(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance [km] by the haversine formula on a sphere of the mean Earth radius
    R = 6371.0088 km (IUGG mean radius R1; Moritz, "Geodetic Reference System 1980", Bulletin
    Géodésique 54(3), 1980)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(min(1.0, a)))


def check_near_city(city: dict, lat: float, lon: float, *, what: str = "a station") -> None:
    """Refuse a place more than :data:`STATION_MAX_KM` from its city's centre (a station, a service
    request): almost always a typing slip (a sign, a digit, or latitude and longitude swapped), which would
    put it on the map, and in distance-based checks, somewhere else entirely. The message names the
    distance and, when swapping the two would fit, the swap."""
    d = km_between(lat, lon, city["lat"], city["lon"])
    if d <= STATION_MAX_KM:
        return
    hint = ""
    if -90 <= lon <= 90 and km_between(lon, lat, city["lat"], city["lon"]) <= STATION_MAX_KM:
        hint = f"; latitude and longitude look swapped (lat {lon:g}, lon {lat:g} would be in {city['id']})"
    raise InvalidInput(f"({lat:g}, {lon:g}) is {d:,.0f} km from the centre of {city['id']} ({city['lat']:g}, "
                       f"{city['lon']:g}); {what} must be within {STATION_MAX_KM:g} km of its city{hint}",
                       field="lat")



def create_station(store: Store, *, station: StationCreate) -> dict:
    """Create a station; the caller has checked its right on ``station.city``. An id in use anywhere is a
    409 that does not say where (another city's station is not revealed). It must lie within
    :data:`STATION_MAX_KM` of the city's centre."""
    city = get_city(store, city_id=station.city)
    if store.get_station(station.id) is not None:
        raise Conflict(f"station id {station.id!r} is already in use", field="id")
    check_near_city(city, station.lat, station.lon)
    store.upsert_station(station.model_dump())
    return store.get_station(station.id)


def replace_station(store: Store, *, station_id: str, station: StationBase) -> dict:
    current = get_station(store, station_id=station_id)
    if station.city != current["city"]:
        raise InvalidInput("a station cannot move to another city; create a new one", field="city")
    check_near_city(get_city(store, city_id=station.city), station.lat, station.lon)
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
        d = km_between(lat, lon, c["lat"], c["lon"])
        if d <= best_d:
            best, best_d = c, d
    return best
