"""Request and answer shapes of the data-quality API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

_ID = r"^[a-z0-9][a-z0-9._-]*$"


class ScanIn(BaseModel):
    """A batch examination of a city's readings in [start, end) (default: everything stored)."""

    model_config = ConfigDict(extra="forbid")
    start: datetime | None = Field(None, description="ISO 8601 with a UTC offset")
    end: datetime | None = Field(None, description="ISO 8601 with a UTC offset")
    stations: list[str] | None = Field(None, max_length=500, description="Only these stations (default: all)")


class ScanOut(BaseModel):
    city: str
    start: datetime | None = None
    end: datetime | None = None
    readings: int = Field(description="Readings examined in the period")
    faults: int = Field(description="Faults found (readings × kinds), overridden readings left out")
    new_faults: int = Field(description="Faults not recorded before")
    notices: int = Field(description="Of the faults, notices (e.g. a reading off the station's clock): recorded, "
                                     "the reading's flag left alone, so it still counts in means and the AQI")
    flagged: int = Field(description="Readings whose flag was raised to suspect or invalid")
    skipped_overridden: int
    by_kind: dict[str, int]
    seconds: float


class OverrideIn(BaseModel):
    """An operator's verdict that one reading is valid after all."""

    model_config = ConfigDict(extra="forbid")
    station: str = Field(min_length=1, max_length=64, pattern=_ID)
    parameter: str = Field(min_length=1, max_length=32, pattern=r"^[a-z0-9]+$")
    time: datetime = Field(description="The reading's time, ISO 8601 with a UTC offset")
    reason: str = Field(min_length=1, max_length=500)


class OverrideOut(BaseModel):
    station: str
    parameter: str
    time: datetime
    value: float
    previous_flag: str
    flag: str
    reason: str
    actor: str
    created_at: datetime
