"""Portfolio optimiser: which candidate projects a fund finances, and from which instruments.

Pure computation (projects and instruments in, a portfolio out; no store, no I/O). Money is in the
fund's base currency throughout; convert first with :func:`nagar.funding.finance.to_base`.

The exact model (a mixed-integer linear programme solved by HiGHS [1]_)
------------------------------------------------------------------------
Variables: ``x_p ∈ {0, 1}`` (project ``p`` is financed) and ``y_pi >= 0`` (the part of ``p``'s capital
cost carried by instrument ``i``), the latter only for eligible pairs (the instrument covers the
project's sector and, when the project lists instruments, is one of them).

maximise   Σ_p w_p x_p,   w_p = L_p · (a_p + λ_pm · pm_p + λ_w · water_p)

  L_p lifetime years counted (up to ``horizon_year`` when given), a_p annual abatement [tCO2e/yr],
  pm_p / water_p PM2.5 and water pollutants avoided [t/yr], λ their weights [tCO2e-equivalent per t]
  (zero by default: the objective is then lifetime abatement in tCO2e).

subject to
  split       Σ_i y_pi = c_p x_p                       every chosen project is fully financed
  share       y_pi <= s_i c_p                          an instrument's largest share of one project
  coverage    Σ_{i loan} d_i y_pi <= S_p / DSCR        debt service (d_i from finance.debt_service_factor)
                                                       covered by the project's annual saving S_p
  cap         Σ_p y_pi <= cap_i                        each instrument's cap
  budget      Σ_pi y_pi <= B                           B = the budget (default: the caps' total)
  floor       Σ_{p in c} c_p x_p >= F_c                each city with an eligible project
  ceiling     Σ_{p in c} c_p x_p <= σ B                no city more than a share σ of the budget
  sector      Σ_{p in s} c_p x_p <= min(σ_s B, M_s)     sector limits (share and/or amount)
  requires    x_p <= x_q                               p requires q (a requires-cycle: all or none)
  excludes    x_p + x_q <= 1                           alternatives

Projects that can never be chosen are fixed at 0 and reported: nothing to gain (no abatement or
weighted co-benefit, within the horizon if one is set), no eligible instrument, not fully financeable
(e.g. a loan-only project whose saving cannot carry the debt service), or a requires-chain that reaches
two projects that exclude each other (:func:`check_links`).

How it is solved. When no project has two loans (the usual case: the split, share, coverage and cap rows
then form a transportation network project -> instrument -> cap), the y_pi are projected out exactly: by
the supply-demand theorem (max-flow min-cut), a set of projects can be financed iff for every non-empty
set T of instruments  Σ_p max(0, c_p - Σ_{i not in T} u_pi) x_p <= Σ_{i in T} cap_i,  u_pi being the
pair's bound (share, cap, coverage). That is 2^k - 1 rows for k instruments (7 for three) over x alone,
with the same LP bound, instead of a column per pair and a row per project. The split of the chosen
portfolio is then recovered by a small LP that uses loans first, then equity, then grants. With two loans
on a project (joint coverage) the explicit model above is solved instead.
Before branching: the LP relaxation; an incumbent built from it (projects in order of LP value, then
cost per tonne, checked against every row) and improved on a core problem (the ~1,000 projects with the
smallest reduced costs free, the rest fixed at their LP values; after Balas and Zemel [3]_); then
reduced-cost fixing against that incumbent (exact: no better portfolio is cut off). HiGHS branches on
what is left, with the incumbent as its start. The optimality gap reported is HiGHS's, valid for the
whole model.

Infeasible settings are explained, never dumped: cheap necessary conditions are checked first (floors
against the budget, the ceiling and each city's pipeline) and otherwise an elastic copy of the model
(non-negative slack on every cap, budget, floor, ceiling and sector row, minimising the slacks relative
to their limits, in the spirit of an IIS / feasibility relaxation [2]_) names the rows that must give.

The spreadsheet method (:func:`greedy`) walks the marginal abatement cost curve: projects in order of
cost per tonne, each taken if it still fits. It is a knapsack heuristic and can be arbitrarily worse
than the optimum (a cheap-per-tonne project that blocks two better ones; see tests/funding).

References
----------
.. [1] Q. Huangfu and J. A. J. Hall, "Parallelizing the dual revised simplex method", Mathematical
   Programming Computation 10 (2018) 119-142, doi:10.1007/s12532-017-0130-5; HiGHS MIP solver,
   https://highs.dev.
.. [2] J. W. Chinneck, "Feasibility and Infeasibility in Optimization: Algorithms and Computational
   Methods", Springer (2008), ch. 6 (elastic programming), doi:10.1007/978-0-387-74932-7.
.. [3] E. Balas and E. Zemel, "An algorithm for large zero-one knapsack problems", Operations Research
   28(5) (1980) 1130-1154, doi:10.1287/opre.28.5.1130 (the core problem); D. Gale, "A theorem on flows in
   networks", Pacific J. Math. 7(2) (1957) 1073-1082 (supply-demand feasibility).
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from nagar.core.errors import InvalidInput

__all__ = ["Instrument", "Constraints", "PlanResult", "GreedyResult", "LinkReport", "check_links",
           "solve", "greedy", "compare", "frontier", "objective_weights", "KINDS"]

KINDS = ("equity", "loan", "grant")
FAMILIES = ("cap", "budget", "floor", "ceiling", "sector")
_GREEDY_ORDER = {"loan": 0, "equity": 1, "grant": 2}
"""How the spreadsheet method fills a project: repayable money first, grants last (they are scarcest)."""


# inputs ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Instrument:
    """One source of money of the fund.

    Attributes
    ----------
    id : str
    kind : str
        ``equity`` (JOIN equity / joint venture), ``loan`` (e.g. the JBIC credit line) or ``grant``.
    cap : float
        Most the instrument may commit [base currency].
    sectors : frozenset of str or None
        Sectors it may finance; ``None``: every sector.
    debt_service_factor : float
        Loans: largest yearly debt service per unit of principal [1/yr] (finance.debt_service_factor).
    max_share : float
        Largest fraction of one project's capital cost it may carry (e.g. 0.5 for a matching grant).
    """

    id: str
    kind: str
    cap: float
    sectors: frozenset | None = None
    debt_service_factor: float = 0.0
    max_share: float = 1.0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise InvalidInput(f"instrument {self.id!r}: kind must be one of {', '.join(KINDS)}", field="kind")
        if not (self.cap >= 0 and math.isfinite(self.cap)):
            raise InvalidInput(f"instrument {self.id!r}: cap must be a finite amount >= 0", field="cap")
        if not 0 < self.max_share <= 1:
            raise InvalidInput(f"instrument {self.id!r}: max_share must be in (0, 1]", field="max_share")
        if self.kind == "loan" and not (self.debt_service_factor > 0 and math.isfinite(self.debt_service_factor)):
            raise InvalidInput(f"loan {self.id!r} needs a positive debt service factor (rate, tenor > grace)",
                               field="debt_service_factor")


@dataclass(frozen=True)
class Constraints:
    """The fund's rules for one plan. Amounts in the base currency; shares are fractions of the budget."""

    budget: float | None = None
    """Total the fund may commit; ``None``: the instruments' caps together."""
    city_floor: float = 0.0
    """Every city with at least one eligible project receives at least this."""
    city_floors: Mapping[str, float] = field(default_factory=dict)
    """Per-city floors replacing ``city_floor`` for the cities named."""
    city_ceiling_share: float | None = None
    """No city receives more than this share of the budget."""
    sector_max_share: Mapping[str, float] = field(default_factory=dict)
    sector_max: Mapping[str, float] = field(default_factory=dict)
    min_dscr: float = 1.0
    """Loans: annual saving >= min_dscr x annual debt service (1.0: "covered")."""
    pm25_weight: float = 0.0
    """Objective weight of one tonne of PM2.5 avoided [tCO2e-equivalent per t]."""
    water_weight: float = 0.0
    """Objective weight of one tonne of water pollutants avoided [tCO2e-equivalent per t]."""
    horizon_year: int | None = None
    """Count abatement only up to this year (inclusive); ``None``: each project's whole lifetime."""
    mip_rel_gap: float = 1e-4
    time_limit: float = 60.0
    threads: int | None = None


