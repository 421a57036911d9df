"""Routes for AQI standards and indices."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Literal

from fastapi import APIRouter, Query

from nagar.security.permissions import Perm, PrincipalDep, require
from nagar.store.deps import SettingsDep, StoreDep

from . import service

router = APIRouter(prefix="/api/v1", tags=["air quality"])


def _aware(**times) -> None:
    from nagar.core.errors import InvalidInput

    for name, t in times.items():
        if t is not None and t.tzinfo is None:
            raise InvalidInput(f"{name} must include a UTC offset (e.g. 2025-01-01T00:00:00Z)", field=name)


def standard_summary(std) -> dict:
    return {
        "id": std.id,
        "name": std.name,
        "source": std.source,
        "edition": getattr(std, "edition", None),
        "scale_max": std.scale_max,
        "categories": [{"key": c.key, "name": c.name, "lo": c.lo, "hi": c.hi, "colour": c.colour}
                       for c in std.categories],
        "pollutants": [{"key": p.key, "parameter": p.parameter, "averaging": p.averaging, "unit": p.unit}
                       for p in std.pollutants],
    }


@router.get("/standards", summary="AQI standards this server knows", **require(Perm.PUBLIC))
def list_standards(settings: SettingsDep) -> dict:
    return {"items": [standard_summary(s) for s in service.standards(settings)]}


@router.get("/standards/{standard_id}", summary="One AQI standard with its breakpoint tables", **require(Perm.PUBLIC))
def get_standard(standard_id: str, settings: SettingsDep) -> dict:
    std = service.get_standard(settings, standard_id)
    out = standard_summary(std)
    out["pollutants"] = [
        {"key": p.key, "parameter": p.parameter, "averaging": p.averaging, "unit": p.unit,
         "breakpoints": [list(b) for b in p.breakpoints]}
        for p in std.pollutants
    ]
    return out


@router.get("/aqi", summary="AQI series for a station or a city", **require(Perm.READ))
def get_aqi(
    store: StoreDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    station: str | None = Query(None, examples=["dhaka-agargaon"]),
    city: str | None = Query(None, examples=["dhaka"]),
    start: datetime | None = Query(None, description="ISO 8601 with offset; default: 7 days before end"),
    end: datetime | None = Query(None, description="ISO 8601 with offset; default: now"),
    standard: str | None = Query(None, description="Standard id; default: the city's own"),
    resolution: Literal["hour", "day"] = Query("hour"),
) -> dict:
    _aware(start=start, end=end)
    end = end or datetime.now(timezone.utc)
    start = start or end - timedelta(days=7)
    return service.aqi_series(store, settings=settings, station=station, city=city, start=start, end=end,
                              standard=standard, resolution=resolution, scope=principal.scope(Perm.READ))


@router.get("/aqi/latest", summary="Each station's current AQI in a city", **require(Perm.READ))
def get_latest(
    store: StoreDep, settings: SettingsDep, principal: PrincipalDep, city: str = Query(..., examples=["dhaka"]),
    standard: str | None = Query(None),
) -> dict:
    return service.latest(store, settings=settings, city=city, standard=standard, scope=principal.scope(Perm.READ))


@router.get("/who/exceedances", summary="WHO 2021 guideline exceedances per station and period",
            **require(Perm.READ))
def get_who_exceedances(
    store: StoreDep,
    principal: PrincipalDep,
    station: str | None = Query(None),
    city: str | None = Query(None),
    start: datetime | None = Query(None, description="Default: 365 days before end"),
    end: datetime | None = Query(None, description="Default: now"),
    level: str = Query("aqg", description="aqg or an interim target it1..it4"),
    period: Literal["year", "month"] = Query("year"),
) -> dict:
    _aware(start=start, end=end)
    end = end or datetime.now(timezone.utc)
    start = start or end - timedelta(days=365)
    return service.who_exceedances(store, station=station, city=city, start=start, end=end, level=level,
                                   period=period, scope=principal.scope(Perm.READ))
