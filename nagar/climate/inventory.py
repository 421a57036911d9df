"""A city's GHG inventory in the GPC structure, from activity data and emission factors. Pure: frames in,
frames out, no I/O.

Activity rows (one per city, year, kind, sub-sector, item, location; see :mod:`nagar.climate.gpc`):

=============  =====================================  ===============================================
kind           item                                   quantity / unit
=============  =====================================  ===============================================
fuel           fuel key (``fuels.csv``)               energy (TJ, GJ, MJ, PJ, kWh, MWh, GWh) or mass
                                                      (kg, t, kt, Gg: converted with the NCV); any
                                                      unit with ``params.ncv_tj_per_unit``
electricity    ``""``                                 kWh, MWh, GWh of grid electricity consumed
waste          landfill, composting,                  t (wet weight); landfill rows of every past year
               anaerobic_digestion, incineration,     feed the first-order decay
               open_burning
wastewater     pathway key (``wastewater.json``)      persons served by that pathway
notation       NO, IE, NE or C                        none: declares the notation key of the GPC
                                                      reference number in ``subsector``
=============  =====================================  ===============================================

``params`` (a dict) refines a row: ``technology`` (road motor gasoline: uncontrolled,
oxidation_catalyst, low_mileage_1995; off-road gasoline: four_stroke, two_stroke), ``ncv_tj_per_unit``;
for landfill ``composition`` ({component: wet-weight fraction}) or ``doc``, ``site`` (an MCF key) or
``mcf``, ``ox``, ``recovered_ch4_t``, ``climate``, ``k`` or ``half_life_years`` (bulk waste); for
incineration and open burning ``composition``; for wastewater ``bod_g_per_person_day`` (required),
``protein_kg_per_person_year`` (for N2O; without it N2O is not estimated), ``collected``,
``recovered_ch4_t``.

The result lists every emission per activity row and gas (``emissions``), the GPC reporting table with
a notation key where nothing was estimated (``table``), BASIC / BASIC+ / territorial totals, and the
factors used with their sources.

GWP: CH4 from fossil fuel combustion uses the fossil GWP, CH4 from biomass combustion, waste and
wastewater the non-fossil GWP (the two differ in AR6 only). Grid electricity factors published in CO2
count as CO2; those published in CO2e enter the CO2e total only. Biogenic CO2 (biomass fuels, biogenic
carbon in burnt waste) is a memo item outside the totals, as the GPC requires.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from . import factors as fx
from . import gpc
from .waste import (biological_treatment, combustion_co2, landfill_methane, wastewater_methane, wastewater_n2o)

ENERGY_TJ = {"TJ": 1.0, "GJ": 1e-3, "MJ": 1e-6, "PJ": 1e3, "kWh": 3.6e-6, "MWh": 3.6e-3, "GWh": 3.6}
MASS_GG = {"kg": 1e-6, "t": 1e-3, "kt": 1.0, "Gg": 1.0}
ELECTRICITY_MWH = {"kWh": 1e-3, "MWh": 1.0, "GWh": 1e3}
WASTE_T = {"kg": 1e-3, "t": 1.0, "kt": 1e3, "Gg": 1e3}
PERSONS = {"persons": 1.0, "people": 1.0, "capita": 1.0}
UNITS = {"fuel": {**ENERGY_TJ, **MASS_GG}, "electricity": ELECTRICITY_MWH, "waste": WASTE_T, "wastewater": PERSONS}
KINDS = ("fuel", "electricity", "waste", "wastewater", "notation")
DEFAULT_TECHNOLOGY = {("road", "motor_gasoline"): "uncontrolled", ("offroad", "motor_gasoline"): "four_stroke"}
EMISSION_COLUMNS = {"activity_id": pl.Int64, "year": pl.Int64, "kind": pl.String, "ref": pl.String,
                    "item": pl.String, "gas": pl.String, "origin": pl.String, "t": pl.Float64,
                    "factor_ids": pl.String}
TABLE_COLUMNS = ("sector", "sector_name", "subsector", "subsector_name", "ref", "scope", "description",
                 "co2_t", "ch4_t", "n2o_t", "co2e_t", "co2_biogenic_t", "notation", "explanation", "basic",
                 "basic_plus", "factor_ids")


@dataclass
class Inventory:
    """An inventory for one city and year (see the module docstring)."""

    year: int
    gwp: str
    country: str | None
    table: pl.DataFrame
    emissions: pl.DataFrame
    totals: dict
    factors: list[dict]
    landfill: dict[str, dict] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    city: str | None = None


def _params(p) -> dict:
    if p is None or p == "":
        return {}
    if isinstance(p, str):
        return json.loads(p)
    return dict(p)


def normalise_activity(rows) -> list[dict]:
    """Activity rows as plain dicts with parsed ``params`` and default columns filled in."""
    if isinstance(rows, pl.DataFrame):
        rows = rows.to_dicts()
    out = []
    for i, r in enumerate(rows):
        d = {"id": r.get("id", i + 1), "year": int(r["year"]), "kind": r["kind"], "subsector": r["subsector"],
             "item": r.get("item") or "", "location": r.get("location") or "in", "quantity": r.get("quantity"),
             "unit": r.get("unit"), "params": _params(r.get("params")), "source": r.get("source"),
             "note": r.get("note")}
        out.append(d)
    return out


class _Collector:
    """Emission rows (long format) and the factors they used."""

    def __init__(self):
        self.rows: list[dict] = []
        self.factors: dict[str, fx.Factor] = {}
        self.unestimated: dict[str, str] = {}

    def use(self, f: fx.Factor) -> str:
        self.factors.setdefault(f.id, f)
        return f.id

    def add(self, a: dict, ref: str, gas: str, t: float, origin: str, factor_ids: list[str]) -> None:
        self.rows.append({"activity_id": a["id"], "year": a["year"], "kind": a["kind"], "ref": ref,
                          "item": a["item"], "gas": gas, "origin": origin, "t": float(t),
                          "factor_ids": ",".join(dict.fromkeys(factor_ids))})


# energy -----------------------------------------------------------------------------------------------
def _fuel_emissions(rows: list[dict], fs: fx.FactorSet, col: _Collector) -> None:
    if not rows:
        return
    fuels = fx.fuels()
    fuel_info = {r["fuel"]: r for r in fuels.iter_rows(named=True)}
    comb = fx.combustion_table()
    user_ncv = {u["item"]: u for u in sorted(fs.user_rows("ncv"), key=lambda u: u["year"])}
    frame = []
    for a in rows:
        if a["item"] not in fuel_info:
            raise ValueError(f"unknown fuel {a['item']!r}; known: {', '.join(fuel_info)}")
        table = gpc.COMBUSTION_TABLE[a["subsector"]]
        tech = a["params"].get("technology") or DEFAULT_TECHNOLOGY.get((table, a["item"]), "")
        q, unit, ids = float(a["quantity"]), a["unit"], []
        if "ncv_tj_per_unit" in a["params"]:
            tj = q * float(a["params"]["ncv_tj_per_unit"])
        elif unit in ENERGY_TJ:
            tj = q * ENERGY_TJ[unit]
        elif unit in MASS_GG:
            u = user_ncv.get(a["item"])
            if u is not None:
                ncv = float(u["value"])
                ids.append(col.use(fx.Factor(f"user:{u.get('id')}", f"net calorific value {a['item']}", ncv, "TJ/Gg",
                                             u["source"], int(u["year"]))))
            else:
                fi = fuel_info[a["item"]]
                ncv = float(fi["ncv_tj_per_gg"])
                ids.append(col.use(fx.Factor(f"ipcc2006:ncv:{a['item']}", f"net calorific value {fi['name']}", ncv,
                                             "TJ/Gg", "IPCC 2006 Guidelines Vol. 2 Ch. 1 Table 1.2", 2006)))
            tj = q * MASS_GG[unit] * ncv
        else:
            raise ValueError(f"unit {unit!r} is not an energy or mass unit for fuel {a['item']}")
        frame.append({"activity_id": a["id"], "table": table, "fuel": a["item"], "technology": tech, "tj": tj,
                      "subsector": a["subsector"], "pre_ids": ",".join(ids)})
    df = pl.DataFrame(frame)
    joined = df.join(comb.select("table", "fuel", "technology", "gas", "value", "id", "source", "year"),
                     on=["table", "fuel", "technology"], how="left")
    missing = joined.filter(pl.col("value").is_null())
    if missing.height:
        m = missing.row(0, named=True)
        raise ValueError(f"no IPCC default factor for {m['fuel']} in {m['table']} combustion"
                         f"{' with technology ' + m['technology'] if m['technology'] else ''}; add a city factor")
    # a city's own combustion factors: a sub-sector-specific one beats a general one; the latest year wins
    user = {}
    for u in sorted(fs.user_rows("combustion"), key=lambda u: (u.get("sector") != "", u["year"])):
        user[(u["item"], u.get("sector") or "", u["gas"])] = u
    by_id = {a["id"]: a for a in rows}
    for r in joined.iter_rows(named=True):
        a = by_id[r["activity_id"]]
        u = user.get((r["fuel"], r["subsector"], r["gas"])) or user.get((r["fuel"], "", r["gas"]))
        if u is not None:
            value = float(u["value"])
            fid = col.use(fx.Factor(f"user:{u.get('id')}",
                                    f"{u['gas'].upper()} {r['fuel']} ({u.get('sector') or 'all'})",
                                    value, "kg/TJ", u["source"], int(u["year"])))
        else:
            value = float(r["value"])
            fid = col.use(fx.Factor(r["id"], f"{r['gas'].upper()} {r['fuel']} {r['table']} combustion"
                                             f"{' (' + r['technology'] + ')' if r['technology'] else ''}",
                                    value, "kg/TJ", r["source"], int(r["year"])))
        biogenic = bool(fuel_info[r["fuel"]]["biogenic"])
        gas = "co2_biogenic" if (r["gas"] == "co2" and biogenic) else r["gas"]
        ids = [i for i in r["pre_ids"].split(",") if i] + [fid]
        ref = gpc.ref_for("fuel", a["subsector"], a["location"])
        col.add(a, ref, gas, r["tj"] * value / 1000.0, "nonfossil" if biogenic else "fossil", ids)


def _electricity_emissions(rows: list[dict], fs: fx.FactorSet, col: _Collector, *, country, year, grid_region,
                           warnings: list[str]) -> None:
    if not rows:
        return
    f, gas, warn = fx.grid_factor(fs, country=country, year=year, region=grid_region)
    if warn:
        warnings.append(warn)
    for a in rows:
        ref = gpc.ref_for("electricity", a["subsector"], a["location"])
        mwh = float(a["quantity"]) * ELECTRICITY_MWH[a["unit"]]
        if f is None:
            col.unestimated[ref] = f"grid electricity {mwh:g} MWh not converted: {warn}"
            continue
        col.add(a, ref, "co2e" if gas == "co2e" else "co2", mwh * f.value, "fossil", [col.use(f)])


# waste ------------------------------------------------------------------------------------------------
def _composition(a: dict, waste: dict) -> dict[str, float]:
    comp = a["params"].get("composition")
    if not comp:
        return {}
    unknown = [c for c in comp if c not in waste["components"] or c.startswith("_")]
    if unknown:
        raise ValueError(f"unknown waste component(s) {', '.join(unknown)}; known: "
                         f"{', '.join(c for c in waste['components'] if not c.startswith('_'))}")
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) for v in comp.values()):
        raise ValueError("waste composition fractions must be numbers")
    total = sum(float(v) for v in comp.values())
    if total > 1.0 + 1e-6 or any(float(v) < 0 for v in comp.values()):
        raise ValueError("waste composition fractions must be >= 0 and add up to at most 1")
    return {c: float(v) for c, v in comp.items()}


def _waste_factor(col: _Collector, key: str, description: str, value, unit: str, source: str) -> str:
    return col.use(fx.Factor(f"ipcc2006:waste:{key}", description, value, unit, source, 2006))


def _landfill(history: list[dict], col: _Collector, *, year: int, climate: str, warnings: list[str]) -> dict:
    """FOD per location over all deposit years <= ``year``; adds the year's CH4 and returns the series."""
    waste = fx.waste_parameters()
    comps = [c for c, v in waste["components"].items() if not c.startswith("_") and v.get("k")]
    series = {}
    by_loc: dict[str, list[dict]] = {}
    for a in history:
        by_loc.setdefault(a["location"], []).append(a)
    src_comp = waste["components"]["_source"]
    for loc, rows in sorted(by_loc.items()):
        rows.sort(key=lambda a: a["year"])
        y0 = rows[0]["year"]
        years = np.arange(y0, year + 1)
        ny, names = len(years), comps + ["bulk"]
        w = np.zeros((len(names), ny))
        doc = np.zeros((len(names), ny))
        mcf = np.zeros(ny)
        for i, c in enumerate(comps):
            doc[i, :] = waste["components"][c]["doc"]
        latest = rows[-1]
        clim = latest["params"].get("climate") or climate
        if clim not in fx.CLIMATE_ZONES:
            raise ValueError(f"unknown climate zone {clim!r}; use one of {', '.join(fx.CLIMATE_ZONES)}")
        bulk_k = waste["bulk_k"][clim]
        ids = []
        for a in rows:
            j = a["year"] - y0
            t = float(a["quantity"]) * WASTE_T[a["unit"]]
            p = a["params"]
            comp = _composition(a, waste)
            if comp:
                for c, frac in comp.items():
                    if c in comps:
                        w[comps.index(c), j] += t * frac
                ids.append(_waste_factor(col, "doc", "DOC by waste component (wet weight)", None, "fraction", src_comp))
            elif "doc" in p:
                w[-1, j] += t
                doc[-1, j] = float(p["doc"])
            else:
                raise ValueError(f"landfill row for {a['year']} needs params.composition or params.doc")
            if "mcf" in p:
                mcf[j] = float(p["mcf"])
            else:
                site = p.get("site", "uncategorised")
                if site not in waste["mcf"] or site.startswith("_"):
                    raise ValueError(f"unknown landfill site type {site!r}")
                mcf[j] = waste["mcf"][site]
                ids.append(_waste_factor(col, f"mcf:{site}", f"methane correction factor ({site.replace('_', ' ')})",
                                         mcf[j], "fraction", waste["mcf"]["_source"]))
            if "half_life_years" in p:
                bulk_k = math.log(2.0) / float(p["half_life_years"])
            elif "k" in p:
                bulk_k = float(p["k"])
        k = np.array([waste["components"][c]["k"][clim] for c in comps] + [bulk_k])
        ids.append(_waste_factor(col, f"k:{clim}", f"decay rate k by component, {clim.replace('_', ' ')} climate",
                                 None, "1/yr", src_comp))
        ids.append(_waste_factor(col, "docf", "fraction of DOC decomposing (DOCf)", waste["docf"]["value"], "fraction",
                                 waste["docf"]["_source"]))
        ids.append(_waste_factor(col, "f", "fraction of CH4 in landfill gas (F)", waste["f"]["value"], "fraction",
                                 waste["f"]["_source"]))
        # OX is a property of the site: it holds from the year a row sets it; recovery is per year
        ox = np.full(ny, np.nan)
        recovered = np.zeros(ny)
        for a in rows:
            if "ox" in a["params"]:
                ox[a["year"] - y0] = float(a["params"]["ox"])
            recovered[a["year"] - y0] = float(a["params"].get("recovered_ch4_t", 0.0))
        ox[0] = waste["ox"]["default"] if np.isnan(ox[0]) else ox[0]
        for j in range(1, ny):
            ox[j] = ox[j - 1] if np.isnan(ox[j]) else ox[j]
        ids.append(_waste_factor(col, f"ox:{ox[-1]:g}", "oxidation factor (OX)", float(ox[-1]), "fraction",
                                 waste["ox"]["_source"]))
        res = landfill_methane(w, doc=doc, k=k, mcf=mcf, docf=waste["docf"]["value"], f=waste["f"]["value"],
                               ox=ox, recovered_t=recovered)
        this_year = [a for a in rows if a["year"] == year]
        anchor = this_year[0] if this_year else {**latest, "id": latest["id"], "year": year}
        ref = gpc.ref_for("waste", "III.1", loc)
        col.add({**anchor, "item": "landfill", "kind": "waste"}, ref, "ch4", res["ch4_emitted"][-1], "nonfossil", ids)
        series[loc] = {"years": years.tolist(), **{k2: v.tolist() for k2, v in res.items()}}
        if year - y0 < 50:
            warnings.append(f"landfill deposits ({loc}) start in {y0}: methane from waste deposited earlier is "
                            "missing (IPCC 2006 Vol. 5 Section 3.2.2 suggests about 50 years of disposal history)")
    return series