@dataclass
class LinkReport:
    requires_cycles: list[list[str]]
    """Groups of projects that require each other (all or none of each group can be chosen)."""
    unselectable: dict[str, str]
    """Project id -> why it can never be chosen."""


@dataclass
class PlanResult:
    status: str
    """optimal | feasible (stopped by the time limit with a portfolio; see gap) | infeasible | no_solution"""
    message: str
    objective: float = 0.0
    abatement_t: float = 0.0
    """Lifetime abatement of the portfolio [tCO2e] (within the horizon, if any)."""
    annual_abatement_t: float = 0.0
    pm25_t: float = 0.0
    water_t: float = 0.0
    committed: float = 0.0
    gap: float | None = None
    """Relative optimality gap |bound - objective| / |objective| (0 when proven optimal)."""
    bound: float | None = None
    seconds: float = 0.0
    chosen: list[str] = field(default_factory=list)
    allocations: pl.DataFrame | None = None
    """project, instrument, amount [base] for every non-zero part."""
    by_instrument: dict[str, float] = field(default_factory=dict)
    by_city: dict[str, float] = field(default_factory=dict)
    by_sector: dict[str, float] = field(default_factory=dict)
    binding: list[dict] = field(default_factory=list)
    """Infeasible: the constraints that cannot all hold, each {constraint, family, limit, short_by, detail}."""
    excluded: dict[str, str] = field(default_factory=dict)
    """Projects fixed at 0 before solving, with the reason."""
    requires_cycles: list[list[str]] = field(default_factory=list)
    size: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        out = {k: getattr(self, k) for k in ("status", "message", "objective", "abatement_t", "annual_abatement_t",
                                             "pm25_t", "water_t", "committed", "gap", "bound", "seconds", "chosen",
                                             "by_instrument", "by_city", "by_sector", "binding", "excluded",
                                             "requires_cycles", "size")}
        out["allocations"] = self.allocations.to_dicts() if self.allocations is not None else []
        return out


@dataclass
class GreedyResult:
    rank_by: str
    objective: float
    abatement_t: float
    committed: float
    chosen: list[str]
    allocations: pl.DataFrame
    violations: list[str]
    """Rules of the plan the greedy portfolio does not meet (it only ever misses floors)."""

    def to_dict(self) -> dict:
        return {"rank_by": self.rank_by, "objective": self.objective, "abatement_t": self.abatement_t,
                "committed": self.committed, "chosen": self.chosen, "violations": self.violations,
                "allocations": self.allocations.to_dicts()}


# preparing the data ------------------------------------------------------------------------------
_DEFAULTS = {"annual_saving": 0.0, "start_year": 0, "pm25": 0.0, "water": 0.0}
_REQUIRED = ("id", "city", "sector", "cost", "lifetime_years", "annual_abatement")


def _frame(projects) -> pl.DataFrame:
    """Projects as a frame with every column the optimiser reads, validated."""
    df = projects if isinstance(projects, pl.DataFrame) else pl.DataFrame(list(projects), infer_schema_length=None)
    if df.height == 0:
        return pl.DataFrame(schema={"id": pl.String, "city": pl.String, "sector": pl.String, "cost": pl.Float64,
                                    "lifetime_years": pl.Float64, "annual_abatement": pl.Float64,
                                    "annual_saving": pl.Float64, "start_year": pl.Int64, "pm25": pl.Float64,
                                    "water": pl.Float64, "eligible": pl.List(pl.String),
                                    "requires": pl.List(pl.String), "excludes": pl.List(pl.String)})
    missing = [c for c in _REQUIRED if c not in df.columns]
    if missing:
        raise InvalidInput(f"projects lack column(s) {', '.join(missing)}", field="projects")
    for c, v in _DEFAULTS.items():
        if c not in df.columns:
            df = df.with_columns(pl.lit(v).alias(c))
    for c in ("eligible", "requires", "excludes"):
        if c not in df.columns:
            df = df.with_columns(pl.lit([], dtype=pl.List(pl.String)).alias(c))
        else:
            df = df.with_columns(pl.col(c).cast(pl.List(pl.String)).fill_null([]))
    df = df.with_columns(
        pl.col("id", "city", "sector").cast(pl.String),
        pl.col("cost", "lifetime_years", "annual_abatement", "annual_saving", "pm25", "water").cast(pl.Float64)
        .fill_null(0.0),
        pl.col("start_year").cast(pl.Int64).fill_null(0),
    )
    dup = df.filter(pl.col("id").is_duplicated())["id"].unique().sort().to_list()
    if dup:
        raise InvalidInput(f"duplicate project id(s): {', '.join(dup[:5])}", field="projects")
    bad = df.filter(~(pl.col("cost").is_finite() & (pl.col("cost") > 0)))["id"].to_list()
    if bad:
        raise InvalidInput(f"project {bad[0]!r}: capital cost must be a positive amount", field="cost")
    bad = df.filter(~(pl.col("lifetime_years") > 0) | ~pl.col("annual_abatement").is_finite()
                    | (pl.col("annual_abatement") < 0) | (pl.col("pm25") < 0) | (pl.col("water") < 0)
                    | ~pl.col("annual_saving").is_finite())["id"].to_list()
    if bad:
        raise InvalidInput(f"project {bad[0]!r}: lifetime must be > 0 and abatement, PM2.5 and water "
                           "figures finite and >= 0", field="projects")
    return df


def objective_weights(df: pl.DataFrame, c: Constraints) -> np.ndarray:
    """w_p: lifetime (or horizon-limited) abatement, plus weighted co-benefits [tCO2e-equivalent]."""
    life = df["lifetime_years"].to_numpy()
    if c.horizon_year is not None:
        life = np.clip(np.minimum(life, c.horizon_year - df["start_year"].to_numpy() + 1), 0, None)
    per_year = (df["annual_abatement"].to_numpy() + c.pm25_weight * df["pm25"].to_numpy()
                + c.water_weight * df["water"].to_numpy())
    return life * per_year


def _years(df: pl.DataFrame, c: Constraints) -> np.ndarray:
    life = df["lifetime_years"].to_numpy()
    if c.horizon_year is not None:
        life = np.clip(np.minimum(life, c.horizon_year - df["start_year"].to_numpy() + 1), 0, None)
    return life


def check_links(projects) -> LinkReport:
    """Requires-cycles (fine: all or none) and projects that can never be chosen because what they
    require, directly or through a chain, includes two projects that exclude each other (or one they
    exclude themselves). Unknown project ids in links raise InvalidInput."""
    df = _frame(projects)
    ids = df["id"].to_list()
    known = set(ids)
    req = dict(zip(ids, (list(dict.fromkeys(r)) for r in df["requires"].to_list())))
    exc: dict[str, set] = {i: set() for i in ids}
    for p, ex in zip(ids, df["excludes"].to_list()):
        for q in ex:
            exc[p].add(q)
            if q in exc:
                exc[q].add(p)
    for p in ids:
        for q in list(req[p]) + list(exc[p]):
            if q not in known:
                kind = "requires" if q in req[p] else "excludes"
                raise InvalidInput(f"project {p!r} {kind} unknown project {q!r}", field=kind)
    cycles = [sorted(s) for s in _strongly_connected(ids, req) if len(s) > 1 or (s[0] in req[s[0]])]
    unselectable: dict[str, str] = {}
    for p in ids:
        if p in exc[p]:
            unselectable[p] = f"{p} excludes itself"
            continue
        if not req[p] and not exc[p]:
            continue
        parent = {p: None}
        stack = [p]
        while stack:  # the requires-closure of p, with the first path found to each member
            q = stack.pop()
            for r in req[q]:
                if r not in parent:
                    parent[r] = q
                    stack.append(r)
        if len(parent) == 1 and not (exc[p] & parent.keys()):
            continue
        for q in parent:
            clash = sorted(exc[q] & parent.keys())
            if clash:
                e = clash[0]
                chain = lambda t: " -> ".join(_path(parent, t))  # noqa: E731
                if q == p:
                    unselectable[p] = f"{p} requires {e} ({chain(e)}) but excludes it"
                else:
                    unselectable[p] = (f"{p} requires both {q} ({chain(q)}) and {e} ({chain(e)}), "
                                       f"which exclude each other")
                break
    return LinkReport(requires_cycles=sorted(cycles), unselectable=unselectable)


