"""Alert rules as data (no code): what to watch, when it fires, where, and when to keep quiet."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class QuietHours(BaseModel):
    """Local time of the city; notifications are suppressed inside [start, end) (may wrap midnight), the
    episode is still recorded."""

    model_config = ConfigDict(extra="forbid")

    start: str = Field(..., examples=["22:00"], pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field(..., examples=["07:00"], pattern=r"^([01]\d|2[0-3]):[0-5]\d$")


class ForecastWindow(BaseModel):
    """Which forecast hours a ``forecast`` rule looks at: local hours [from_hour, to_hour) of the day
    ``days_ahead`` after the forecast's issue time (1 = tomorrow)."""

    model_config = ConfigDict(extra="forbid")

    days_ahead: int = Field(1, ge=0, le=7)
    from_hour: int = Field(6, ge=0, le=23)
    to_hour: int = Field(12, ge=1, le=24)

    @model_validator(mode="after")
    def _order(self):
        if self.to_hour <= self.from_hour:
            raise ValueError("to_hour must be after from_hour")
        return self


class RuleSpec(BaseModel):
    """A rule. Kinds:

    - ``observation``: an air parameter's hourly mean (``averaging`` 1h) or trailing 8-h / 24-h mean of
      hourly means (needs 6 / 18 hours, EPA's 75 %) compared with ``threshold`` in the canonical unit;
    - ``aqi``: the AQI of ``standard`` (default: the city's) per hour (NowCast / running means, as
      ``/api/v1/aqi``), compared with ``threshold`` or with a ``category`` key (e.g. ``unhealthy``);
    - ``water``: a water-quality parameter's lab results (each sample one step);
    - ``forecast``: forecast rows handed to ``evaluate_forecast`` (see nagar/alerts/README.md).

    ``duration``: consecutive hours (samples for water) the condition must hold before the alert fires;
    ``recovery``: consecutive hours it must be false before the episode ends. ``station`` None = the city
    (any station: the worst station value each hour)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["observation", "aqi", "water", "forecast"]
    parameter: str | None = Field(None, max_length=40, examples=["pm25"])
    averaging: Literal["1h", "8h", "24h"] = "1h"
    standard: str | None = Field(None, max_length=64)
    comparison: Literal["gt", "ge", "lt", "le"] = "gt"
    threshold: float | None = Field(None, allow_inf_nan=False, ge=-1e9, le=1e9)
    category: str | None = Field(None, max_length=40, examples=["unhealthy"])
    duration: int = Field(1, ge=1, le=168)
    recovery: int = Field(1, ge=1, le=168)
    station: str | None = Field(None, max_length=100)
    quiet_hours: QuietHours | None = None
    window: ForecastWindow | None = None

    @model_validator(mode="after")
    def _consistent(self):
        if (self.threshold is None) == (self.category is None):
            raise ValueError("give exactly one of threshold or category")
        if self.category is not None and self.kind not in ("aqi", "forecast"):
            raise ValueError("category applies to aqi and forecast rules only")
        if self.kind in ("observation", "water") and not self.parameter:
            raise ValueError(f"a {self.kind} rule needs a parameter")
        if self.kind == "forecast" and not self.parameter:
            raise ValueError("a forecast rule needs a parameter (the forecast pollutant, e.g. pm25)")
        if self.window is not None and self.kind != "forecast":
            raise ValueError("window applies to forecast rules only")
        return self


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=200, examples=["PM2.5 above 55 for 3 hours"])
    enabled: bool = True
    rule: RuleSpec


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=200)
    url: str = Field(..., min_length=8, max_length=2000, pattern=r"^https?://[^\s]+$",
                     examples=["https://alerts.example.org/nagar"])
    max_attempts: int = Field(6, ge=1, le=20, description="Attempts before the delivery becomes a dead letter")

    @field_validator("url", mode="before")
    @classmethod
    def _http(cls, v):
        """Name the real problem (the scheme) before the length and pattern checks."""
        if isinstance(v, str) and not re.match(r"^https?://", v, re.IGNORECASE):
            scheme = v.split("://", 1)[0] if "://" in v else ""
            raise ValueError("http(s) URL required" + (f", not {scheme}://" if scheme else
                                                       " (e.g. https://alerts.example.org/nagar)"))
        return v