def _other_waste(rows: list[dict], col: _Collector) -> None:
    waste = fx.waste_parameters()
    comps = waste["components"]
    for a in rows:
        ref = gpc.ref_for("waste", gpc.WASTE_TREATMENTS[a["item"]], a["location"])
        t = float(a["quantity"]) * WASTE_T[a["unit"]]
        if a["item"] in ("composting", "anaerobic_digestion"):
            p = waste[a["item"]]
            fid = _waste_factor(col, a["item"], f"{a['item'].replace('_', ' ')} CH4 and N2O factors (wet weight)",
                                None, "g/kg", p["_source"])
            r = biological_treatment(t, ch4_g_per_kg=p["ch4_g_per_kg"], n2o_g_per_kg=p["n2o_g_per_kg"],
                                     recovered_t=float(a["params"].get("recovered_ch4_t", 0.0)))
            col.add(a, ref, "ch4", r["ch4"], "nonfossil", [fid])
            if p["n2o_g_per_kg"]:
                col.add(a, ref, "n2o", r["n2o"], "nonfossil", [fid])
            continue
        p = waste[a["item"]]  # incineration, open_burning
        comp = _composition(a, waste)
        if not comp:
            raise ValueError(f"{a['item']} row for {a['year']} needs params.composition (IPCC Eq. 5.2)")
        names = list(comp)
        co2 = combustion_co2(t, fractions=[comp[c] for c in names], dm=[comps[c]["dm"] for c in names],
                             cf=[comps[c]["cf"] for c in names], fcf=[comps[c]["fcf"] for c in names],
                             oxidation=p["oxidation"])
        ids = [_waste_factor(col, a["item"], f"{a['item'].replace('_', ' ')} factors", None, "various", p["_source"]),
               _waste_factor(col, "composition", "dry matter, carbon and fossil carbon fractions by component",
                             None, "fraction", comps["_source"])]
        col.add(a, ref, "co2", co2["co2"], "fossil", ids)
        col.add(a, ref, "co2_biogenic", co2["co2_biogenic"], "nonfossil", ids)
        col.add(a, ref, "ch4", t * p["ch4_kg_per_t"] / 1000.0, "nonfossil", ids)
        if a["item"] == "open_burning":
            dry = sum(comp[c] * comps[c]["dm"] for c in names)
            col.add(a, ref, "n2o", t * dry * p["n2o_g_per_t_dry"] / 1e6, "nonfossil", ids)
        else:
            col.add(a, ref, "n2o", t * p["n2o_g_per_t"] / 1e6, "nonfossil", ids)