def _path(parent: dict, t: str) -> list[str]:
    out = [t]
    while parent[out[-1]] is not None:
        out.append(parent[out[-1]])
    return out[::-1]


def _strongly_connected(nodes: list[str], edges: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components, iterative (no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on: set = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(edges.get(root, ())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(edges.get(w, ()))))
                    advanced = True
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(comp)
    return out


# the model ---------------------------------------------------------------------------------------
@dataclass
class _Model:
    df: pl.DataFrame
    inst: list[Instrument]
    cons: Constraints
    scale: float
    budget: float
    w: np.ndarray
    cost: np.ndarray
    pair_p: np.ndarray
    pair_i: np.ndarray
    pair_ub: np.ndarray
    x_ub: np.ndarray
    excluded: dict[str, str]
    cycles: list[list[str]]
    floors: dict[str, float]
    rows: list[tuple]
    """(family, name, sense ('<=' | '>=' | '='), rhs, (cols, coefs) arrays, detail)"""
    explicit: bool
    """True: y_pi are columns of the MILP; False: financing is the cut form over x alone."""
    cover: np.ndarray
    dsf: np.ndarray
    loans_per_p: np.ndarray

    @property
    def ncols(self) -> int:
        return self.df.height + (len(self.pair_p) if self.explicit else 0)


def _eligibility(df: pl.DataFrame, inst: Sequence[Instrument]) -> np.ndarray:
    n = df.height
    e = np.zeros((n, len(inst)), dtype=bool)
    has_list = (df["eligible"].list.len() > 0).to_numpy()
    for k, i in enumerate(inst):
        ok = np.ones(n, dtype=bool) if i.sectors is None else df["sector"].is_in(sorted(i.sectors)).to_numpy()
        listed = df["eligible"].list.contains(i.id).to_numpy()
        e[:, k] = ok & (~has_list | listed) & (i.cap > 0)
    return e


def _floors(cities: np.ndarray, selectable: np.ndarray, c: Constraints) -> dict[str, float]:
    with_projects = sorted(set(cities[selectable].tolist()))
    out = {}
    for city in with_projects:
        f = float(c.city_floors.get(city, c.city_floor))
        if f > 0:
            out[city] = f
    return out


def _build(projects, instruments: Sequence[Instrument], cons: Constraints) -> _Model:
    df = _frame(projects)
    inst = list(instruments)
    ids = [i.id for i in inst]
    if len(set(ids)) != len(ids):
        raise InvalidInput("two instruments share an id", field="instruments")
    unknown = set(df["eligible"].explode().drop_nulls().to_list()) - set(ids)
    if unknown:
        raise InvalidInput(f"projects name unknown instrument(s): {', '.join(sorted(unknown))}", field="eligible")
    if cons.min_dscr <= 0:
        raise InvalidInput("min_dscr must be > 0", field="min_dscr")
    for name, v in (("city_ceiling_share", cons.city_ceiling_share),):
        if v is not None and not 0 < v <= 1:
            raise InvalidInput(f"{name} must be in (0, 1]", field=name)
    for s, v in cons.sector_max_share.items():
        if not 0 <= v <= 1:
            raise InvalidInput(f"sector share for {s!r} must be in [0, 1]", field="sector_max_share")
    links = check_links(df)
    n = df.height
    cost = df["cost"].to_numpy().astype(float)
    saving = df["annual_saving"].to_numpy().astype(float)
    w = objective_weights(df, cons)
    cap_total = float(sum(i.cap for i in inst))
    budget = cap_total if cons.budget is None else min(float(cons.budget), cap_total)
    if cons.budget is not None and cons.budget < 0:
        raise InvalidInput("budget must be >= 0", field="budget")

    elig = _eligibility(df, inst)
    elig0 = elig.copy()  # before loan coverage and shares
    eligible_at_all = elig.any(axis=1)
    # static bounds of each pair: the instrument's share of the project and, for a loan, what the saving
    # carries (a single loan's coverage is a bound; two or more loans on one project share a row below)
    share = np.array([i.max_share for i in inst])
    dsf = np.array([i.debt_service_factor if i.kind == "loan" else 0.0 for i in inst])
    is_loan = np.array([i.kind == "loan" for i in inst])
    ub = cost[:, None] * share[None, :]
    cover = np.clip(saving, 0, None) / cons.min_dscr
    with np.errstate(divide="ignore"):
        loan_ub = np.where(dsf[None, :] > 0, cover[:, None] / np.where(dsf > 0, dsf, 1)[None, :], np.inf)
    ub = np.where(is_loan[None, :], np.minimum(ub, loan_ub), ub)
    elig &= ub > 0
    ub = np.where(elig, np.minimum(ub, np.array([i.cap for i in inst])[None, :]), 0.0)

    excluded: dict[str, str] = {}
    pid = df["id"].to_list()
    fin = ub.sum(axis=1)
    loans_per_p = (elig & is_loan[None, :]).sum(axis=1)
    if loans_per_p.max(initial=0) > 1:  # several loans on one project share its coverage
        loan_ub_sum = np.where(elig & is_loan[None, :], ub, 0).sum(axis=1)
        with np.errstate(divide="ignore"):
            joint = cover / np.where(elig & is_loan[None, :], dsf[None, :], np.inf).min(axis=1)
        fin = np.where(loans_per_p > 1, fin - loan_ub_sum + np.minimum(loan_ub_sum, joint), fin)
    for k in range(n):
        p = pid[k]
        if p in links.unselectable:
            excluded[p] = links.unselectable[p]
        elif not eligible_at_all[k]:
            excluded[p] = "no eligible instrument (sector or listed instruments)"
        elif w[k] <= 0:
            excluded[p] = ("no abatement within the horizon" if cons.horizon_year is not None
                           else "nothing to gain: no abatement or weighted co-benefit")
        elif fin[k] < cost[k] * (1 - 1e-9):
            parts = ", ".join(f"{inst[i].id} at most {ub[k, i]:,.0f}"
                              for i in range(len(inst)) if elig[k, i]) or "nothing"
            excluded[p] = (f"cannot be fully financed: needs {cost[k]:,.0f}, eligible instruments carry {parts}"
                           + (" (loans limited by debt service coverage of the annual saving)"
                              if (elig0[k] & is_loan).any() else ""))
    # requires propagate exclusion: a project that requires an excluded one is excluded too
    req = dict(zip(pid, df["requires"].to_list()))
    changed = True
    while changed:
        changed = False
        for p, rs in req.items():
            if p in excluded:
                continue
            for r in rs:
                if r in excluded:
                    excluded[p] = f"requires {r}, which cannot be chosen ({excluded[r]})"
                    changed = True
                    break
    x_ub = np.array([0.0 if p in excluded else 1.0 for p in pid])
    elig &= (x_ub > 0)[:, None]
    pair_p, pair_i = np.nonzero(elig)
    pair_ub = ub[pair_p, pair_i]

    scale = float(np.median(cost)) if n else 1.0
    cities = df["city"].to_numpy()
    sectors = df["sector"].to_numpy()
    selectable = x_ub > 0
    floors = _floors(cities, selectable, cons)
    rows: list[tuple] = []
    # Financing. Explicit form: columns y_pi with split, cap and (several loans) coverage rows. Cut form,
    # used when no project has two loans: by the supply-demand theorem (max-flow min-cut on the network
    # project -> instrument -> cap) a chosen set is financeable iff for every non-empty set T of
    # instruments, sum_p max(0, c_p - sum_{i not in T} u_pi) x_p <= sum_{i in T} cap_i: what only T can
    # finance fits in T's caps. Same LP bound, no continuous columns; y is recovered afterwards (_split).
    explicit = bool(loans_per_p.max(initial=0) > 1 or len(inst) > 10)
    m_pairs = len(pair_p) if explicit else 0
    ycol = n + np.arange(m_pairs)
    k_inst = len(inst)
    if explicit:
        for k, i in enumerate(inst):
            sel = pair_i == k
            if sel.any():
                rows.append(("cap", f"cap of {i.id}", "<=", i.cap, (ycol[sel], np.ones(int(sel.sum()))),
                             f"instrument {i.id} may commit at most {i.cap:,.0f}"))
    else:
        idx = np.nonzero(selectable)[0]
        ub_sel = np.where(elig, ub, 0.0)[idx]
        for mask in range(1, 2 ** k_inst):
            inside = [j for j in range(k_inst) if mask >> j & 1]
            outside = [j for j in range(k_inst) if not mask >> j & 1]
            d = cost[idx] - ub_sel[:, outside].sum(axis=1)
            nz = d > cost[idx] * 1e-9
            cap_t = float(sum(inst[j].cap for j in inside))
            if not nz.any() or d[nz].sum() <= cap_t * (1 - 1e-12):
                continue  # can never bind
            names = [inst[j].id for j in inside]
            if len(names) == 1:
                name, detail = (f"cap of {names[0]}",
                                f"instrument {names[0]} may commit at most {cap_t:,.0f} (counting the part of "
                                "each project no other instrument can carry)")
            else:
                name, detail = (f"caps of {' + '.join(names)}",
                                f"instruments {', '.join(names)} may commit at most {cap_t:,.0f} together "
                                "(counting the part of each project only they can carry)")
            rows.append(("cap", name, "<=", cap_t, (idx[nz], d[nz]), detail))
    budget_detail = (f"the fund may commit at most {budget:,.0f}"
                     + (" (the instruments' caps together)" if cons.budget is None or cons.budget >= cap_total else ""))
    if explicit and m_pairs:
        rows.append(("budget", "budget", "<=", budget, (ycol, np.ones(m_pairs)), budget_detail))
    elif not explicit and selectable.any() and cost[selectable].sum() > budget:
        idx = np.nonzero(selectable)[0]
        rows.append(("budget", "budget", "<=", budget, (idx, cost[idx]), budget_detail))
    for city, f in floors.items():
        sel = (cities == city) & selectable
        rows.append(("floor", f"floor of {city}", ">=", f, (np.nonzero(sel)[0], cost[sel]),
                     f"city {city} must receive at least {f:,.0f}"))
    if cons.city_ceiling_share is not None:
        lim = cons.city_ceiling_share * budget
        for city in sorted(set(cities[selectable].tolist())):
            sel = (cities == city) & selectable
            if cost[sel].sum() > lim:
                rows.append(("ceiling", f"ceiling of {city}", "<=", lim, (np.nonzero(sel)[0], cost[sel]),
                             f"city {city} may receive at most {cons.city_ceiling_share:.1%} of the budget "
                             f"({lim:,.0f})"))
    for s in sorted(set(cons.sector_max_share) | set(cons.sector_max)):
        lims = []
        if s in cons.sector_max_share:
            lims.append(cons.sector_max_share[s] * budget)
        if s in cons.sector_max:
            lims.append(float(cons.sector_max[s]))
        lim = min(lims)
        sel = (sectors == s) & selectable
        if sel.any() and cost[sel].sum() > lim:
            rows.append(("sector", f"sector limit of {s}", "<=", lim, (np.nonzero(sel)[0], cost[sel]),
                         f"sector {s} may receive at most {lim:,.0f}"))
    # structural rows
    if explicit and m_pairs:
        order = np.argsort(pair_p, kind="stable")
        pp = pair_p[order]
        starts = np.searchsorted(pp, np.arange(n))
        ends = np.searchsorted(pp, np.arange(n), side="right")
        for k in np.nonzero(selectable)[0]:
            cols = ycol[order[starts[k]:ends[k]]]
            rows.append(("split", f"split of {pid[k]}", "=", 0.0,
                         (np.append(cols, k), np.append(np.ones(len(cols)), -cost[k])), ""))
        multi = np.nonzero(loans_per_p * selectable > 1)[0]
        for k in multi:
            sel = (pair_p == k) & is_loan[pair_i]
            rows.append(("coverage", f"debt service coverage of {pid[k]}", "<=", float(cover[k]),
                         (ycol[sel], dsf[pair_i[sel]]), ""))
    index = {p: k for k, p in enumerate(pid)}
    for p, rs in req.items():
        if p in excluded:
            continue
        for r in dict.fromkeys(rs):
            if r != p:
                rows.append(("requires", f"{p} requires {r}", "<=", 0.0,
                             (np.array([index[p], index[r]]), np.array([1.0, -1.0])), ""))
    seen = set()
    for p, ex in zip(pid, df["excludes"].to_list()):
        for q in ex:
            key = tuple(sorted((p, q)))
            if key in seen or p in excluded or q in excluded or p == q:
                continue
            seen.add(key)
            rows.append(("excludes", f"{p} excludes {q}", "<=", 1.0,
                         (np.array([index[p], index[q]]), np.array([1.0, 1.0])), ""))
    return _Model(df=df, inst=inst, cons=cons, scale=scale, budget=budget, w=w, cost=cost, pair_p=pair_p,
                  pair_i=pair_i, pair_ub=pair_ub, x_ub=x_ub, excluded=excluded, cycles=links.requires_cycles,
                  floors=floors, rows=rows, explicit=explicit, cover=cover, dsf=dsf, loans_per_p=loans_per_p)


_BANNER_LOCK = threading.Lock()
_BANNER_DONE = False
_THREADS: list = [None]
"""Thread count of HiGHS's process-wide scheduler, fixed by the first run: a later instance asking for
another count makes ``run`` fail (status Notset), so a change resets the scheduler first."""


def _highs(threads: int | None = None):
    """A silent HiGHS instance. HiGHS prints a banner to the process's stdout the first time one is made
    (before any option can be set); it is sent to /dev/null so that `--json` output stays clean.
    ``threads``: HiGHS's thread count (None: its default); every instance of a solve asks for the same."""
    global _BANNER_DONE
    import highspy

    with _BANNER_LOCK:
        if not _BANNER_DONE:
            sys.stdout.flush()
            fd = 1  # C's stdout, whatever Python's sys.stdout wraps
            saved = os.dup(fd)
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, fd)
                h = highspy.Highs()
            finally:
                os.dup2(saved, fd)
                os.close(saved)
                os.close(devnull)
            _BANNER_DONE = True
        else:
            h = highspy.Highs()
        want = int(threads) if threads else 0
        if _THREADS[0] is not None and _THREADS[0] != want:
            highspy.Highs.resetGlobalScheduler(True)
        _THREADS[0] = want
    h.setOptionValue("output_flag", False)
    if want:
        h.setOptionValue("threads", want)
    return h


