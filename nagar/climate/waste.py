"""Waste-sector emissions: the IPCC first-order-decay (FOD) method for solid waste disposal, biological
treatment, incineration and open burning, and domestic wastewater. Pure and vectorised (NumPy).

Solid waste disposal, IPCC 2006 Vol. 5 Ch. 3 (masses in tonnes):

- Eq. 3.2  ``DDOCm_d(T) = W(T) · DOC · DOCf · MCF(T)`` — decomposable DOC deposited in year T
- Eq. 3.4  ``DDOCma(T) = DDOCm_d(T) + DDOCma(T-1) · e^(-k)`` — accumulated at the end of year T
- Eq. 3.5  ``DDOCm_decomp(T) = DDOCma(T-1) · (1 - e^(-k))`` — decomposed in year T
- Eq. 3.6  ``CH4_generated(T) = DDOCm_decomp(T) · F · 16/12``
- Eq. 3.1  ``CH4_emitted(T) = (Σ_x CH4_generated_x(T) - R(T)) · (1 - OX(T))``
- ``k = ln(2) / t½`` (half-life t½ in years)

Waste deposited in year T starts to decay in year T+1 (Eq. 3.4-3.5 as written; the IPCC spreadsheet's
optional six-month delay is not applied). Each waste component decays with its own k; emissions are the
sum over components (Eq. 3.1, Σ_x).
"""

from __future__ import annotations

import math

import numpy as np

CH4_PER_C = 16.0 / 12.0
CO2_PER_C = 44.0 / 12.0
N2O_PER_N2O_N = 44.0 / 28.0


def k_from_half_life(half_life_years):
    """Decay rate k [1/yr] from the half-life t½ [yr]: ``k = ln 2 / t½`` (scalar or array)."""
    return math.log(2.0) / np.asarray(half_life_years, dtype=float)


def ddocm_deposited(waste_t, doc, docf=0.5, mcf=1.0):
    """Eq. 3.2: mass of decomposable DOC deposited [t] = W · DOC · DOCf · MCF (broadcasting)."""
    return np.asarray(waste_t, dtype=float) * np.asarray(doc, dtype=float) * docf * np.asarray(mcf, dtype=float)


def first_order_decay(ddocm_d, k) -> dict[str, np.ndarray]:
    """Eq. 3.4-3.5 over consecutive years.

    Parameters
    ----------
    ddocm_d : array, shape (Y,) or (C, Y)
        DDOCm deposited in each year [t] (one row per waste component).
    k : float or array, shape (C,)
        Decay rate per component [1/yr].

    Returns
    -------
    dict with ``accumulated`` (DDOCma at the end of each year) and ``decomposed`` (DDOCm decomposed in
    each year), same shape as ``ddocm_d`` [t].
    """
    d = np.atleast_2d(np.asarray(ddocm_d, dtype=float))
    k = np.broadcast_to(np.asarray(k, dtype=float).reshape(-1, 1), (d.shape[0], 1))
    y = d.shape[1]
    lag = np.arange(y)[:, None] - np.arange(y)[None, :]            # T - t
    decay = np.where(lag >= 0, np.exp(-k[:, :, None] * np.maximum(lag, 0)[None]), 0.0)  # (C, Y, Y)
    acc = np.einsum("cTt,ct->cT", decay, d)                         # Σ_{t≤T} D_t e^{-k(T-t)}
    prev = np.concatenate([np.zeros((d.shape[0], 1)), acc[:, :-1]], axis=1)
    decomp = prev * (1.0 - np.exp(-k))
    shape = np.shape(ddocm_d)
    return {"accumulated": acc.reshape(shape), "decomposed": decomp.reshape(shape)}


