"""Stored fund, instrument and project rows -> the optimiser's inputs (base currency). Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import polars as pl

from nagar.core.errors import InvalidInput

from .finance import debt_service_factor, to_base
from .optimiser import Instrument


def fx_of(fund: Mapping) -> dict[str, float]:
    return {k.upper(): float(v) for k, v in (fund.get("fx") or {}).items()}


def instruments_for(fund: Mapping, rows: Iterable[Mapping]) -> list[Instrument]:
    """Optimiser instruments: caps converted to the fund's base currency, loans' debt service factor
    from rate, tenor and grace (finance.debt_service_factor)."""
    out = []
    for r in rows:
        cap = to_base(r["cap"], r["currency"], base=fund["base_currency"], fx=fx_of(fund))
        dsf = 0.0
        if r["kind"] == "loan":
            dsf = float(debt_service_factor(r.get("interest_rate") or 0.0, r.get("tenor_years") or 0,
                                            r.get("grace_years") or 0))
            if not np.isfinite(dsf):
                raise InvalidInput(f"loan {r['id']!r} needs tenor_years > grace_years", field="tenor_years")
        sectors = r.get("sectors")
        out.append(Instrument(id=r["id"], kind=r["kind"], cap=float(cap),
                              sectors=frozenset(sectors) if sectors else None, debt_service_factor=dsf,
                              max_share=float(r.get("max_share") or 1.0)))
    return out


def projects_frame(fund: Mapping, rows: list[Mapping]) -> pl.DataFrame:
    """Optimiser project frame: capital cost and annual saving converted to the fund's base currency."""
    if not rows:
        from .optimiser import _frame

        return _frame([])
    fx = fx_of(fund)
    base = fund["base_currency"]
    cur = [r["currency"] for r in rows]
    cost = to_base(np.array([float(r["capital_cost"]) for r in rows]), cur, base=base, fx=fx)
    saving = to_base(np.array([float(r.get("annual_saving") or 0.0) for r in rows]), cur, base=base, fx=fx)
    return pl.DataFrame({
        "id": [r["id"] for r in rows], "city": [r["city"] for r in rows], "sector": [r["sector"] for r in rows],
        "cost": np.atleast_1d(cost), "annual_saving": np.atleast_1d(saving),
        "lifetime_years": [float(r["lifetime_years"]) for r in rows],
        "start_year": [int(r.get("start_year") or 0) for r in rows],
        "annual_abatement": [float(r["annual_abatement"]) for r in rows],
        "pm25": [float(r.get("pm25") or 0.0) for r in rows], "water": [float(r.get("water") or 0.0) for r in rows],
        "eligible": [list(r.get("eligible_instruments") or []) for r in rows],
        "requires": [list(r.get("requires") or []) for r in rows],
        "excludes": [list(r.get("excludes") or []) for r in rows],
    }, schema_overrides={"eligible": pl.List(pl.String), "requires": pl.List(pl.String),
                         "excludes": pl.List(pl.String)})
