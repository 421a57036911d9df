"""Emission pathways to 2041 and 2050: business-as-usual from drivers, and a portfolio of projects'
abatement phased in by start year. Pure: numbers in, frames out.

BAU (a Kaya-style decomposition of the base-year inventory, BASIC boundary, t CO2e):

- population index ``P(y) = Π_{t=base+1..y} (1 + p_t)``, GDP index ``G(y)`` likewise from GDP growth,
  emission-intensity index ``I(y)`` from the annual change of emissions per unit of GDP (e.g. -0.01 for a
  1 %/yr efficiency gain), grid index ``R(y)`` = grid emission factor relative to the base year, either
  from an annual change rate or from factors given for some years (linear in between, flat outside);
- ``stationary``, ``transport`` and ``other`` emissions scale with ``G · I``; ``electricity`` (scope 2)
  with ``G · I · R``; ``waste`` with ``P`` (waste per person held constant; the landfill decay lag is
  not modelled here).

Portfolio: a project abates ``annual_abatement_t`` in every year ``start_year <= y < start_year +
lifetime``. The pathway is ``max(BAU - abatement, 0)``; abatement beyond BAU is reported as
``unused_abatement_t``.
"""

from __future__ import annotations

import numpy as np
import polars as pl

CATEGORIES = ("stationary", "electricity", "transport", "waste", "other")
MILESTONES = (2030, 2041, 2050)


def _rates(rate, years: np.ndarray) -> np.ndarray:
    """Annual rates for ``years``: a scalar, or {year: rate} holding each rate until the next given year."""
    if isinstance(rate, dict):
        given = sorted((int(y), float(r)) for y, r in rate.items())
        if not given:
            return np.zeros(len(years))
        out = np.zeros(len(years))
        for i, y in enumerate(years):
            prior = [r for gy, r in given if gy <= y]
            out[i] = prior[-1] if prior else given[0][1]
        return out
    return np.full(len(years), float(rate))


def growth_index(rate, *, base_year: int, end_year: int) -> np.ndarray:
    """Index (1 in the base year) compounding the annual rate of each following year."""
    years = np.arange(base_year, end_year + 1)
    r = _rates(rate, years)
    r[0] = 0.0
    return np.cumprod(1.0 + r)


def grid_index(*, base_year: int, end_year: int, change=0.0, factors: dict | None = None) -> np.ndarray:
    """Grid emission factor relative to the base year, from ``factors`` {year: t/MWh} (interpolated) or
    from an annual ``change`` rate."""
    years = np.arange(base_year, end_year + 1)
    if factors:
        items = sorted((int(y), float(v)) for y, v in factors.items())
        ys = np.array([y for y, _ in items], dtype=float)
        vs = np.array([v for _, v in items])
        curve = np.interp(years, ys, vs)
        base = np.interp(base_year, ys, vs)
        if base <= 0:
            raise ValueError("the grid factor in the base year must be positive")
        return curve / base
    return growth_index(change, base_year=base_year, end_year=end_year)


def bau_projection(base: dict[str, float], *, base_year: int, end_year: int = 2050, population_growth=0.0,
                   gdp_growth=0.0, intensity_change=0.0, grid_change=0.0, grid_factors: dict | None = None
                   ) -> pl.DataFrame:
    """Business-as-usual emissions by category and in total, ``base_year``..``end_year`` [t CO2e].

    ``base`` maps categories (:data:`CATEGORIES`) to base-year emissions; rates are fractions per year
    (scalars or {year: rate})."""
    unknown = set(base) - set(CATEGORIES)
    if unknown:
        raise ValueError(f"unknown categories {sorted(unknown)}; use {', '.join(CATEGORIES)}")
    if end_year <= base_year:
        raise ValueError("end_year must be after base_year")
    years = np.arange(base_year, end_year + 1)
    pop = growth_index(population_growth, base_year=base_year, end_year=end_year)
    econ = growth_index(gdp_growth, base_year=base_year, end_year=end_year) * \
        growth_index(intensity_change, base_year=base_year, end_year=end_year)
    grid = grid_index(base_year=base_year, end_year=end_year, change=grid_change, factors=grid_factors)
    driver = {"stationary": econ, "transport": econ, "other": econ, "electricity": econ * grid, "waste": pop}
    cols = {"year": years}
    for c in CATEGORIES:
        cols[c] = float(base.get(c, 0.0)) * driver[c]
    df = pl.DataFrame(cols)
    return df.with_columns(pl.sum_horizontal(*CATEGORIES).alias("bau_t"),
                           pl.Series("population_index", pop), pl.Series("gdp_intensity_index", econ),
                           pl.Series("grid_index", grid))


def portfolio_abatement(years, projects: list[dict]) -> pl.DataFrame:
    """Abatement per project and year [t CO2e]: full ``annual_abatement_t`` from ``start_year`` for
    ``lifetime`` years. Columns: year, one per project (its ``name`` or ``project_<n>``), total."""
    years = np.asarray(years, dtype=int)
    cols: dict = {"year": years}
    total = np.zeros(len(years))
    for i, p in enumerate(projects):
        start, life, amount = int(p["start_year"]), int(p["lifetime"]), float(p["annual_abatement_t"])
        if life <= 0 or amount < 0:
            raise ValueError("a project needs lifetime > 0 and annual_abatement_t >= 0")
        name = str(p.get("name") or f"project_{i + 1}")
        if name in cols:
            name = f"{name}_{i + 1}"
        a = np.where((years >= start) & (years < start + life), amount, 0.0)
        cols[name] = a
        total += a
    cols["abatement_t"] = total
    return pl.DataFrame(cols)


def portfolio_pathway(bau: pl.DataFrame, projects: list[dict]) -> pl.DataFrame:
    """BAU, abatement and the resulting pathway per year (see the module docstring)."""
    ab = portfolio_abatement(bau.get_column("year").to_numpy(), projects)
    df = bau.select("year", "bau_t").join(ab, on="year")
    return df.with_columns(
        pl.max_horizontal(pl.col("bau_t") - pl.col("abatement_t"), pl.lit(0.0)).alias("pathway_t"),
        pl.max_horizontal(pl.col("abatement_t") - pl.col("bau_t"), pl.lit(0.0)).alias("unused_abatement_t"),
    )


def milestones(df: pl.DataFrame, columns=("bau_t", "abatement_t", "pathway_t")) -> list[dict]:
    """Rows of ``df`` for 2030, 2041 and 2050 (those within its years)."""
    keep = [c for c in ("year", *columns) if c in df.columns]
    return df.filter(pl.col("year").is_in(list(MILESTONES))).select(keep).to_dicts()


def chart_data(df: pl.DataFrame, series: list[str]) -> dict:
    """Chart-ready data: ``{"labels": [years], "series": [{"name", "values"}]}`` (Chart.js shape)."""
    return {"labels": df.get_column("year").to_list(),
            "series": [{"name": s, "values": [round(float(v), 3) for v in df.get_column(s).to_list()]}
                       for s in series if s in df.columns]}