def _assemble(model: _Model, *, elastic: bool = False):
    """Column-wise arrays for HiGHS. Money is divided by ``model.scale`` (the median project cost) so
    that coefficients stay near 1; elastic mode adds one slack column per relaxable row."""
    import highspy
    import scipy.sparse as sp

    n = model.df.height
    m_pairs = model.ncols - n
    S = model.scale
    rows = model.rows
    inf = highspy.kHighsInf
    r_idx, c_idx, vals = [], [], []
    lo, hi = np.empty(len(rows)), np.empty(len(rows))
    relax = []
    for r, (fam, _name, sense, rhs, (cols, coefs), _d) in enumerate(rows):
        money_row = fam in ("cap", "budget", "floor", "ceiling", "sector", "split", "coverage")
        coefs = np.asarray(coefs, dtype=float)
        if money_row:
            coefs = np.where(np.asarray(cols) < n, coefs / S, coefs)  # money coefficients of x, scaled
        r_idx.append(np.full(len(cols), r))
        c_idx.append(np.asarray(cols))
        vals.append(coefs)
        b = rhs / S if money_row else rhs
        lo[r], hi[r] = {"<=": (-inf, b), ">=": (b, inf), "=": (b, b)}[sense]
        if elastic and fam in FAMILIES:
            relax.append((r, sense, max(abs(b), 1e-9)))
    ncol = n + m_pairs + len(relax)
    for j, (r, sense, _s) in enumerate(relax):
        r_idx.append(np.array([r]))
        c_idx.append(np.array([n + m_pairs + j]))
        vals.append(np.array([-1.0 if sense == "<=" else 1.0]))
    if rows:
        A = sp.csc_matrix((np.concatenate(vals), (np.concatenate(r_idx), np.concatenate(c_idx))),
                          shape=(len(rows), ncol))
    else:
        A = sp.csc_matrix((0, ncol))
    col_lo = np.zeros(ncol)
    col_hi = np.concatenate([model.x_ub, (model.pair_ub / S)[:m_pairs], np.full(len(relax), inf)])
    if elastic:
        cost = np.concatenate([np.zeros(n + m_pairs), [1.0 / s for (_r, _se, s) in relax]])
        sense = highspy.ObjSense.kMinimize
    else:
        wscale = float(np.abs(model.w[model.x_ub > 0]).mean()) if (model.x_ub > 0).any() else 1.0
        cost = np.concatenate([model.w / (wscale or 1.0), np.zeros(m_pairs)])
        sense = highspy.ObjSense.kMaximize
    integrality = np.concatenate([np.ones(n, dtype=np.int32), np.zeros(ncol - n, dtype=np.int32)])
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = ncol, len(rows)
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost, col_lo, col_hi
    lp.row_lower_, lp.row_upper_ = lo, hi
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data.astype(float)
    lp.integrality_ = [highspy.HighsVarType.kInteger if v else highspy.HighsVarType.kContinuous
                       for v in integrality]
    lp.sense_ = sense
    return lp, relax


