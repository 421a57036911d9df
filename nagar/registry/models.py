"""Shapes of cities and stations (Create/Read), validated at the edge."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nagar.core.ids import validate_id
from nagar.core.units import normalise_parameter


def _countries() -> frozenset[str]:
    from babel import Locale

    not_countries = {"ZZ", "QO", "EU", "EZ", "UN", "XA", "XB"}  # unknown, outlying, unions, pseudo-locales
    return frozenset(k for k in Locale("en").territories if len(k) == 2 and k.isalpha()) - not_countries


_COUNTRIES = _countries()
"""ISO 3166-1 alpha-2 codes (from the CLDR territory list shipped with Babel)."""


class CityBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=200, examples=["Dhaka"])
    country: str = Field(..., min_length=2, max_length=2, description="ISO 3166-1 alpha-2", examples=["BD"])
    timezone: str = Field(..., description="IANA time zone", examples=["Asia/Dhaka"])
    lat: float = Field(..., ge=-90, le=90, strict=True, allow_inf_nan=False, description="Centre latitude [degrees]")
    lon: float = Field(..., ge=-180, le=180, strict=True, allow_inf_nan=False, description="Centre longitude [degrees]")
    standard: str | None = Field(None, description="AQI standard the city reports to", examples=["bd-doe"])
    open_data: bool = Field(False, description="Published as open data: anyone may read its stations, "
                                               "observations and indices without signing in")

    @field_validator("country")
    @classmethod
    def _country(cls, v: str) -> str:
        code = v.upper()
        if code not in _COUNTRIES:
            raise ValueError(f"unknown country code {v!r}: use ISO 3166-1 alpha-2, e.g. BD, JP, TH")
        return code

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {v!r}") from None
        return v


class CityCreate(CityBase):
    id: str = Field(..., examples=["dhaka"])

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        try:
            return validate_id(v)
        except Exception as exc:  # pydantic wants ValueError
            raise ValueError(str(exc)) from None


class CityRead(CityCreate):
    pass


class StationBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    city: str = Field(..., examples=["dhaka"])
    name: str = Field(..., min_length=1, max_length=200, examples=["Agargaon"])
    lat: float = Field(..., ge=-90, le=90, strict=True, allow_inf_nan=False, description="[degrees]")
    lon: float = Field(..., ge=-180, le=180, strict=True, allow_inf_nan=False, description="[degrees]")
    parameters: list[str] = Field(default_factory=list, examples=[["pm25", "pm10"]])
    source: str | None = Field(None, description="Where the station's metadata came from")

    @field_validator("parameters")
    @classmethod
    def _params(cls, v: list[str]) -> list[str]:
        out = []
        for p in v:
            k = normalise_parameter(p)
            if k is None:
                raise ValueError(f"unknown parameter {p!r}")
            out.append(k)
        return sorted(set(out))


class StationCreate(StationBase):
    id: str = Field(..., examples=["dhaka-agargaon"])

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        try:
            return validate_id(v)
        except Exception as exc:
            raise ValueError(str(exc)) from None


class StationRead(StationCreate):
    pass
