"""Renewable share of a city's electricity per month and per year. Pure: frames in, frames out.

Definitions (energy in kWh over a period):

- ``local_share = G / C``: renewable electricity generated inside the city (metered generation, e.g.
  rooftop solar ingested as ``generation`` observations) over the city's electricity consumption. It may
  exceed 1 for a net exporter; it is not capped.
- Grid-mix renewables are counted only when a renewable fraction ``f`` of the grid is given (none is
  shipped: national grid mixes change yearly and must come with their own source). The city is taken to
  use its own generation first and to draw the rest, ``max(C - G, 0)``, from the grid:
  ``total_share = min(1, (G + f · max(C - G, 0)) / C)``. Without ``f`` the total share is the local
  share capped at 1, and ``grid_share`` is null.
- A year's share is the ratio of the year's sums, not the mean of monthly ratios.

Consumption per month comes from one basis, never a mix: ``metered`` (``consumption`` observations
summed per month; months without readings have no share) or ``annual_prorated`` (the year's electricity
activity data, i.e. the GPC scope 2 consumption, spread over the months in proportion to their days).
``auto`` takes metered consumption when all twelve months have readings, else the activity data, else
whatever metered months there are.
"""

from __future__ import annotations

import calendar

import polars as pl

SHARE_COLUMNS = ("period", "generation_kwh", "consumption_kwh", "consumption_basis", "local_share", "grid_share",
                 "total_share")


def months_of(year: int) -> list[str]:
    return [f"{year}-{m:02d}" for m in range(1, 13)]


def prorate_annual(year: int, annual_kwh: float) -> pl.DataFrame:
    """``annual_kwh`` spread over the months of ``year`` by days: columns month, kwh."""
    days = [calendar.monthrange(year, m)[1] for m in range(1, 13)]
    total = sum(days)
    return pl.DataFrame({"month": months_of(year), "kwh": [annual_kwh * d / total for d in days]})


def _shares(df: pl.DataFrame, grid_renewable_fraction: float | None) -> pl.DataFrame:
    g, c = pl.col("generation_kwh"), pl.col("consumption_kwh")
    local = pl.when(c > 0).then(g / c).otherwise(None)
    if grid_renewable_fraction is None:
        grid = pl.lit(None, dtype=pl.Float64)
        total = pl.min_horizontal(local, pl.lit(1.0))
    else:
        f = float(grid_renewable_fraction)
        if not 0.0 <= f <= 1.0:
            raise ValueError("grid_renewable_fraction must be between 0 and 1")
        grid = pl.when(c > 0).then(f * pl.max_horizontal(c - g, pl.lit(0.0)) / c).otherwise(None)
        total = pl.min_horizontal(local + grid, pl.lit(1.0))
    total = pl.when(c > 0).then(total).otherwise(None)  # min_horizontal skips nulls: keep them null
    return df.with_columns(local.alias("local_share"), grid.alias("grid_share"), total.alias("total_share"))


def renewable_share(generation: pl.DataFrame, consumption: pl.DataFrame, *, year: int,
                    annual_consumption_kwh: float | None = None, grid_renewable_fraction: float | None = None,
                    basis: str = "auto") -> dict[str, pl.DataFrame]:
    """Monthly and annual renewable share for ``year``.

    Parameters
    ----------
    generation, consumption : polars.DataFrame
        Columns ``month`` (``YYYY-MM``) and ``kwh``: metered sums per month (months may be missing).
    annual_consumption_kwh : float, optional
        The year's consumption from activity data [kWh].
    grid_renewable_fraction : float, optional
        Renewable fraction of grid electricity, 0-1 (see the module docstring).
    basis : {"auto", "metered", "annual_prorated"}
        Where consumption comes from (module docstring).

    Returns
    -------
    dict with ``monthly`` (12 rows) and ``annual`` (1 row), columns :data:`SHARE_COLUMNS`. Months
    without consumption have null shares; the annual row needs consumption in every month.
    """
    if basis not in ("auto", "metered", "annual_prorated"):
        raise ValueError("basis must be auto, metered or annual_prorated")
    months = pl.DataFrame({"period": months_of(year)})
    gen = generation.rename({"month": "period", "kwh": "generation_kwh"}).select("period", "generation_kwh")
    met = consumption.rename({"month": "period", "kwh": "consumption_kwh"}).select("period", "consumption_kwh")
    met = months.join(met, on="period", how="left")
    if basis == "auto":
        if met.get_column("consumption_kwh").null_count() == 0:
            basis = "metered"
        elif annual_consumption_kwh is not None:
            basis = "annual_prorated"
        else:
            basis = "metered"
    if basis == "annual_prorated":
        if annual_consumption_kwh is None:
            raise ValueError("no electricity consumption in the activity data for this year")
        cons = prorate_annual(year, annual_consumption_kwh).rename({"month": "period", "kwh": "consumption_kwh"})
    else:
        cons = met
    df = months.join(gen, on="period", how="left").join(cons, on="period", how="left").with_columns(
        pl.col("generation_kwh").fill_null(0.0),
        pl.when(pl.col("consumption_kwh").is_not_null()).then(pl.lit(basis))
        .otherwise(pl.lit(None, dtype=pl.String)).alias("consumption_basis"))
    monthly = _shares(df, grid_renewable_fraction).select(SHARE_COLUMNS)
    complete = monthly.get_column("consumption_kwh").null_count() == 0
    annual = pl.DataFrame({
        "period": [str(year)],
        "generation_kwh": [float(monthly.get_column("generation_kwh").sum())],
        "consumption_kwh": [float(monthly.get_column("consumption_kwh").sum()) if complete else None],
        "consumption_basis": [basis],
    }, schema={"period": pl.String, "generation_kwh": pl.Float64, "consumption_kwh": pl.Float64,
               "consumption_basis": pl.String})
    annual = _shares(annual, grid_renewable_fraction).select(SHARE_COLUMNS)
    return {"monthly": monthly, "annual": annual}
