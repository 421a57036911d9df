"""Shapes of funds, instruments, candidate projects, plan requests and MRV records, validated at the edge."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from nagar.core.ids import validate_id

from .mrv import METRICS

Currency = str


def _id(v: str) -> str:
    try:
        return validate_id(v)
    except Exception as exc:  # pydantic wants ValueError
        raise ValueError(str(exc)) from None


def _currency(v: str) -> str:
    c = v.upper()
    if len(c) != 3 or not c.isalpha():
        raise ValueError(f"currency must be an ISO 4217 code such as JPY, USD, BDT; got {v!r}")
    return c


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# funds -----------------------------------------------------------------------------------------------
class FundBase(_Strict):
    name: str = Field(..., min_length=1, max_length=200, examples=["Japan-ASEAN urban decarbonisation fund"])
    base_currency: Currency = Field("JPY", description="Currency every plan is computed in (ISO 4217)")
    fx: dict[str, float] = Field(default_factory=dict, examples=[{"USD": 150.0, "BDT": 1.25}],
                                 description="Configured exchange rates: units of the base currency per one unit "
                                             "of each other currency")
    description: str | None = Field(None, max_length=2000)

    @field_validator("base_currency")
    @classmethod
    def _base(cls, v: str) -> str:
        return _currency(v)

    @field_validator("fx")
    @classmethod
    def _fx(cls, v: dict[str, float]) -> dict[str, float]:
        out = {}
        for k, rate in v.items():
            if not (isinstance(rate, (int, float)) and math.isfinite(rate) and 1e-6 <= rate <= 1e6):
                raise ValueError(f"exchange rate for {k} must be a number between 1e-6 and 1e6")
            out[_currency(k)] = float(rate)
        return out


class FundCreate(FundBase):
    id: str = Field(..., examples=["jp-decarb"])

    _v = field_validator("id")(lambda cls, v: _id(v))


class FundRead(FundCreate):
    updated_at: datetime | None = None


# instruments ---------------------------------------------------------------------------------------
class InstrumentBase(_Strict):
    fund_id: str = Field(..., examples=["jp-decarb"])
    name: str = Field(..., min_length=1, max_length=200, examples=["JBIC credit line"])
    kind: Literal["equity", "loan", "grant"]
    currency: Currency = Field(..., examples=["USD"])
    cap: float = Field(..., ge=0, le=1e16, allow_inf_nan=False,
                       description="Most the instrument may commit [its currency]")
    sectors: list[str] | None = Field(None, description="Sectors it may finance; null: every sector",
                                      examples=[["solar_pv", "wind"]])
    interest_rate: float | None = Field(None, ge=0, le=1, allow_inf_nan=False,
                                        description="Loans: annual rate [fraction]")
    tenor_years: int | None = Field(None, ge=1, le=60, description="Loans: years to final repayment")
    grace_years: int | None = Field(None, ge=0, le=30, description="Loans: interest-only years at the start")
    max_share: float = Field(1.0, gt=0, le=1, allow_inf_nan=False,
                             description="Largest share of one project's capital cost it may carry")

    _c = field_validator("currency")(lambda cls, v: _currency(v))

    @model_validator(mode="after")
    def _loan_terms(self):
        if self.kind == "loan":
            if self.interest_rate is None or self.tenor_years is None:
                raise ValueError("a loan needs interest_rate and tenor_years")
            if (self.grace_years or 0) >= self.tenor_years:
                raise ValueError("grace_years must be shorter than tenor_years")
        return self


class InstrumentCreate(InstrumentBase):
    id: str = Field(..., examples=["jbic-credit-line"])

    _v = field_validator("id")(lambda cls, v: _id(v))


class InstrumentRead(InstrumentCreate):
    annual_debt_service_per_unit: float | None = Field(
        None, description="Loans: yearly payment after grace per unit of principal (annuity, CRF(rate, tenor-grace))")
    cap_base: float | None = Field(None, description="Cap in the fund's base currency")
    updated_at: datetime | None = None


# projects --------------------------------------------------------------------------------------------
class ProjectBase(_Strict):
    city: str = Field(..., examples=["dhaka"])
    name: str = Field(..., min_length=1, max_length=300)
    sector: str = Field(..., examples=["solar_pv"])
    capital_cost: float = Field(..., gt=0, le=1e15, allow_inf_nan=False, description="[currency]")
    currency: Currency = Field(..., examples=["USD"])
    annual_saving: float = Field(0.0, ge=-1e15, le=1e15, allow_inf_nan=False,
                                 description="Net yearly saving or revenue [currency/yr]; negative: a net "
                                             "operating cost")
    lifetime_years: float = Field(..., gt=0, le=100, allow_inf_nan=False)
    start_year: int = Field(..., ge=2000, le=2100)
    annual_abatement: float = Field(..., ge=0, le=1e10, allow_inf_nan=False, description="[tCO2e/yr]")
    pm25: float = Field(0.0, ge=0, le=1e9, allow_inf_nan=False, description="PM2.5 avoided [t/yr]")
    water: float = Field(0.0, ge=0, le=1e9, allow_inf_nan=False,
                         description="Water pollutants (BOD etc.) avoided [t/yr]")
    eligible_instruments: list[str] = Field(default_factory=list,
                                            description="Instruments allowed; empty: every instrument covering "
                                                        "the sector")
    requires: list[str] = Field(default_factory=list, description="Projects that must be financed with this one")
    excludes: list[str] = Field(default_factory=list, description="Alternatives: never financed together with this one")
    mrv_metric: str | None = Field(None, description=f"Monitored metric: one of {', '.join(METRICS)}")
    source: str | None = Field(None, max_length=500)

    _c = field_validator("currency")(lambda cls, v: _currency(v))

    @field_validator("sector")
    @classmethod
    def _sector(cls, v: str) -> str:
        if not v.replace("_", "").isalnum() or not v.islower():
            raise ValueError("sector must be lower-case letters, digits and '_' (e.g. solar_pv)")
        return v

    @field_validator("mrv_metric")
    @classmethod
    def _metric(cls, v: str | None) -> str | None:
        if v is not None and v not in METRICS:
            raise ValueError(f"unknown metric {v!r}; known: {', '.join(METRICS)}")
        return v


class ProjectCreate(ProjectBase):
    id: str = Field(..., examples=["dhaka-solar-pv-1"])

    _v = field_validator("id")(lambda cls, v: _id(v))


class ProjectRead(ProjectCreate):
    status: str = "candidate"
    updated_at: datetime | None = None


# plans -----------------------------------------------------------------------------------------------
class PlanRules(_Strict):
    """The rules of a plan. Amounts are in the fund's base currency."""

    budget: float | None = Field(None, ge=0, le=1e18, allow_inf_nan=False,
                                 description="Default: the instruments' caps together")
    cities: list[str] | None = Field(None, description="Only these cities' projects (default: every city)")
    city_floor: float = Field(0.0, ge=0, le=1e18, allow_inf_nan=False,
                              description="Every city with an eligible project receives at least this")
    city_floors: dict[str, float] = Field(default_factory=dict, description="Per-city floors overriding city_floor")
    city_ceiling_share: float | None = Field(None, gt=0, le=1, description="No city more than this share of the budget")
    sector_max_share: dict[str, float] = Field(default_factory=dict,
                                               description="Sector -> largest share of the budget")
    sector_max: dict[str, float] = Field(default_factory=dict, description="Sector -> largest amount")
    min_dscr: float = Field(1.0, gt=0, le=10, description="Loans: annual saving >= min_dscr x annual debt service")
    pm25_weight: float = Field(0.0, ge=0, le=1e6, allow_inf_nan=False,
                               description="tCO2e-equivalent per t PM2.5 avoided")
    water_weight: float = Field(0.0, ge=0, le=1e6, allow_inf_nan=False,
                                description="tCO2e-equivalent per t water pollutants")
    horizon_year: int | None = Field(None, ge=2000, le=2200, description="Count abatement up to this year")
    mip_rel_gap: float = Field(1e-4, ge=0, le=0.5, description="Relative optimality gap at which to stop")
    time_limit: float = Field(60.0, gt=0, le=600, description="Solver time limit [s]")
    rank_by: Literal["cost_per_tonne", "mac"] = Field("cost_per_tonne", description="Greedy comparison's ranking")

    @field_validator("city_floors", "sector_max_share", "sector_max")
    @classmethod
    def _amounts(cls, v: dict[str, float]) -> dict[str, float]:
        for k, x in v.items():
            if not (isinstance(x, (int, float)) and math.isfinite(x) and 0 <= x <= 1e18):
                raise ValueError(f"value for {k!r} must be a number between 0 and 1e18")
        return v


