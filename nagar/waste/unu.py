"""E-waste generated and stock in use by the sales-stock-lifespan model of the UN University.

The model (Forti, Baldé & Kuehr 2018, *E-waste Statistics: Guidelines on Classification, Reporting and
Indicators*, 2nd ed., UNU-ViE SCYCLE, section 4 "sales-lifespan"; used by the Global E-waste Monitor
2020 and 2024, Baldé et al.): equipment put on the market (POM) in year p is discarded over the following
years following a Weibull lifespan distribution of its UNU-KEY,

    F(x; α, β) = 1 - exp(-(x / β) ** α)          x > 0, else 0     (α shape, β scale in years)

    E-waste generated W(t) = Σ_{p ≤ t} POM(p) · L(t, p)
    L(t, p)   = F(t - p + 0.5) - F(t - p - 0.5)                     (F(x) = 0 for x ≤ 0)
    Stock S(t) = Σ_{p ≤ t} POM(p) · (1 - F(t - p + 0.5))

**Discretisation.** Sales of a year are taken to happen at mid-year and a year's discards are those
whose lifespan ends within that calendar year, so the share of cohort p discarded in year t is the
probability mass of the Weibull between t - p - 0.5 and t - p + 0.5 (the first year gets the mass of
[0, 0.5]). This is the interval form of the guidelines' L(p, n); the CBS/UNU "Waste over Time" R
script (github.com/Statistics-Netherlands/ewaste, scripts/04_WEEE_calculations.R) instead evaluates
the density at the midpoint, ``dweibull(t - p + 0.5)``, which does not sum to exactly one. The
interval form telescopes: Σ_{s = p..t} L(s, p) = F(t - p + 0.5), so with the stock defined with the
same F the mass balance holds exactly:

    Σ_{p ≤ t} POM(p) = Σ_{s ≤ t} W(s) + S(t)

Everything is vectorised over keys and years with NumPy: POM is a (keys × years) array in kg.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

DATA = Path(__file__).with_name("data") / "unu_keys.json"

CATEGORIES = {1: "Temperature exchange equipment", 2: "Screens and monitors", 3: "Lamps", 4: "Large equipment",
              5: "Small equipment", 6: "Small IT and telecommunication equipment"}
"""The six EEE categories of the EU WEEE Directive 2012/19/EU Annex III, as used by the GEM."""


@dataclass(frozen=True)
class UnuKey:
    key: str
    name: str
    category: int
    shape: float
    scale: float
    avg_weight_kg: float | None
    weibull_source: str
    avg_weight_source: str


@lru_cache(maxsize=1)
def key_table() -> dict:
    """The shipped JSON (keys, categories and sources)."""
    return json.loads(DATA.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def load_keys() -> dict[str, UnuKey]:
    """The 54 UNU-KEYs by key ("0108"), with their category, Weibull parameters and average weight."""
    return {k["key"]: UnuKey(key=k["key"], name=k["name"], category=int(k["category"]), shape=float(k["shape"]),
                             scale=float(k["scale"]), avg_weight_kg=k.get("avg_weight_kg"),
                             weibull_source=k["weibull_source"], avg_weight_source=k["avg_weight_source"])
            for k in key_table()["keys"]}


def weibull_cdf(x, shape, scale) -> np.ndarray:
    """Weibull cumulative distribution F(x) = 1 - exp(-(x/β)^α) for x > 0, 0 otherwise.

    Parameters
    ----------
    x : array_like
        Age [years].
    shape, scale : array_like
        α [-] and β [years], broadcast against ``x``.
    """
    x = np.asarray(x, dtype=float)
    pos = np.maximum(x, 0.0)
    out = -np.expm1(-np.power(pos / np.asarray(scale, dtype=float), np.asarray(shape, dtype=float)))
    return np.where(x > 0, out, 0.0)


def _cdf_grid(n_years: int, shapes: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """F(t - p + 0.5) for every key, t and p: array (keys, t, p); zero where p > t."""
    t = np.arange(n_years)
    age = (t[:, None] - t[None, :]).astype(float)  # t - p
    F = weibull_cdf(age[None, :, :] + 0.5, shapes[:, None, None], scales[:, None, None])
    return np.where(age[None, :, :] >= 0, F, 0.0)


def discard_shares(n_years: int, shapes, scales) -> np.ndarray:
    """L(t, p) = F(t-p+0.5) - F(t-p-0.5) (Forti et al. 2018 sales-lifespan model, interval
    discretisation, see the module docstring) for each key: array (keys, t, p), zero for p > t."""
    shapes, scales = np.atleast_1d(np.asarray(shapes, float)), np.atleast_1d(np.asarray(scales, float))
    hi = _cdf_grid(n_years, shapes, scales)
    lo = np.zeros_like(hi)
    lo[:, 1:, :] = hi[:, :-1, :]  # F(t-1-p+0.5) = F(t-p-0.5); zero where t-p-0.5 < 0
    return hi - lo


def generation_and_stock(pom, shapes, scales) -> tuple[np.ndarray, np.ndarray]:
    """E-waste generated and stock in use per key and year (Forti et al. 2018; Baldé et al., GEM 2020/2024).

    Parameters
    ----------
    pom : array_like, shape (keys, years)
        Put on market [kg] in consecutive years; a year without data is zero.
    shapes, scales : array_like, shape (keys,)
        Weibull α [-] and β [years] of each key.

    Returns
    -------
    (generated, stock) : two arrays (keys, years) [kg]: W(t) = Σ_p POM(p)·L(t,p) and
    S(t) = Σ_{p≤t} POM(p)·(1 - F(t-p+0.5)).
    """
    pom = np.atleast_2d(np.asarray(pom, dtype=float))
    n = pom.shape[1]
    shapes, scales = np.atleast_1d(np.asarray(shapes, float)), np.atleast_1d(np.asarray(scales, float))
    if shapes.shape[0] != pom.shape[0] or scales.shape[0] != pom.shape[0]:
        raise ValueError("one shape and one scale per key (row of pom)")
    if np.any(shapes <= 0) or np.any(scales <= 0):
        raise ValueError("Weibull shape and scale must be positive")
    L = discard_shares(n, shapes, scales)
    generated = np.einsum("ktp,kp->kt", L, pom)
    F = _cdf_grid(n, shapes, scales)
    born = np.tri(n, dtype=float)  # [t, p] = 1 where p <= t
    stock = np.einsum("ktp,kp->kt", born[None, :, :] - F, pom)
    return generated, stock


def estimate(pom_rows: list[dict], *, keys: dict[str, UnuKey] | None = None, start: int | None = None,
             end: int | None = None, population: dict[int, float] | float | None = None) -> dict:
    """Run the model on POM rows ``{"year", "unu_key", "kg"}`` and sum per EEE category and year.

    The model runs from the first POM year to ``end`` (default: the last POM year); years in
    [``start``, ``end``] are reported. ``population`` (inhabitants, one figure or per year) adds kg per
    inhabitant. Returns ``{"years": [...], "categories": {cat: {"generated": [...], "stock": [...],
    "pom": [...]}}, "total": {...}, "keys": [...], "kg_per_inhabitant": [...] | None}``.
    """
    keys = keys or load_keys()
    if not pom_rows:
        raise ValueError("no POM data")
    used = sorted({r["unu_key"] for r in pom_rows})
    unknown = [k for k in used if k not in keys]
    if unknown:
        raise ValueError(f"unknown UNU-KEY(s): {', '.join(unknown)}")
    first = min(int(r["year"]) for r in pom_rows)
    last = max(int(r["year"]) for r in pom_rows)
    end = last if end is None else int(end)
    start = first if start is None else int(start)
    if end < first:
        raise ValueError(f"'to' year {end} is before the first POM year {first}")
    if start > end:
        raise ValueError(f"'from' year {start} is after the 'to' year {end}")
    n = end - first + 1
    idx = {k: i for i, k in enumerate(used)}
    pom = np.zeros((len(used), n))
    for r in pom_rows:
        y = int(r["year"])
        if y <= end:
            pom[idx[r["unu_key"]], y - first] += float(r["kg"])
    shapes = np.array([keys[k].shape for k in used])
    scales = np.array([keys[k].scale for k in used])
    gen, stock = generation_and_stock(pom, shapes, scales)
    years = list(range(first, end + 1))
    sel = [i for i, y in enumerate(years) if y >= start]
    cats = np.array([keys[k].category for k in used])
    out_cats = {}
    for c in sorted(set(cats.tolist())):
        m = cats == c
        out_cats[c] = {"name": CATEGORIES[c], "pom": pom[m].sum(0)[sel].tolist(),
                       "generated": gen[m].sum(0)[sel].tolist(), "stock": stock[m].sum(0)[sel].tolist()}
    total_gen = gen.sum(0)[sel]
    result = {"years": [years[i] for i in sel], "first_pom_year": first, "categories": out_cats,
              "total": {"pom": pom.sum(0)[sel].tolist(), "generated": total_gen.tolist(),
                        "stock": stock.sum(0)[sel].tolist()},
              "keys": used, "kg_per_inhabitant": None}
    if population is not None:
        pops = [population.get(years[i]) if isinstance(population, dict) else population for i in sel]
        result["kg_per_inhabitant"] = [None if not p else float(g) / float(p) for g, p in zip(total_gen, pops)]
    return result