def _wastewater(rows: list[dict], col: _Collector, warnings: list[str]) -> None:
    ww = fx.wastewater_parameters()
    for a in rows:
        path = ww["mcf"].get(a["item"])
        if path is None or a["item"].startswith("_"):
            raise ValueError(f"unknown wastewater pathway {a['item']!r}; known: "
                             f"{', '.join(k for k in ww['mcf'] if not k.startswith('_'))}")
        p = a["params"]
        if "bod_g_per_person_day" not in p:
            raise ValueError("wastewater rows need params.bod_g_per_person_day (IPCC 2006 Vol. 5 Table 6.4 lists "
                             "national values)")
        collected = bool(p.get("collected", path["collected"]))
        i_f = ww["i_factor"]["collected" if collected else "uncollected"]
        ref = gpc.ref_for("wastewater", "III.4", a["location"])
        pop = float(a["quantity"]) * PERSONS[a["unit"]]
        fids = [col.use(fx.Factor("ipcc2006:wastewater:bo", "maximum CH4 producing capacity Bo", ww["bo"]["value"],
                                  "kg CH4/kg BOD", ww["bo"]["_source"], 2006)),
                col.use(fx.Factor(f"ipcc2006:wastewater:mcf:{a['item']}", f"MCF {a['item'].replace('_', ' ')}",
                                  path["mcf"], "fraction", ww["mcf"]["_source"], 2006)),
                col.use(fx.Factor(f"ipcc2006:wastewater:i:{'collected' if collected else 'uncollected'}",
                                  "industrial BOD correction factor I", i_f, "factor", ww["i_factor"]["_source"],
                                  2006))]
        ch4 = wastewater_methane(pop, bod_g_per_person_day=float(p["bod_g_per_person_day"]), mcf=path["mcf"],
                                 bo=ww["bo"]["value"], i_factor=i_f, recovered_t=float(p.get("recovered_ch4_t", 0.0)))
        col.add(a, ref, "ch4", ch4, "nonfossil", fids)
        if "protein_kg_per_person_year" in p:
            n = ww["nitrogen"]
            nid = col.use(fx.Factor("ipcc2006:wastewater:nitrogen", "effluent nitrogen factors and N2O EF",
                                    n["ef_kg_n2o_n_per_kg_n"], "kg N2O-N/kg N", n["_source"], 2006))
            n2o = wastewater_n2o(pop, protein_kg_per_person_year=float(p["protein_kg_per_person_year"]),
                                 f_npr=n["f_npr"], f_non_con=n["f_non_con"], f_ind_com=n["f_ind_com"],
                                 ef=n["ef_kg_n2o_n_per_kg_n"])
            col.add(a, ref, "n2o", n2o, "nonfossil", [nid])
        else:
            warnings.append(f"wastewater ({a['item']}): no params.protein_kg_per_person_year, N2O not estimated")


