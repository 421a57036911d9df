"""Request shapes of the e-waste API, validated at the edge."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nagar.core.ids import validate_id

MAX_KG = 1e12
Role = Literal["collector", "transporter", "recycler"]


def _id(v: str) -> str:
    try:
        return validate_id(v)
    except Exception as exc:  # pydantic wants ValueError
        raise ValueError(str(exc)) from None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PomRow(_Strict):
    """Put on market in one year for one UNU-KEY: ``kg``, or ``units`` (times ``avg_weight_kg``, default
    the key's shipped average weight)."""

    year: int = Field(..., ge=1950, le=2100)
    unu_key: str = Field(..., pattern=r"^\d{4}$", examples=["0306"])
    kg: float | None = Field(None, ge=0, le=MAX_KG, allow_inf_nan=False)
    units: float | None = Field(None, ge=0, le=MAX_KG, allow_inf_nan=False)
    avg_weight_kg: float | None = Field(None, gt=0, le=1e5, allow_inf_nan=False)
    source: str | None = Field(None, max_length=500)


class PomBatch(_Strict):
    rows: list[PomRow] = Field(..., min_length=1, max_length=10_000)


class PopulationRow(_Strict):
    year: int = Field(..., ge=1950, le=2100)
    inhabitants: float = Field(..., gt=0, le=1e10, allow_inf_nan=False)
    source: str | None = Field(None, max_length=500)


class PopulationBatch(_Strict):
    rows: list[PopulationRow] = Field(..., min_length=1, max_length=500)


class TargetRow(_Strict):
    year: int = Field(..., ge=2000, le=2100)
    category: int = Field(..., ge=0, le=6, description="EEE category 1-6; 0 for all categories together")
    rate: float = Field(..., ge=0, le=1, allow_inf_nan=False, description="Collection-rate target [fraction]")


class TargetBatch(_Strict):
    rows: list[TargetRow] = Field(..., min_length=1, max_length=500)


class SettingsIn(_Strict):
    loss_tolerance: float = Field(..., ge=0, le=1, allow_inf_nan=False,
                                  description="Losses above this fraction of the mass sent are flagged")


class PointIn(_Strict):
    id: str = Field(..., examples=["dhaka-ewaste-gulshan"])
    name: str = Field(..., min_length=1, max_length=200)
    lat: float = Field(..., ge=-90, le=90, allow_inf_nan=False)
    lon: float = Field(..., ge=-180, le=180, allow_inf_nan=False)
    address: str | None = Field(None, max_length=500)

    _v = field_validator("id")(lambda cls, v: _id(v))


class HandlerIn(_Strict):
    id: str = Field(..., examples=["dhaka-recycler-1"])
    name: str = Field(..., min_length=1, max_length=200)
    role: Role
    licence_no: str | None = Field(None, min_length=1, max_length=100)
    licence_expires: date | None = None

    _v = field_validator("id")(lambda cls, v: _id(v))


class EventItem(_Strict):
    category: int = Field(..., ge=1, le=6, description="EEE category 1-6")
    kg: float = Field(..., gt=0, le=1e9, allow_inf_nan=False, description="Weighed mass [kg]")


class EventIn(_Strict):
    point_id: str = Field(..., min_length=1, max_length=100)
    collector_id: str = Field(..., min_length=1, max_length=100)
    day: date
    items: list[EventItem] = Field(..., min_length=1, max_length=6)
    note: str | None = Field(None, max_length=1000)


class TransferIn(_Strict):
    batch_id: int = Field(..., ge=1, le=2**62)
    from_handler: str = Field(..., min_length=1, max_length=100)
    to_handler: str = Field(..., min_length=1, max_length=100)
    day: date
    kg: float = Field(..., gt=0, le=1e9, allow_inf_nan=False, description="Mass sent [kg]")
    kg_received: float | None = Field(None, ge=0, le=1e9, allow_inf_nan=False,
                                      description="Mass weighed on arrival [kg] (default: as sent)")
    note: str | None = Field(None, max_length=1000)


class ProcessIn(_Strict):
    batch_id: int = Field(..., ge=1, le=2**62)
    recycler_id: str = Field(..., min_length=1, max_length=100)
    day: date
    input_kg: float = Field(..., gt=0, le=1e9, allow_inf_nan=False)
    materials: dict[str, float] = Field(default_factory=dict, examples=[{"copper": 3.2, "plastics": 10.5}],
                                        description="Material recovered -> kg")
    residues_kg: float = Field(0.0, ge=0, le=1e9, allow_inf_nan=False)

    @field_validator("materials")
    @classmethod
    def _materials(cls, v: dict[str, float]) -> dict[str, float]:
        if len(v) > 50:
            raise ValueError("at most 50 materials")
        for k, x in v.items():
            if not (0 < len(k) <= 60):
                raise ValueError("material names have 1 to 60 characters")
            if not (isinstance(x, (int, float)) and x == x and 0 <= x <= 1e9):
                raise ValueError(f"mass of {k!r} must be a number between 0 and 1e9 kg")
        return v
