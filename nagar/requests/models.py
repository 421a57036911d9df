"""Shapes of the operator API's bodies (the Open311 API takes form fields, see views.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["new", "acknowledged", "in_progress", "resolved", "rejected", "duplicate"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RequestUpdate(_Strict):
    status: Status | None = Field(None, description="New workflow status (see nagar.requests.service.TRANSITIONS)")
    department: str | None = Field(None, max_length=40, examples=["waste"],
                                   description="Assign to a department (a key of services.json's departments)")
    note: str | None = Field(None, max_length=4000, description="A note on the request")
    public: bool = Field(False, description="Publish the note as the Open311 status_notes")
    duplicate_of: int | None = Field(None, ge=1, description="With status duplicate: the original request")


class ServiceSetting(_Strict):
    city: str = Field(..., max_length=64, examples=["dhaka"])
    enabled: bool = True
    department: str | None = Field(None, max_length=40, examples=["waste"])
    sla_hours: float | None = Field(None, gt=0, le=24 * 365, description="Service-level target [h]")


class Open311KeyIn(_Strict):
    city: str = Field(..., max_length=64, examples=["dhaka"])
    name: str = Field(..., min_length=1, max_length=200, examples=["Dhaka citizen app"],
                      description="The client app this key is for")
