"""Loan arithmetic and money conversion for the fund: annuity (level) debt service, grace periods,
levelised abatement cost, exchange rates. Pure functions, vectorised over NumPy arrays.

Debt service of a loan of principal ``P`` at annual interest rate ``r`` over a tenor of ``n`` years of
which the first ``g`` are a grace period (interest only) is

- during grace (years 1..g): ``P · r`` per year;
- after grace (years g+1..n): the level annuity that repays ``P`` over the remaining ``m = n - g`` years,
  ``A = P · CRF(r, m)`` with the capital recovery factor [1]_ (eq. 4-9 of the NREL manual)

  .. math:: CRF(r, m) = \\frac{r (1 + r)^m}{(1 + r)^m - 1}, \\qquad CRF(0, m) = 1 / m.

Since ``CRF(r, m) >= r`` the annuity is the largest yearly payment, so it is what the project's savings
must cover (``annual_debt_service``). Payments are yearly, in arrears.

Worked value (checked in tests/funding/test_finance.py): ``P = 1,000,000``, ``r = 5 %``, ``m = 10``:
``1.05^10 = 1.6288946``, ``CRF = 0.05 · 1.6288946 / 0.6288946 = 0.1295046``, so ``A = 129,504.57`` a year.

References
----------
.. [1] W. Short, D. J. Packey and T. Holt, "A Manual for the Economic Evaluation of Energy Efficiency and
   Renewable Energy Technologies", NREL/TP-462-5173, National Renewable Energy Laboratory, Golden CO,
   March 1995, section 4 ("capital recovery factor"), https://www.nrel.gov/docs/legosti/old/5173.pdf.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from nagar.core.errors import InvalidInput

__all__ = ["capital_recovery_factor", "annual_debt_service", "debt_service_schedule", "debt_service_factor",
           "levelised_cost_per_tonne", "to_base", "FxRates"]


def capital_recovery_factor(rate, years):
    """Level yearly payment per unit of principal repaid over ``years`` at ``rate``.

    Parameters
    ----------
    rate : float or array
        Annual interest rate [fraction, e.g. 0.05].
    years : float or array
        Repayment period [years], > 0.

    Returns
    -------
    float or array
        CRF [1/year]; ``1/years`` where ``rate == 0``; NaN where ``years <= 0`` or ``rate <= -1``.
    """
    r = np.asarray(rate, dtype=float)
    m = np.asarray(years, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        growth = np.power(1.0 + r, m)
        crf = np.where(np.abs(r) < 1e-12, 1.0 / m, r * growth / (growth - 1.0))
        crf = np.where((m > 0) & (r > -1), crf, np.nan)
    return crf.item() if crf.ndim == 0 else crf


def debt_service_factor(rate, tenor_years, grace_years=0):
    """Largest yearly debt service per unit of principal: ``CRF(rate, tenor - grace)`` (after grace the
    annuity exceeds the interest-only grace payments). NaN when ``grace >= tenor``."""
    n = np.asarray(tenor_years, dtype=float)
    g = np.asarray(grace_years, dtype=float)
    m = np.where(g < n, n - g, np.nan)
    return capital_recovery_factor(rate, m)


def annual_debt_service(principal, rate, tenor_years, grace_years=0):
    """Yearly payment after the grace period [currency/year] of a loan repaid by level annuity.

    ``principal · CRF(rate, tenor - grace)``; see the module docstring for the formula and a worked value.
    """
    out = np.asarray(principal, dtype=float) * debt_service_factor(rate, tenor_years, grace_years)
    return out.item() if np.ndim(out) == 0 else out


def debt_service_schedule(principal: float, rate: float, tenor_years: int, grace_years: int = 0) -> dict:
    """Year-by-year schedule: payment, interest, principal repaid and balance after each year.

    Returns a dict of NumPy arrays ``year`` (1..tenor), ``payment``, ``interest``, ``repaid``, ``balance``.
    The balance after the last year is zero (to rounding).
    """
    if tenor_years <= 0 or grace_years < 0 or grace_years >= tenor_years:
        raise InvalidInput("a loan needs tenor > grace >= 0 years", field="tenor_years")
    a = annual_debt_service(principal, rate, tenor_years, grace_years)
    years = np.arange(1, tenor_years + 1)
    payment, interest, repaid, balance = (np.zeros(tenor_years) for _ in range(4))
    b = float(principal)
    for k in range(tenor_years):
        interest[k] = b * rate
        payment[k] = interest[k] if k < grace_years else a
        repaid[k] = payment[k] - interest[k]
        b -= repaid[k]
        balance[k] = b
    return {"year": years, "payment": payment, "interest": interest, "repaid": repaid, "balance": balance}


def levelised_cost_per_tonne(capital_cost, annual_saving, lifetime_years, annual_abatement, discount_rate=0.06):
    """Marginal abatement cost as plotted on a MAC curve [currency per tCO2e]:

    ``(capital_cost · CRF(discount_rate, lifetime) - annual_saving) / annual_abatement``

    Negative where the project's savings more than repay its annualised capital (the "negative-cost"
    measures at the left of a MAC curve, e.g. LED lighting). NaN where abatement <= 0.
    """
    crf = capital_recovery_factor(discount_rate, lifetime_years)
    a = np.asarray(annual_abatement, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (np.asarray(capital_cost, dtype=float) * crf - np.asarray(annual_saving, dtype=float)) / a
        out = np.where(a > 0, out, np.nan)
    return out.item() if out.ndim == 0 else out


FxRates = Mapping[str, float]
"""Units of the base currency per one unit of each currency, e.g. ``{"USD": 150.0, "BDT": 1.25}`` with
base JPY. The base currency itself is 1."""


def to_base(amount, currency, *, base: str, fx: FxRates):
    """Convert ``amount`` in ``currency`` to the base currency with the configured rates.

    ``currency`` may be a string or an array of strings (one per amount). Unknown currencies raise
    :class:`~nagar.core.errors.InvalidInput` naming the currency.
    """
    rates = {base.upper(): 1.0, **{k.upper(): float(v) for k, v in fx.items()}}
    amt = np.asarray(amount, dtype=float)
    if isinstance(currency, str):
        cur = currency.upper()
        if cur not in rates:
            raise InvalidInput(f"no exchange rate for {cur} (configured: {', '.join(sorted(rates))})",
                               field="currency")
        out = amt * rates[cur]
    else:
        curs = [str(c).upper() for c in currency]
        missing = sorted(set(curs) - set(rates))
        if missing:
            raise InvalidInput(f"no exchange rate for {', '.join(missing)} (configured: {', '.join(sorted(rates))})",
                               field="currency")
        out = amt * np.array([rates[c] for c in curs])
    return out.item() if np.ndim(out) == 0 else out
