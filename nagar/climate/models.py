"""Request and response shapes of the climate API."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

CityId = Field(..., min_length=1, max_length=100, examples=["dhaka"])
Rate = Annotated[float, Field(ge=-0.99, le=1.0, allow_inf_nan=False)]
"""An annual rate of change as a fraction (-0.99 to +1.0)."""
MAX_QUANTITY = 1e15


class ActivityIn(BaseModel):
    """One activity row (see :mod:`nagar.climate.inventory` for kinds, items, units and params)."""

    model_config = ConfigDict(extra="forbid")

    year: int = Field(..., ge=1900, le=2100)
    kind: Literal["fuel", "electricity", "waste", "wastewater", "notation"]
    sector: str = Field("", max_length=40, description="GPC sub-sector code or name (residential, on_road, ...); "
                        "for waste it follows from the treatment; for a notation key, the GPC reference (I.7.1)")
    item: str = Field("", max_length=40, description="fuel, waste treatment, wastewater pathway or notation key")
    location: Literal["in", "out", "from_outside", "grid_supply", "td_losses"] = "in"
    quantity: float | None = Field(None, ge=0, le=MAX_QUANTITY, allow_inf_nan=False)
    unit: str | None = Field(None, max_length=20)
    params: dict = Field(default_factory=dict)
    source: str | None = Field(None, max_length=1000, description="where the figure comes from")
    note: str | None = Field(None, max_length=1000)


class ActivityBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    city: str = CityId
    rows: list[ActivityIn] = Field(..., min_length=1, max_length=5000)


class ActivityWritten(BaseModel):
    city: str
    inserted: int
    updated: int


class FactorIn(BaseModel):
    """A city's own emission factor; ``source`` is required."""

    model_config = ConfigDict(extra="forbid")

    city: str = CityId
    kind: Literal["grid", "combustion", "ncv"]
    item: str = Field("", max_length=40, description="fuel key (combustion, ncv) or grid region (grid, optional)")
    sector: str = Field("", max_length=40, description="combustion only: GPC sub-sector it applies to (empty: all)")
    gas: str = Field("", max_length=10, description="grid: co2 or co2e; combustion: co2, ch4 or n2o")
    value: float = Field(..., ge=0, le=1e9, allow_inf_nan=False)
    unit: str | None = Field(None, max_length=20, description="grid t/MWh (or kg/kWh), combustion kg/TJ, ncv TJ/Gg")
    year: int = Field(..., ge=1900, le=2100, description="year the factor applies to")
    source: str = Field(..., min_length=3, max_length=1000)
    note: str | None = Field(None, max_length=1000)


class InventoryRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    city: str = CityId
    year: int | None = Field(None, ge=1900, le=2100)
    gwp: Literal["ar5", "ar6", "ar4"] = "ar5"
    grid_region: str | None = Field(None, max_length=40)


class ProjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=80)
    start_year: int = Field(..., ge=1990, le=2100)
    annual_abatement_t: float = Field(..., ge=0, le=MAX_QUANTITY, allow_inf_nan=False,
                                      description="t CO2e abated per year")
    lifetime: int = Field(..., ge=1, le=100, description="years")


GrowthRate = Rate | dict[int, Rate]


class DriversIn(BaseModel):
    """A city's drivers of its business-as-usual projection (see :mod:`nagar.climate.pathways`), used by
    every pathway request of that city that does not give its own."""

    model_config = ConfigDict(extra="forbid")

    city: str = CityId
    population_growth: GrowthRate = Field(0.0, description="fraction per year, or {year: rate}")
    gdp_growth: GrowthRate = Field(0.0, description="fraction per year, or {year: rate}")
    intensity_change: GrowthRate = Field(0.0, description="annual change of emissions per unit of GDP")
    grid_change: GrowthRate = Field(0.0, description="annual change of the grid emission factor")
    source: str = Field(..., min_length=3, max_length=1000, description="where the rates come from")
    note: str | None = Field(None, max_length=1000)


class PathwayIn(BaseModel):
    """Drivers of the BAU projection and the project portfolio (see :mod:`nagar.climate.pathways`)."""

    model_config = ConfigDict(extra="forbid")

    city: str = CityId
    base_year: int | None = Field(None, ge=1990, le=2100, description="default: the latest inventory year")
    end_year: int = Field(2050, ge=1991, le=2100)
    gwp: Literal["ar5", "ar6", "ar4"] = "ar5"
    population_growth: GrowthRate | None = Field(
        None, description="fraction per year, or {year: rate}; default: the city's stored drivers, else 0")
    gdp_growth: GrowthRate | None = Field(None, description="default: the city's stored drivers, else 0")
    intensity_change: GrowthRate | None = Field(
        None, description="annual change of emissions per unit of GDP; default: the city's stored drivers, else 0")
    grid_change: GrowthRate | None = Field(
        None, description="annual change of the grid emission factor; default: the city's stored drivers, else 0")
    grid_factors: dict[int, Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)]] | None = Field(
        None, description="grid factor [t/MWh] by year; overrides grid_change")
    base: dict[str, Annotated[float, Field(ge=0, le=MAX_QUANTITY, allow_inf_nan=False)]] | None = Field(
        None, description="base-year t CO2e by category (stationary, electricity, transport, waste, other); "
                          "default: from the city's inventory")
    projects: list[ProjectIn] = Field(default_factory=list, max_length=500)