# assembly ---------------------------------------------------------------------------------------------
def validate_row(a: dict) -> str | None:
    """The GPC reference number of an activity row; raises ValueError when the row cannot be used."""
    kind = a["kind"]
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    if kind == "notation":
        if a["subsector"] not in gpc.REF_INDEX:
            raise ValueError(f"a notation key names a GPC reference number (e.g. I.7.1), not {a['subsector']!r}")
        if a["item"] not in gpc.NOTATION_KEYS:
            raise ValueError(f"notation key must be one of {', '.join(gpc.NOTATION_KEYS)}")
        return a["subsector"]
    if kind == "waste":
        if a["item"] not in gpc.WASTE_TREATMENTS:
            raise ValueError(f"unknown waste treatment {a['item']!r}; use one of {', '.join(gpc.WASTE_TREATMENTS)}")
        if a["subsector"] != gpc.WASTE_TREATMENTS[a["item"]]:
            raise ValueError(f"{a['item']} belongs to sub-sector {gpc.WASTE_TREATMENTS[a['item']]}")
    if kind == "wastewater" and a["subsector"] != "III.4":
        raise ValueError("wastewater belongs to sub-sector III.4")
    ref = gpc.ref_for(kind, a["subsector"], a["location"])
    if ref is None:
        raise ValueError(f"no GPC reference number for {kind} in {a['subsector']} at location {a['location']!r}")
    q = a.get("quantity")
    if (q is None or isinstance(q, bool) or not isinstance(q, (int, float)) or not math.isfinite(q)
            or not 0 <= q <= 1e15):
        raise ValueError("quantity must be a finite number between 0 and 1e15")
    units = UNITS[kind]
    if a["unit"] not in units and not (kind == "fuel" and "ncv_tj_per_unit" in a["params"]):
        raise ValueError(f"unit {a['unit']!r} is not accepted for {kind}; use one of {', '.join(units)}")
    _check_params(a)
    return ref


