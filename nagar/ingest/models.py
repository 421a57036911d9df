"""Shapes of ingest requests and reports."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ObservationIn(BaseModel):
    """One observation as sent by a client (documentation of the batch row; rows are validated in bulk)."""

    station: str = Field(..., examples=["dhaka-agargaon"])
    parameter: str = Field(..., examples=["pm25"])
    time: str = Field(..., description="ISO 8601 with a UTC offset", examples=["2025-01-01T06:00:00Z"])
    value: float = Field(..., examples=[87.3])
    unit: str = Field(..., examples=["µg/m³"])
    flag: str | None = Field("valid", examples=["valid"])


class ObservationBatch(BaseModel):
    observations: list[dict[str, Any]] = Field(
        ..., description="Rows shaped like ObservationIn; each is checked on its own."
    )


class RejectedRow(BaseModel):
    index: int = Field(..., description="Row index in the batch (0-based) or the file line/row")
    field: str
    reason: str


class IngestResult(BaseModel):
    received: int
    inserted: int
    updated: int
    rejected: int
    errors: list[RejectedRow] = Field(default_factory=list)
    stations_created: list[str] = Field(default_factory=list)