def _start_vector(model: _Model, start) -> np.ndarray | None:
    """Column values of a feasible starting portfolio (None when there is none to use)."""
    if start is None or start.violations or not start.chosen:
        return None
    ids = model.df["id"].to_numpy()
    x = np.isin(ids, np.array(start.chosen, dtype=object)).astype(float)
    if (x > model.x_ub).any():
        return None
    vec = np.zeros(model.ncols)
    vec[:len(x)] = x
    if model.explicit:
        amount = {(p, i): a for p, i, a in start.allocations.iter_rows()}
        inst_ids = [i.id for i in model.inst]
        vec[len(x):] = [amount.get((ids[p], inst_ids[i]), 0.0) / model.scale
                        for p, i in zip(model.pair_p, model.pair_i)]
    return vec


def _root(model: _Model, lp, cons: Constraints, start):
    """Work at the root before branching: solve the LP relaxation, build an incumbent from it (projects
    taken in order of their LP value, then cost per tonne, with the same rule checks as the greedy walk),
    keep the better of that and ``start``, and fix by reduced cost every x_p whose flip would bring the LP
    bound below the incumbent (for a maximisation at LP optimum z*, any feasible x has
    w.x <= z* + sum_j rc_j (x_j - x*_j), so x_p at 0 with z* + rc_p < incumbent is 0 in every better
    portfolio, and likewise at 1). Exact: no portfolio better than the incumbent is cut off, and the
    incumbent itself stays feasible. Returns the (re-bounded) model, the start vector and counts."""
    import highspy

    n = model.df.height
    wscale = float(np.abs(model.w[model.x_ub > 0]).mean()) or 1.0
    best, best_val = None, -math.inf
    if start is not None and not start.violations:
        vec = _start_vector(model, start)
        if vec is not None:
            best, best_val = vec, float(model.w[vec[:n] > 0.5].sum()) / wscale
    info = {"fixed_by_reduced_cost": 0}
    h = _highs(cons.threads)
    h.passModel(lp)
    h.setOptionValue("solve_relaxation", True)
    h.setOptionValue("time_limit", float(cons.time_limit) / 4)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return lp, best, info
    solution = h.getSolution()
    z_lp = h.getInfo().objective_function_value
    x_lp = np.asarray(solution.col_value)[:n]
    rc = np.asarray(solution.col_dual)[:n]
    with np.errstate(divide="ignore"):
        ratio = np.where(model.w > 0, model.cost / np.where(model.w > 0, model.w, 1), np.inf)
    order = np.lexsort((np.arange(n), ratio, -np.round(x_lp, 6)))
    chosen, violations = _fill(model, order, (model.x_ub > 0) & (model.w > 0))
    val = float(model.w[chosen].sum()) / wscale
    if not violations and val > best_val:
        frame = _alloc_frame(model, _split(model, chosen)) if model.explicit else None
        g = GreedyResult("lp", 0, 0, 0, model.df["id"].filter(pl.Series(chosen)).to_list(), frame, [])
        vec = _start_vector(model, g)
        if vec is not None:
            best, best_val = vec, val
    info["lp_bound"] = float(z_lp * wscale)
    # core problem (after Balas and Zemel's knapsack core): keep free the projects whose reduced cost is
    # smallest (the fractional ones among them), fix the rest at their LP values, and solve that small
    # MILP for a better incumbent; every solution of it is a portfolio of the full model
    free = (model.x_ub > 0) & (model.w > 0)
    frac = int(((x_lp > 1e-6) & (x_lp < 1 - 1e-6)).sum())
    k_core = min(int(free.sum()), max(1000, 8 * frac + 200))
    if k_core < free.sum():
        core = np.zeros(n, dtype=bool)
        cand = np.nonzero(free)[0]
        core[cand[np.argsort(np.abs(rc[cand]), kind="stable")[:k_core]]] = True
        lo0, hi0 = np.asarray(lp.col_lower_).copy(), np.asarray(lp.col_upper_).copy()
        lo, hi = lo0.copy(), hi0.copy()
        fixed = np.round(np.clip(x_lp, 0, 1))
        lo[:n] = np.where(core, lo0[:n], np.minimum(fixed, hi0[:n]))
        hi[:n] = np.where(core, hi0[:n], np.minimum(fixed, hi0[:n]))
        lp.col_lower_, lp.col_upper_ = lo, hi
        h2 = _highs(cons.threads)
        h2.passModel(lp)
        lp.col_lower_, lp.col_upper_ = lo0, hi0
        h2.setOptionValue("mip_rel_gap", float(cons.mip_rel_gap) / 4)
        h2.setOptionValue("time_limit", float(cons.time_limit) / 4)
        if best is not None and (best[:n][~core] == fixed[~core]).all():
            s0 = highspy.HighsSolution()
            s0.col_value = best.tolist()
            s0.value_valid = True
            h2.setSolution(s0)
        h2.run()
        if h2.getInfo().primal_solution_status == 2:
            vec = np.asarray(h2.getSolution().col_value)
            val = float(model.w[vec[:n] > 0.5].sum()) / wscale
            if val > best_val:
                best, best_val = vec, val
        info["core"] = k_core
    if best is None:
        return lp, None, info
    margin = 1e-6 * max(1.0, abs(best_val))
    x_best = best[:n] > 0.5
    at_lo = (x_lp <= 1e-9) & (z_lp + rc < best_val - margin) & ~x_best
    at_hi = (x_lp >= 1 - 1e-9) & (z_lp - rc < best_val - margin) & x_best
    lo = np.asarray(lp.col_lower_).copy()
    hi = np.asarray(lp.col_upper_).copy()
    hi[:n][at_lo] = 0.0
    lo[:n][at_hi] = 1.0
    lp.col_lower_, lp.col_upper_ = lo, hi
    info["fixed_by_reduced_cost"] = int(at_lo.sum() + at_hi.sum())
    return lp, best, info