def _fraction(p: dict, key: str) -> None:
    v = p.get(key)
    if v is not None and (not isinstance(v, (int, float)) or not 0 <= v <= 1):
        raise ValueError(f"params.{key} must be a number between 0 and 1")


def _positive(p: dict, key: str, *, required: bool = False) -> None:
    v = p.get(key)
    if v is None:
        if required:
            raise ValueError(f"params.{key} is required")
        return
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v <= 0:
        raise ValueError(f"params.{key} must be a positive number")


def _finite(value, path: str = "params") -> None:
    """Every number in the parameters is finite (NaN or infinity would poison every total)."""
    if isinstance(value, dict):
        for k, v in value.items():
            _finite(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _finite(v, f"{path}[{i}]")
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{path} must be a finite number")


def _check_params(a: dict) -> None:
    """Parameters a row's calculation needs, checked when the row is stored rather than when reported."""
    p, kind, item = a["params"], a["kind"], a["item"]
    _finite(p)
    r = p.get("recovered_ch4_t")
    if r is not None and (isinstance(r, bool) or not isinstance(r, (int, float)) or r < 0):
        raise ValueError("params.recovered_ch4_t must be a number >= 0")
    if kind == "fuel":
        if item not in fx.fuel_keys():
            raise ValueError(f"unknown fuel {item!r}; known: {', '.join(fx.fuel_keys())}")
        _positive(p, "ncv_tj_per_unit")
        table = gpc.COMBUSTION_TABLE[a["subsector"]]
        tech = p.get("technology") or DEFAULT_TECHNOLOGY.get((table, item), "")
        comb = fx.combustion_table().filter((pl.col("table") == table) & (pl.col("fuel") == item))
        techs = sorted(set(comb.get_column("technology").to_list()) - {""})
        if comb.height and tech not in comb.get_column("technology").to_list():
            raise ValueError(f"technology {tech!r} unknown for {item} in {table} combustion; "
                             + (f"use one of {', '.join(techs)}" if techs else "it has no technology variants"))
    elif kind == "waste":
        waste = fx.waste_parameters()
        if p.get("composition") is not None and not isinstance(p["composition"], dict):
            raise ValueError("params.composition must be an object {component: fraction}")
        comp = _composition(a, waste)
        if item == "landfill":
            if not comp and "doc" not in p:
                raise ValueError("a landfill row needs params.composition or params.doc")
            _fraction(p, "doc")
            _fraction(p, "mcf")
            _fraction(p, "ox")
            _positive(p, "half_life_years")
            _positive(p, "k")
            if "site" in p and (not isinstance(p["site"], str) or p["site"] not in waste["mcf"]
                                or p["site"].startswith("_")):
                raise ValueError(f"unknown landfill site type {p['site']!r}; use one of "
                                 f"{', '.join(k for k in waste['mcf'] if not k.startswith('_'))}")
            if "climate" in p and (not isinstance(p["climate"], str) or p["climate"] not in fx.CLIMATE_ZONES):
                raise ValueError(f"unknown climate zone {p['climate']!r}; use one of {', '.join(fx.CLIMATE_ZONES)}")
        elif item in ("incineration", "open_burning") and not comp:
            raise ValueError(f"an {item} row needs params.composition (IPCC 2006 Vol. 5 Eq. 5.2)")
    elif kind == "wastewater":
        ww = fx.wastewater_parameters()
        if item not in ww["mcf"] or item.startswith("_"):
            raise ValueError(f"unknown wastewater pathway {item!r}; known: "
                             f"{', '.join(k for k in ww['mcf'] if not k.startswith('_'))}")
        _positive(p, "bod_g_per_person_day", required=True)
        _positive(p, "protein_kg_per_person_year")


def compute_inventory(activity, *, year: int, country: str | None = None, gwp: str = "ar5",
                      factors: fx.FactorSet | None = None, grid_region: str | None = None,
                      climate: str = "tropical_wet", city: str | None = None) -> Inventory:
    """The GPC inventory of ``year`` from ``activity`` (rows of any years; landfill rows of earlier years
    feed the first-order decay, other kinds are taken for ``year`` only).

    Parameters
    ----------
    activity : list of dict or polars.DataFrame
        Activity rows (module docstring).
    year : int
        Inventory year.
    country : str, optional
        ISO 3166 alpha-2 code choosing the shipped grid emission factor.
    gwp : {"ar5", "ar6", "ar4"}
        GWP100 set for CO2e.
    factors : FactorSet, optional
        The city's own factors (precede the defaults).
    grid_region : str, optional
        Grid region for countries with several grids (e.g. ``PH-LV``).
    climate : str
        IPCC climate zone for landfill decay rates when a row names none (default ``tropical_wet``:
        mean annual temperature > 20 °C and precipitation >= 1000 mm, true of Dhaka and the ASEAN cities).
    """
    gw = fx.gwp_set(gwp)
    fs = factors or fx.FactorSet()
    rows = normalise_activity(activity)
    for a in rows:
        validate_row(a)
    warnings: list[str] = []
    col = _Collector()
    now = [a for a in rows if a["year"] == year]
    by_kind = {k: [a for a in now if a["kind"] == k] for k in KINDS}
    _fuel_emissions(by_kind["fuel"], fs, col)
    _electricity_emissions(by_kind["electricity"], fs, col, country=country, year=year, grid_region=grid_region,
                           warnings=warnings)
    history = [a for a in rows if a["kind"] == "waste" and a["item"] == "landfill" and a["year"] <= year]
    landfill = _landfill(history, col, year=year, climate=climate, warnings=warnings) if history else {}
    _other_waste([a for a in by_kind["waste"] if a["item"] != "landfill"], col)
    _wastewater(by_kind["wastewater"], col, warnings)
    for f in fx.gwp_factors(gwp):
        col.use(f)

    em = pl.DataFrame(col.rows, schema=EMISSION_COLUMNS)
    gwp_expr = (pl.when(pl.col("gas") == "co2").then(1.0)
                .when(pl.col("gas") == "co2e").then(1.0)
                .when(pl.col("gas") == "n2o").then(gw["n2o"])
                .when((pl.col("gas") == "ch4") & (pl.col("origin") == "fossil")).then(gw["ch4_fossil"])
                .when(pl.col("gas") == "ch4").then(gw["ch4_nonfossil"])
                .otherwise(0.0))
    em = em.with_columns((pl.col("t") * gwp_expr).alias("co2e_t"))
    notations = {ref: ("NE", why) for ref, why in col.unestimated.items()}
    notations.update({a["subsector"]: (a["item"], a.get("note")) for a in by_kind["notation"]})
    table = _table(em, notations, warnings)
    return Inventory(year=year, gwp=gwp, country=country, table=table, emissions=em, totals=_totals(table),
                     factors=[f.as_dict() for f in col.factors.values()], landfill=landfill, warnings=warnings,
                     city=city)


def _table(em: pl.DataFrame, notations: dict, warnings: list[str]) -> pl.DataFrame:
    agg = em.group_by("ref").agg(
        pl.col("t").filter(pl.col("gas") == "co2").sum().alias("co2_t"),
        pl.col("t").filter(pl.col("gas") == "ch4").sum().alias("ch4_t"),
        pl.col("t").filter(pl.col("gas") == "n2o").sum().alias("n2o_t"),
        pl.col("t").filter(pl.col("gas") == "co2_biogenic").sum().alias("co2_biogenic_t"),
        pl.col("co2e_t").sum().alias("co2e_t"),
        pl.col("factor_ids").str.split(",").list.explode(keep_nulls=False, empty_as_null=False).unique().sort()
        .alias("factor_ids"),
    )
    data = {r["ref"]: r for r in agg.iter_rows(named=True)}
    out = []
    for ref in gpc.REFS:
        d = data.get(ref.ref)
        note = notations.get(ref.ref)
        row = {"sector": ref.sector, "sector_name": gpc.SECTORS[ref.sector], "subsector": ref.subsector,
               "subsector_name": gpc.SUBSECTORS[ref.subsector], "ref": ref.ref, "scope": ref.scope,
               "description": ref.description, "basic": ref.basic, "basic_plus": ref.basic_plus}
        if d is not None:
            if note is not None:
                warnings.append(f"{ref.ref}: activity data present, notation key {note[0]} ignored")
            row.update(co2_t=d["co2_t"], ch4_t=d["ch4_t"], n2o_t=d["n2o_t"], co2e_t=d["co2e_t"],
                       co2_biogenic_t=d["co2_biogenic_t"], notation=None, explanation=None,
                       factor_ids=",".join(i for i in d["factor_ids"] if i))
        else:
            key, expl = note if note is not None else (gpc.DEFAULT_NOTATION, "no activity data")
            row.update(co2_t=None, ch4_t=None, n2o_t=None, co2e_t=None, co2_biogenic_t=None, notation=key,
                       explanation=expl, factor_ids="")
        out.append(row)
    return pl.DataFrame(out, schema={c: (pl.Float64 if c.endswith("_t") else pl.Int64 if c == "scope" else
                                         pl.Boolean if c in ("basic", "basic_plus") else pl.String)
                                     for c in TABLE_COLUMNS}).select(TABLE_COLUMNS)


def _totals(table: pl.DataFrame) -> dict:
    t = table.with_columns(pl.col("co2e_t").fill_null(0.0), pl.col("co2_biogenic_t").fill_null(0.0))

    def s(df):
        return float(df.get_column("co2e_t").sum())

    sectors = {}
    for sec in gpc.SECTORS:
        part = t.filter(pl.col("sector") == sec)
        sectors[sec] = {"name": gpc.SECTORS[sec], "basic_t": s(part.filter(pl.col("basic"))),
                        "basic_plus_t": s(part.filter(pl.col("basic_plus"))),
                        "scope1_t": s(part.filter(pl.col("scope") == 1)),
                        "scope2_t": s(part.filter(pl.col("scope") == 2)),
                        "scope3_t": s(part.filter(pl.col("scope") == 3))}
    return {
        "basic_t": s(t.filter(pl.col("basic"))),
        "basic_plus_t": s(t.filter(pl.col("basic_plus"))),
        "territorial_scope1_t": s(t.filter(pl.col("scope") == 1)),
        "scope2_t": s(t.filter(pl.col("scope") == 2)),
        "scope3_t": s(t.filter(pl.col("scope") == 3)),
        "co2_biogenic_t": float(t.get_column("co2_biogenic_t").sum()),
        "sectors": sectors,
        "unit": "t CO2e",
    }


# export -----------------------------------------------------------------------------------------------
def _clean(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def to_json(inv: Inventory) -> dict:
    """The inventory as a JSON-ready dict: meta, totals, the GPC table, per-activity emissions, factors."""
    return {
        "city": inv.city, "year": inv.year, "gwp": inv.gwp, "country": inv.country,
        "protocol": "GPC v1.1 (WRI, C40, ICLEI 2021); IPCC 2006 Guidelines",
        "totals": inv.totals,
        "table": [{k: _clean(v) for k, v in r.items()} for r in inv.table.to_dicts()],
        "emissions": [{k: _clean(v) for k, v in r.items()} for r in inv.emissions.to_dicts()],
        "factors": inv.factors,
        "landfill": inv.landfill,
        "warnings": inv.warnings,
    }


CSV_COLUMNS = ("ref", "scope", "sector_name", "subsector_name", "description", "notation", "co2_t", "ch4_t", "n2o_t",
               "co2e_t", "co2_biogenic_t", "basic", "basic_plus", "explanation", "factor_ids")


def to_csv(inv: Inventory) -> str:
    """The GPC reporting table as CSV (t; CO2e with the inventory's GWP set), then the totals."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in inv.table.iter_rows(named=True):
        w.writerow(["" if r[c] is None else (f"{r[c]:.3f}" if isinstance(r[c], float) else r[c]) for c in CSV_COLUMNS])
    for label, key in (("BASIC", "basic_t"), ("BASIC+", "basic_plus_t"),
                       ("Territorial (scope 1)", "territorial_scope1_t"), ("Scope 2", "scope2_t"),
                       ("Scope 3", "scope3_t"), ("Biogenic CO2 (memo)", "co2_biogenic_t")):
        row = dict.fromkeys(CSV_COLUMNS, "")
        row["ref"] = f"TOTAL {label}"
        bio = key == "co2_biogenic_t"
        row["co2_biogenic_t" if bio else "co2e_t"] = f"{inv.totals[key]:.3f}"
        row["explanation"] = "t CO2 (outside the totals)" if bio else f"t CO2e, GWP100 {inv.gwp.upper()}"
        w.writerow([row[c] for c in CSV_COLUMNS])
    return buf.getvalue()
