"""Measurement, reporting and verification (MRV): realised abatement of funded projects from monitored
activity data, against the planned figure. Pure: frames in, frames out.

Each monitored metric converts to tCO2e by a factor per unit (and a sign):

=======================  ============  =====================================================================
metric                   unit          tCO2e per unit
=======================  ============  =====================================================================
generation_kwh           kWh           + grid factor [tCO2/MWh] / 1000 (renewable generation displacing grid)
electricity_saved_kwh    kWh           + grid factor / 1000 (metered savings: LED, retrofits)
electricity_used_kwh     kWh           - grid factor / 1000 (e.g. e-bus charging; netted against diesel)
diesel_avoided_l         l             + 2.68e-3 (IPCC 2006 vol. 2 Table 3.2.1, 74,100 kg/TJ, 43.0 TJ/Gg, 0.84 kg/l)
methane_destroyed_t      t CH4         + 27.0 (IPCC AR6 WG1 Table 7.15, GWP-100 of non-fossil methane)
tco2e                    tCO2e         + 1 (reductions already computed by an approved methodology)
=======================  ============  =====================================================================

E.g. a 10 MW solar plant metering 14,000 MWh in a year on a 0.6 tCO2/MWh grid realised
14,000,000 kWh x 0.6 / 1000 / 1000 = 8,400 tCO2e.

The grid factor is taken per record when the record gives one, else the country's factor passed in.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import polars as pl

from nagar.core.errors import InvalidInput

METRICS: dict[str, dict] = {
    "generation_kwh": {"unit": "kWh", "grid": True, "sign": 1.0, "factor": None},
    "electricity_saved_kwh": {"unit": "kWh", "grid": True, "sign": 1.0, "factor": None},
    "electricity_used_kwh": {"unit": "kWh", "grid": True, "sign": -1.0, "factor": None},
    "diesel_avoided_l": {"unit": "l", "grid": False, "sign": 1.0, "factor": 2.68e-3},
    "methane_destroyed_t": {"unit": "t CH4", "grid": False, "sign": 1.0, "factor": 27.0},
    "tco2e": {"unit": "tCO2e", "grid": False, "sign": 1.0, "factor": 1.0},
}


@lru_cache(maxsize=1)
def grid_factors() -> dict[str, float]:
    """Default grid factor per ISO country code [tCO2/MWh] from ``data/grid_factors.json`` (indicative
    values with their sources; a deployment configures the host country's official factor)."""
    raw = json.loads((Path(__file__).parent / "data" / "grid_factors.json").read_text(encoding="utf-8"))
    return {k: float(v["value"]) for k, v in raw["factors"].items()}


def realised_abatement(records: pl.DataFrame, *, grid_factor: float | None) -> pl.DataFrame:
    """tCO2e realised per record.

    Parameters
    ----------
    records : polars.DataFrame
        Columns ``year``, ``metric``, ``value``; optional ``grid_factor`` [tCO2/MWh] per record.
    grid_factor : float or None
        Default grid factor [tCO2/MWh] for records without their own.

    Returns
    -------
    polars.DataFrame
        The records with ``tco2e`` added.
    """
    unknown = sorted(set(records["metric"].to_list()) - set(METRICS))
    if unknown:
        raise InvalidInput(f"unknown MRV metric(s) {', '.join(unknown)}; known: {', '.join(METRICS)}", field="metric")
    if "grid_factor" not in records.columns:
        records = records.with_columns(pl.lit(None, dtype=pl.Float64).alias("grid_factor"))
    ef = pl.col("grid_factor") if grid_factor is None else pl.col("grid_factor").fill_null(float(grid_factor))
    grid = pl.col("metric").is_in([k for k, m in METRICS.items() if m["grid"]])
    needs = records.filter(grid & pl.col("grid_factor").is_null())
    if grid_factor is None and needs.height:
        raise InvalidInput("no grid emission factor for this project's country; give grid_factor with each record",
                           field="grid_factor")
    factor = pl.col("metric").replace_strict({k: (m["factor"] or 0.0) for k, m in METRICS.items()},
                                             return_dtype=pl.Float64)
    sign = pl.col("metric").replace_strict({k: m["sign"] for k, m in METRICS.items()}, return_dtype=pl.Float64)
    per_unit = pl.when(grid).then(ef / 1000.0).otherwise(factor)
    return records.with_columns((sign * pl.col("value") * per_unit).alias("tco2e"))


def against_plan(records: pl.DataFrame, *, planned_annual: float, start_year: int, grid_factor: float | None,
                 years: list[int] | None = None) -> pl.DataFrame:
    """Per year: planned and realised tCO2e and their ratio (realised / planned).

    Planned abatement is ``planned_annual`` from ``start_year`` on (0 before). ``years`` defaults to the
    years with records. Returns columns year, planned_t, realised_t, ratio, metrics (reported metric names).
    """
    if records.height == 0 and not years:
        return pl.DataFrame(schema={"year": pl.Int64, "planned_t": pl.Float64, "realised_t": pl.Float64,
                                    "ratio": pl.Float64, "metrics": pl.List(pl.String)})
    done = realised_abatement(records, grid_factor=grid_factor) if records.height else None
    per_year = (done.group_by("year").agg(pl.col("tco2e").sum().alias("realised_t"),
                                          pl.col("metric").unique().sort().alias("metrics"))
                if done is not None else pl.DataFrame(schema={"year": pl.Int64, "realised_t": pl.Float64,
                                                              "metrics": pl.List(pl.String)}))
    ys = sorted(set(years or []) | set(per_year["year"].to_list()))
    frame = pl.DataFrame({"year": ys}, schema={"year": pl.Int64})
    out = frame.join(per_year.with_columns(pl.col("year").cast(pl.Int64)), on="year", how="left").with_columns(
        pl.when(pl.col("year") >= start_year).then(pl.lit(float(planned_annual))).otherwise(0.0).alias("planned_t"),
        pl.col("realised_t").fill_null(0.0),
        pl.col("metrics").fill_null([]),
    )
    return out.with_columns(
        pl.when(pl.col("planned_t") > 0).then(pl.col("realised_t") / pl.col("planned_t")).otherwise(None)
        .alias("ratio")).select("year", "planned_t", "realised_t", "ratio", "metrics").sort("year")