def _run(lp, cons: Constraints, *, gap: float | None = None, start: np.ndarray | None = None):
    import highspy

    h = _highs(cons.threads)
    h.passModel(lp)
    if start is not None:
        sol0 = highspy.HighsSolution()
        sol0.col_value = start.tolist()
        sol0.value_valid = True
        h.setSolution(sol0)
    h.setOptionValue("mip_rel_gap", float(cons.mip_rel_gap if gap is None else gap))
    h.setOptionValue("time_limit", float(cons.time_limit))
    h.setOptionValue("random_seed", 0)
    t0 = time.perf_counter()
    run = h.run()
    secs = time.perf_counter() - t0
    status = h.getModelStatus()
    if run == highspy.HighsStatus.kError and status == highspy.HighsModelStatus.kNotset:
        raise RuntimeError("HiGHS refused to run the model (kError before solving)")
    info = h.getInfo()
    has_sol = info.primal_solution_status == 2
    sol = np.asarray(h.getSolution().col_value) if has_sol else None
    return status, info, sol, secs, highspy


# solving -----------------------------------------------------------------------------------------
def solve(projects, instruments: Sequence[Instrument], constraints: Constraints | None = None, *,
          diagnose: bool = True, start: "GreedyResult | None" = None) -> PlanResult:
    """The optimal portfolio (see the module docstring for the model).

    Parameters
    ----------
    projects : polars.DataFrame or iterable of dicts
        Columns ``id, city, sector, cost`` [base currency], ``lifetime_years`` [yr], ``annual_abatement``
        [tCO2e/yr]; optional ``annual_saving`` [base/yr, negative for a net operating cost],
        ``start_year``, ``pm25`` and ``water`` [t/yr avoided], ``eligible``, ``requires``, ``excludes``
        (lists of instrument / project ids).
    instruments : sequence of Instrument
    constraints : Constraints
    diagnose : bool
        On infeasibility, solve the elastic model to name the binding rows (False: quick checks only).
    start : GreedyResult, optional
        A portfolio to start from (the spreadsheet method's, for the same inputs and rules); used when it
        meets every rule. HiGHS then only has to close the gap, which on large pipelines saves most of
        the time.
    """
    cons = constraints or Constraints()
    t0 = time.perf_counter()
    model = _build(projects, instruments, cons)
    size = {"projects": model.df.height, "instruments": len(model.inst), "pairs": len(model.pair_p),
            "rows": len(model.rows), "selectable": int((model.x_ub > 0).sum())}
    base = dict(excluded=model.excluded, requires_cycles=model.cycles, size=size)
    quick = _quick_infeasibility(model)
    if quick:
        return PlanResult(status="infeasible", message=_infeasible_message(quick), binding=quick,
                          seconds=time.perf_counter() - t0, **base)
    if (model.x_ub > 0).sum() == 0:
        return _result(model, np.zeros(model.ncols), "optimal",
                       "no project can be chosen", 0.0, 0.0, time.perf_counter() - t0, base)
    lp, _ = _assemble(model)
    lp, start_vec, root = _root(model, lp, cons, start)
    size.update(root)
    left = max(1.0, cons.time_limit - (time.perf_counter() - t0))  # the time limit covers the root work too
    status, info, sol, secs, hs = _run(lp, Constraints(**{**cons.__dict__, "time_limit": left}), start=start_vec)
    M = hs.HighsModelStatus
    if status in (M.kInfeasible, M.kUnboundedOrInfeasible):
        binding = _elastic(model) if diagnose else []
        if not binding:
            binding = [{"constraint": "combination", "family": "unknown", "limit": None, "short_by": None,
                        "detail": "the floors, ceilings, caps and links cannot all hold together"}]
        return PlanResult(status="infeasible", message=_infeasible_message(binding), binding=binding,
                          seconds=time.perf_counter() - t0, **base)
    if sol is None:
        return PlanResult(status="no_solution",
                          message=f"no portfolio found within the time limit ({cons.time_limit:g} s): "
                                  f"HiGHS status {status.name.removeprefix('k')}",
                          seconds=time.perf_counter() - t0, **base)
    wscale = float(np.abs(model.w[model.x_ub > 0]).mean()) or 1.0
    bound = float(info.mip_dual_bound) * wscale if math.isfinite(info.mip_dual_bound) else None
    gap = max(0.0, float(info.mip_gap)) if math.isfinite(info.mip_gap) else None
    state = "optimal" if status == M.kOptimal else "feasible"
    shown = f"{gap:.3%}" if gap is not None else "unknown"
    msg = (f"optimal (gap {gap:.4%} <= {cons.mip_rel_gap:.4%})" if state == "optimal"
           else f"stopped ({status.name.removeprefix('k')}) with a gap of {shown}")
    size["solver_seconds"] = round(secs, 3)
    return _result(model, sol, state, msg, gap, bound, time.perf_counter() - t0, base)


def _result(model: _Model, sol, status, message, gap, bound, seconds, base) -> PlanResult:
    n = model.df.height
    x = np.asarray(sol[:n]) > 0.5
    y = _split(model, x)
    df = model.df
    ids = df["id"].to_numpy()
    alloc = _alloc_frame(model, y)
    cost = model.cost
    years = _years(df, model.cons)
    ann = df["annual_abatement"].to_numpy()
    sel = df.filter(pl.Series(x))
    by = lambda col: {k: float(v) for k, v in  # noqa: E731
                      sel.group_by(col).agg(pl.col("cost").sum()).sort(col).iter_rows()}
    return PlanResult(
        status=status, message=message, objective=float(model.w[x].sum()),
        abatement_t=float((ann * years)[x].sum()), annual_abatement_t=float(ann[x].sum()),
        pm25_t=float((df["pm25"].to_numpy() * years)[x].sum()),
        water_t=float((df["water"].to_numpy() * years)[x].sum()),
        committed=float(cost[x].sum()), gap=gap, bound=bound, seconds=seconds, chosen=sorted(ids[x].tolist()),
        allocations=alloc,
        by_instrument={i.id: float(alloc.filter(pl.col("instrument") == i.id)["amount"].sum()) for i in model.inst},
        by_city=by("city"), by_sector=by("sector"), **base)


_PREFERENCE = {"loan": 0.0, "equity": 1.0, "grant": 2.0}
"""Per-unit cost of each kind when splitting a chosen portfolio: repayable money first, grants last."""