class FrontierPoint(BaseModel):
    """One budget of the efficient frontier. Null amounts mean "no portfolio", never zero abatement."""

    budget: float = Field(..., description="[base currency]")
    status: str = Field(..., description="optimal | feasible (time limit, see gap) | infeasible | no_solution")
    exact_abatement_t: float | None = Field(
        ..., description="Lifetime abatement of the best portfolio [tCO2e]; null when infeasible or no solution")
    exact_objective: float | None = Field(..., description="The MILP objective; null when there is no portfolio")
    greedy_abatement_t: float | None = Field(
        ..., description="The greedy (cost-per-tonne) portfolio's abatement; null when it misses a rule")
    greedy_objective: float | None = None
    greedy_violations: int = Field(0, description="Rules the greedy portfolio misses (usually city floors)")
    committed: float | None = Field(..., description="Money committed by the best portfolio; null without one")
    gap: float | None = Field(None, description="Relative optimality gap of the exact answer")
    seconds: float
    message: str


class FrontierOut(BaseModel):
    fund: str
    base_currency: str
    items: list[FrontierPoint]


class PlanRequest(PlanRules):
    fund: str = Field(..., examples=["jp-decarb"])
    save: bool = Field(True, description="Keep the plan (it can then be adopted)")


class MrvRecord(_Strict):
    year: int = Field(..., ge=2000, le=2100)
    metric: str = Field(..., examples=["generation_kwh"])
    value: float = Field(..., ge=-1e15, le=1e15, allow_inf_nan=False)
    grid_factor: float | None = Field(None, gt=0, le=2, description="tCO2/MWh; default: the country's factor")

    @field_validator("metric")
    @classmethod
    def _metric(cls, v: str) -> str:
        if v not in METRICS:
            raise ValueError(f"unknown metric {v!r}; known: {', '.join(METRICS)}")
        return v


class MrvBatch(_Strict):
    records: list[MrvRecord] = Field(..., min_length=1, max_length=10_000)
