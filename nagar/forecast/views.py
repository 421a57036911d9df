"""Routes for PM2.5 forecasts: the newest 24-hour forecast per station and the models' skill against
persistence. Reads only (training runs in the background or from the CLI); scoped like every read."""

from __future__ import annotations

from fastapi import APIRouter, Path

from nagar.security.permissions import Perm, PrincipalDep, require
from nagar.store.deps import SettingsDep, StoreDep

from . import service

router = APIRouter(prefix="/api/v1/cities/{city}", tags=["forecast"])

CityPath = Path(..., max_length=64, examples=["dhaka"])
StationPath = Path(..., max_length=64, examples=["dhaka-agargaon"])


@router.get("/forecast", summary="Newest 24-hour PM2.5 forecast of each station, with AQI categories",
            **require(Perm.READ))
def get_city_forecast(store: StoreDep, settings: SettingsDep, principal: PrincipalDep, city: str = CityPath) -> dict:
    return service.latest_forecast(store, city=city, settings=settings, scope=principal.scope(Perm.READ))


@router.get("/stations/{station_id}/forecast", summary="A station's newest 24-hour PM2.5 forecast",
            **require(Perm.READ))
def get_station_forecast(store: StoreDep, settings: SettingsDep, principal: PrincipalDep, city: str = CityPath,
                         station_id: str = StationPath) -> dict:
    return service.latest_forecast(store, city=city, settings=settings, station=station_id,
                                   scope=principal.scope(Perm.READ))


@router.get("/forecast/skill", summary="Forecast skill vs persistence (rolling-origin MAE and category hit rate)",
            **require(Perm.READ))
def get_skill(store: StoreDep, principal: PrincipalDep, city: str = CityPath) -> dict:
    return service.skill_report(store, city=city, scope=principal.scope(Perm.READ))
