"""Request and response shapes of the water-quality API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class WaterStationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(..., min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    name: str | None = Field(None, max_length=200)
    water_body: str = Field("", max_length=200, description="River, canal or lake, e.g. Buriganga")
    lat: float | None = Field(None, ge=-90, le=90, allow_inf_nan=False)
    lon: float | None = Field(None, ge=-180, le=180, allow_inf_nan=False)
    source: str | None = Field(None, max_length=1000)


class WaterStationsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stations: list[WaterStationIn] = Field(..., min_length=1, max_length=1000)


class SampleIn(BaseModel):
    """One lab result; ``unit`` is converted to the parameter's canonical unit (see /water/parameters)."""

    model_config = ConfigDict(extra="forbid")

    station: str = Field(..., min_length=1, max_length=100)
    parameter: str = Field(..., min_length=1, max_length=40, examples=["do"])
    time: str = Field(..., min_length=10, max_length=40, description="ISO 8601 with a UTC offset, or a date",
                      examples=["2024-03-05T10:00:00+06:00"])
    value: float = Field(..., allow_inf_nan=False)
    unit: str | None = Field(None, max_length=20, examples=["mg/L"])
    qualifier: Literal["", "<"] = Field("", description="'<' for a result below the detection limit")
    source: str | None = Field(None, max_length=500)


class SamplesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    samples: list[SampleIn] = Field(..., min_length=1, max_length=10000,
                                    description="The body may also be the bare list, as for /observations")

    @model_validator(mode="before")
    @classmethod
    def _bare_list(cls, data):
        """Accept ``[{...}, ...]`` as ``{"samples": [...]}``; name the expected shape for anything else."""
        if isinstance(data, list):
            return {"samples": data}
        if not isinstance(data, dict):
            raise ValueError('expected {"samples": [...]} or a JSON list of samples')
        return data


class SamplesWritten(BaseModel):
    city: str
    received: int
    inserted: int
    updated: int


class StationsWritten(BaseModel):
    city: str
    inserted: int
    updated: int


class ObjectiveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lower: float | None = Field(None, ge=0, allow_inf_nan=False)
    upper: float | None = Field(None, ge=0, allow_inf_nan=False)
    unit: str | None = Field(None, max_length=20)
    detection_limit: float | None = Field(None, gt=0, allow_inf_nan=False)
    verified: bool | None = None
    note: str | None = Field(None, max_length=500)


class ObjectiveSetIn(BaseModel):
    """A city's own objective set (JSON); ``csv`` may replace ``objectives`` (header
    parameter,lower,upper,unit)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(..., min_length=2, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]{1,63}$")
    name: str = Field(..., min_length=1, max_length=200)
    use: Literal["drinking", "fisheries", "irrigation", "industrial_discharge", "recreation", "other"]
    source: str = Field(..., min_length=3, max_length=1000)
    edition: str | None = Field(None, max_length=500)
    notes: str | None = Field(None, max_length=2000)
    objectives: dict[str, ObjectiveIn] | None = Field(None, max_length=50)
    csv: str | None = Field(None, max_length=20000)