def _split(model: _Model, x: np.ndarray) -> np.ndarray:
    """Amounts y_pi [base currency] financing the chosen projects ``x``: a transportation LP (exact
    split, caps, loan coverage) that, among the feasible splits, uses loans first, then equity, then
    grants. Feasible whenever ``x`` satisfies the model (supply-demand theorem); should the MIP's own
    tolerance leave it a hair infeasible, the limits are widened by 1e-6 (relative) and it is re-solved."""
    import highspy
    import scipy.sparse as sp

    y = np.zeros(len(model.pair_p))
    on = np.nonzero(x[model.pair_p])[0]
    if not len(on):
        return y
    S = model.scale
    pp, pi = model.pair_p[on], model.pair_i[on]
    chosen = np.unique(pp)
    row_of = {p: r for r, p in enumerate(chosen)}
    r_split = np.array([row_of[p] for p in pp])
    k = len(model.inst)
    rows_r = [r_split, len(chosen) + pi]
    cols_c = [np.arange(len(on)), np.arange(len(on))]
    vals = [np.ones(len(on)), np.ones(len(on))]
    lo = [model.cost[chosen] / S, np.full(k, -highspy.kHighsInf)]
    hi = [model.cost[chosen] / S, np.array([i.cap for i in model.inst]) / S]
    multi = [p for p in chosen if model.loans_per_p[p] > 1]
    is_loan = np.array([i.kind == "loan" for i in model.inst])
    for j, p in enumerate(multi):
        sel = np.nonzero((pp == p) & is_loan[pi])[0]
        rows_r.append(np.full(len(sel), len(chosen) + k + j))
        cols_c.append(sel)
        vals.append(model.dsf[pi[sel]])
        lo.append(np.array([-highspy.kHighsInf]))
        hi.append(np.array([model.cover[p] / S]))
    nrow = len(chosen) + k + len(multi)
    A = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows_r), np.concatenate(cols_c))), shape=(nrow, len(on)))
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = len(on), nrow
    lp.col_cost_ = np.array([_PREFERENCE[model.inst[i].kind] + 1e-6 * i for i in pi])
    lp.col_lower_, lp.col_upper_ = np.zeros(len(on)), model.pair_ub[on] / S
    lp.row_lower_, lp.row_upper_ = np.concatenate(lo), np.concatenate(hi)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data.astype(float)
    h = _highs(model.cons.threads)
    h.passModel(lp)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:  # the MIP's tolerance: widen a hair
        lp.col_upper_ = np.asarray(lp.col_upper_) * (1 + 1e-6)
        split_rows = len(chosen)
        up = np.asarray(lp.row_upper_).copy()
        up[split_rows:] *= 1 + 1e-6
        lp.row_upper_ = up
        h.passModel(lp)
        h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:  # pragma: no cover - guarded by the model
        raise RuntimeError(f"could not split the chosen portfolio across instruments ({h.getModelStatus().name})")
    v = np.clip(np.asarray(h.getSolution().col_value), 0, None) * S
    v[v < model.cost[pp] * 1e-9] = 0.0
    y[on] = v
    return y


# infeasibility ---------------------------------------------------------------------------------------
def _quick_infeasibility(model: _Model) -> list[dict]:
    """Necessary conditions that name the constraint without a solve."""
    out = []
    cons = model.cons
    df = model.df
    cities = df["city"].to_numpy()
    selectable = model.x_ub > 0
    total_floor = sum(model.floors.values())
    if total_floor > model.budget * (1 + 1e-9):
        out.append({"constraint": "budget", "family": "budget", "limit": model.budget,
                    "short_by": total_floor - model.budget,
                    "detail": f"the city floors total {total_floor:,.0f} ({len(model.floors)} cities) but the fund "
                              f"may commit only {model.budget:,.0f}"})
    for city, f in model.floors.items():
        if cons.city_ceiling_share is not None and f > cons.city_ceiling_share * model.budget * (1 + 1e-9):
            lim = cons.city_ceiling_share * model.budget
            out.append({"constraint": f"floor of {city}", "family": "floor", "limit": f, "short_by": f - lim,
                        "detail": f"city {city}'s floor {f:,.0f} is above the city ceiling "
                                  f"({cons.city_ceiling_share:.1%} of the budget = {lim:,.0f})"})
            continue
        pipeline = float(model.cost[(cities == city) & selectable].sum())
        if f > pipeline * (1 + 1e-9):
            out.append({"constraint": f"floor of {city}", "family": "floor", "limit": f, "short_by": f - pipeline,
                        "detail": f"city {city}'s floor {f:,.0f} exceeds the whole of its fundable pipeline "
                                  f"({pipeline:,.0f})"})
    return out


def _elastic(model: _Model) -> list[dict]:
    """Rows that must be relaxed for a portfolio to exist: slack on every cap/budget/floor/ceiling/sector
    row, minimising the slacks relative to their limits."""
    lp, relax = _assemble(model, elastic=True)
    cons = Constraints(**{**model.cons.__dict__, "mip_rel_gap": 1e-6, "time_limit": min(model.cons.time_limit, 30)})
    status, _info, sol, _secs, _hs = _run(lp, cons)
    if sol is None:
        return []
    base = model.ncols
    out = []
    for j, (r, _sense, _s) in enumerate(relax):
        slack = float(sol[base + j]) * model.scale
        fam, name, _se, rhs, _c, detail = model.rows[r]
        if slack > max(abs(rhs), 1.0) * 1e-7:
            out.append({"constraint": name, "family": fam, "limit": rhs, "short_by": slack,
                        "detail": f"{detail}: cannot hold with the other rules (short by {slack:,.0f})"})
    out.sort(key=lambda b: -b["short_by"] / max(abs(b["limit"]), 1.0))
    return out


def _infeasible_message(binding: list[dict]) -> str:
    head = binding[0]
    more = ""
    if len(binding) > 1:
        more = f" (and {len(binding) - 1} more: {', '.join(b['constraint'] for b in binding[1:4])})"
    return f"no portfolio meets every rule; binding: {head['constraint']} - {head['detail']}{more}"


# the spreadsheet method --------------------------------------------------------------------------
def greedy(projects, instruments: Sequence[Instrument], constraints: Constraints | None = None, *,
           rank_by: str = "cost_per_tonne", discount_rate: float = 0.06) -> GreedyResult:
    """Walk down the cost-per-tonne (MAC) curve: take each project whose cost still fits.

    ``rank_by``: ``cost_per_tonne`` (capital cost per unit of the objective, i.e. fund money per lifetime
    tonne) or ``mac`` (levelised cost per annual tonne, :func:`finance.levelised_cost_per_tonne`).

    Rules honoured as the walk goes: budget, instrument caps and shares, loan coverage, city ceilings,
    sector limits, requires (a project comes with what it requires, all or nothing) and excludes.
    City floors are served first by each city's own best projects; floors it still misses are reported
    in ``violations`` (the spreadsheet cannot look ahead).
    """
    from .finance import levelised_cost_per_tonne

    cons = constraints or Constraints()
    model = _build(projects, instruments, cons)
    df = model.df
    n = df.height
    ids = df["id"].to_list()
    cost = model.cost
    w = model.w
    if rank_by == "cost_per_tonne":
        with np.errstate(divide="ignore"):
            key = np.where(w > 0, cost / np.where(w > 0, w, 1), np.inf)
    elif rank_by == "mac":
        key = levelised_cost_per_tonne(cost, df["annual_saving"].to_numpy(), df["lifetime_years"].to_numpy(),
                                       df["annual_abatement"].to_numpy(), discount_rate)
        key = np.where(np.isfinite(key), key, np.inf)
    else:
        raise InvalidInput("rank_by must be cost_per_tonne or mac", field="rank_by")
    order = np.lexsort((np.arange(n), key))
    chosen, violations = _fill(model, order, np.isfinite(key))
    years = _years(df, cons)
    return GreedyResult(rank_by=rank_by, objective=float(w[chosen].sum()),
                        abatement_t=float((df["annual_abatement"].to_numpy() * years)[chosen].sum()),
                        committed=float(cost[chosen].sum()),
                        chosen=sorted(np.array(ids, dtype=object)[chosen].tolist()),
                        allocations=_alloc_frame(model, _split(model, chosen)), violations=violations)