def landfill_methane(waste_t, *, doc, k, mcf=1.0, docf=0.5, f=0.5, ox=0.0, recovered_t=0.0) -> dict[str, np.ndarray]:
    """CH4 from solid waste disposal over a series of years (Eq. 3.1-3.6).

    Parameters
    ----------
    waste_t : array (Y,) or (C, Y)
        Waste deposited each year [t wet], per component when 2-D.
    doc : float or array (C,) or (C, Y)
        Degradable organic carbon [fraction of wet weight] per component.
    k : float or array (C,)
        Decay rate [1/yr] per component.
    mcf : float or array (Y,)
        Methane correction factor of the site in each deposit year.
    docf, f : float
        Fraction of DOC that decomposes; fraction of CH4 in landfill gas (defaults 0.5, 0.5).
    ox : float or array (Y,)
        Oxidation factor in each year.
    recovered_t : float or array (Y,)
        CH4 recovered in each year [t].

    Returns
    -------
    dict of arrays (Y,): ``ddocm_deposited``, ``ddocm_accumulated``, ``ddocm_decomposed``,
    ``ch4_generated``, ``ch4_recovered``, ``ch4_emitted`` [t]. Recovery larger than generation is
    capped so emissions never go negative.
    """
    w = np.atleast_2d(np.asarray(waste_t, dtype=float))
    doc_a = np.asarray(doc, dtype=float)
    if doc_a.ndim == 1 and w.shape[0] > 1:
        doc_a = doc_a[:, None]
    dd = ddocm_deposited(w, doc_a, docf, np.asarray(mcf, dtype=float))
    fod = first_order_decay(dd, np.broadcast_to(np.asarray(k, dtype=float).reshape(-1), (w.shape[0],)))
    gen = (fod["decomposed"] * f * CH4_PER_C).sum(axis=0)
    rec = np.minimum(np.broadcast_to(np.asarray(recovered_t, dtype=float), gen.shape), gen)
    emitted = (gen - rec) * (1.0 - np.broadcast_to(np.asarray(ox, dtype=float), gen.shape))
    return {"ddocm_deposited": dd.sum(axis=0), "ddocm_accumulated": fod["accumulated"].sum(axis=0),
            "ddocm_decomposed": fod["decomposed"].sum(axis=0), "ch4_generated": gen, "ch4_recovered": rec,
            "ch4_emitted": emitted}


def biological_treatment(waste_t, *, ch4_g_per_kg, n2o_g_per_kg, recovered_t=0.0) -> dict:
    """IPCC 2006 Vol. 5 Eq. 4.1-4.2: CH4 = M · EF - R, N2O = M · EF [t] (M in t, EF in g/kg = kg/t)."""
    m = np.asarray(waste_t, dtype=float)
    return {"ch4": np.maximum(m * ch4_g_per_kg / 1000.0 - recovered_t, 0.0), "n2o": m * n2o_g_per_kg / 1000.0}


def combustion_co2(waste_t, *, fractions, dm, cf, fcf, oxidation) -> dict:
    """IPCC 2006 Vol. 5 Eq. 5.2: CO2 = MSW · Σ_j (WF_j · dm_j · CF_j · FCF_j · OF_j) · 44/12 [t].

    ``fractions``, ``dm``, ``cf`` and ``fcf`` are per component (arrays of equal length). Returns fossil
    CO2 and, as a memo, biogenic CO2 (the same sum with 1 - FCF)."""
    wf = np.asarray(fractions, dtype=float)
    carbon = wf * np.asarray(dm, dtype=float) * np.asarray(cf, dtype=float) * oxidation
    m = np.asarray(waste_t, dtype=float)
    fossil = (carbon * np.asarray(fcf, dtype=float)).sum() * CO2_PER_C
    bio = (carbon * (1.0 - np.asarray(fcf, dtype=float))).sum() * CO2_PER_C
    return {"co2": m * fossil, "co2_biogenic": m * bio}


def wastewater_methane(population, *, bod_g_per_person_day, mcf, bo=0.6, i_factor=1.0, recovered_t=0.0):
    """IPCC 2006 Vol. 5 Eq. 6.1-6.3 for one pathway: TOW = P · BOD · 0.001 · I · 365 [kg BOD/yr];
    CH4 = TOW · Bo · MCF - R. Returns t CH4/yr."""
    tow_kg = np.asarray(population, dtype=float) * bod_g_per_person_day * 0.001 * i_factor * 365.0
    return np.maximum(tow_kg * bo * mcf / 1000.0 - recovered_t, 0.0)


def wastewater_n2o(population, *, protein_kg_per_person_year, f_npr=0.16, f_non_con=1.1, f_ind_com=1.25,
                   ef=0.005, n_sludge_kg=0.0):
    """IPCC 2006 Vol. 5 Eq. 6.7-6.8: N_effluent = P · Protein · F_NPR · F_NON-CON · F_IND-COM - N_sludge
    [kg N/yr]; N2O = N_effluent · EF · 44/28. Returns t N2O/yr."""
    n = np.asarray(population, dtype=float) * protein_kg_per_person_year * f_npr * f_non_con * f_ind_com - n_sludge_kg
    return np.maximum(n, 0.0) * ef * N2O_PER_N2O_N / 1000.0