def _fill(model: _Model, order: np.ndarray, usable: np.ndarray):
    """Take projects in ``order`` (floors first, city by city), each with what it requires, whenever the
    rules still allow; returns (chosen mask, violations). Financing is checked exactly with the model's
    cut rows, or (explicit model: several loans on a project) by a split found walking the instruments."""
    cons = model.cons
    df = model.df
    n = df.height
    ids = df["id"].to_list()
    cost = model.cost
    inst = model.inst
    cap_left = np.array([i.cap for i in inst], dtype=float)
    budget_left = model.budget
    cities = df["city"].to_numpy()
    sectors = df["sector"].to_numpy()
    city_lim = (cons.city_ceiling_share * model.budget) if cons.city_ceiling_share is not None else math.inf
    sector_lim = {}
    for s in set(cons.sector_max_share) | set(cons.sector_max):
        sector_lim[s] = min([cons.sector_max_share[s] * model.budget] if s in cons.sector_max_share else [math.inf]
                            + ([float(cons.sector_max[s])] if s in cons.sector_max else []))
    city_used: dict[str, float] = {}
    sector_used: dict[str, float] = {}
    chosen = np.zeros(n, dtype=bool)
    index = {p: k for k, p in enumerate(ids)}
    req = [[index[r] for r in rs] for rs in df["requires"].to_list()]
    exc = [set() for _ in range(n)]
    for k, ex in enumerate(df["excludes"].to_list()):
        for q in ex:
            exc[k].add(index[q])
            exc[index[q]].add(k)
    pairs_of: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    for p, i, u in zip(model.pair_p, model.pair_i, model.pair_ub):
        pairs_of[p].append((int(i), float(u)))
    for lst in pairs_of:
        lst.sort(key=lambda t: (_GREEDY_ORDER[inst[t[0]].kind], t[0]))
    saving = np.clip(df["annual_saving"].to_numpy(), 0, None) / cons.min_dscr
    cuts = [r for r in model.rows if r[0] == "cap"] if not model.explicit else []
    cut_d = np.zeros((len(cuts), n))
    for j, (_f, _nm, _se, _rhs, (cols, coefs), _d) in enumerate(cuts):
        cut_d[j, cols] = coefs
    cut_cap = np.array([r[3] for r in cuts])
    cut_used = np.zeros(len(cuts))

    def try_add(k: int) -> bool:
        nonlocal budget_left
        if chosen[k] or model.x_ub[k] == 0:
            return False
        bundle, stack = {k}, [k]
        while stack:
            q = stack.pop()
            for r in req[q]:
                if not chosen[r] and r not in bundle:
                    bundle.add(r)
                    stack.append(r)
        if any(model.x_ub[q] == 0 for q in bundle):
            return False
        members = sorted(bundle)
        for q in members:
            if any(chosen[e] or e in bundle for e in exc[q]):
                return False
        need = float(cost[members].sum())
        if need > budget_left * (1 + 1e-12):
            return False
        dc: dict[str, float] = {}
        ds: dict[str, float] = {}
        for q in members:
            dc[cities[q]] = dc.get(cities[q], 0.0) + cost[q]
            ds[sectors[q]] = ds.get(sectors[q], 0.0) + cost[q]
        if any(city_used.get(c, 0.0) + v > city_lim * (1 + 1e-12) for c, v in dc.items()):
            return False
        if any(sector_used.get(s, 0.0) + v > sector_lim.get(s, math.inf) * (1 + 1e-12) for s, v in ds.items()):
            return False
        if model.explicit:  # a split found walking the instruments (repayable money first)
            left = cap_left.copy()
            for q in members:
                rest = cost[q]
                cover = saving[q]
                for i, u in pairs_of[q]:
                    take = min(rest, u, left[i])
                    if inst[i].kind == "loan":
                        take = min(take, cover / inst[i].debt_service_factor)
                        cover -= take * inst[i].debt_service_factor
                    if take > 0:
                        left[i] -= take
                        rest -= take
                    if rest <= cost[q] * 1e-12:
                        break
                if rest > cost[q] * 1e-9:
                    return False
        else:  # exact: the supply-demand (cut) rows of the model
            add = cut_d[:, members].sum(axis=1)
            if (cut_used + add > cut_cap * (1 + 1e-9)).any():
                return False
            cut_used[:] += add
            left = cap_left
        cap_left[:] = left
        budget_left -= need
        for c, v in dc.items():
            city_used[c] = city_used.get(c, 0.0) + v
        for s, v in ds.items():
            sector_used[s] = sector_used.get(s, 0.0) + v
        chosen[members] = True
        return True

    for city, f in sorted(model.floors.items()):
        for k in order:
            if city_used.get(city, 0.0) >= f:
                break
            if cities[k] == city:
                try_add(int(k))
    for k in order:
        if usable[k]:
            try_add(int(k))
    violations = [f"floor of {c}: {city_used.get(c, 0.0):,.0f} of {f:,.0f}"
                  for c, f in sorted(model.floors.items()) if city_used.get(c, 0.0) < f * (1 - 1e-9)]
    return chosen, violations


def _alloc_frame(model: _Model, y: np.ndarray) -> pl.DataFrame:
    ids = model.df["id"].to_numpy()
    keep = y > 0
    return pl.DataFrame({"project": ids[model.pair_p[keep]].tolist(),
                         "instrument": [model.inst[i].id for i in model.pair_i[keep]],
                         "amount": y[keep].tolist()},
                        schema={"project": pl.String, "instrument": pl.String, "amount": pl.Float64}
                        ).sort("project", "instrument")


def compare(exact: PlanResult, spreadsheet: GreedyResult) -> dict:
    """What the exact portfolio buys over the spreadsheet method under the same rules and budget."""
    extra = exact.objective - spreadsheet.objective
    return {
        "exact_objective": exact.objective, "greedy_objective": spreadsheet.objective,
        "exact_abatement_t": exact.abatement_t, "greedy_abatement_t": spreadsheet.abatement_t,
        "extra_abatement_t": exact.abatement_t - spreadsheet.abatement_t,
        "extra_objective": extra,
        "extra_pct": (100.0 * extra / spreadsheet.objective) if spreadsheet.objective > 0 else None,
        "exact_committed": exact.committed, "greedy_committed": spreadsheet.committed,
        "only_exact": len(set(exact.chosen) - set(spreadsheet.chosen)),
        "only_greedy": len(set(spreadsheet.chosen) - set(exact.chosen)),
        "greedy_violations": spreadsheet.violations,
    }


def frontier(projects, instruments: Sequence[Instrument], constraints: Constraints | None = None, *,
             budgets: Iterable[float] | None = None, points: int = 10, rank_by: str = "cost_per_tonne",
             on_point=None) -> pl.DataFrame:
    """Efficient frontier: the best objective (and the greedy one) at each budget of a sweep.

    ``budgets`` default: ``points`` budgets evenly from 1/points of the caps' total to all of it.
    Returns columns budget, status, exact_abatement_t, exact_objective, greedy_abatement_t,
    greedy_objective, greedy_violations, committed, gap, seconds, message. ``on_point(k, total)`` is called
    after each point.

    Where the rules cannot all hold at a budget (``status`` infeasible or no_solution) the exact columns and
    ``committed`` are null, not 0: there is no portfolio. The greedy columns are null where the greedy walk
    misses a rule (``greedy_violations`` > 0, typically city floors above what the budget allows): its
    portfolio is then no answer to the plan, and comparing it with the exact one would be misleading (it
    can hold more abatement precisely because it ignores the floors).
    """
    cons = constraints or Constraints()
    df = _frame(projects)
    total = float(sum(i.cap for i in instruments))
    bs = list(budgets) if budgets is not None else [total * (k + 1) / points for k in range(points)]
    rows = []
    for k, b in enumerate(bs):
        c = Constraints(**{**cons.__dict__, "budget": float(b)})
        gr = greedy(df, instruments, c, rank_by=rank_by)
        ex = solve(df, instruments, c, diagnose=False, start=gr)
        solved = ex.status in ("optimal", "feasible")
        gr_ok = not gr.violations
        rows.append({"budget": float(b), "status": ex.status,
                     "exact_abatement_t": ex.abatement_t if solved else None,
                     "exact_objective": ex.objective if solved else None,
                     "greedy_abatement_t": gr.abatement_t if gr_ok else None,
                     "greedy_objective": gr.objective if gr_ok else None,
                     "greedy_violations": len(gr.violations),
                     "committed": ex.committed if solved else None, "gap": ex.gap,
                     "seconds": ex.seconds, "message": ex.message})
        if on_point:
            on_point(k + 1, len(bs))
    return pl.DataFrame(rows, schema={"budget": pl.Float64, "status": pl.String, "exact_abatement_t": pl.Float64,
                                      "exact_objective": pl.Float64, "greedy_abatement_t": pl.Float64,
                                      "greedy_objective": pl.Float64, "greedy_violations": pl.Int64,
                                      "committed": pl.Float64, "gap": pl.Float64,
                                      "seconds": pl.Float64, "message": pl.String})
