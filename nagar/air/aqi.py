"""Air Quality Index: per-pollutant sub-indices and the combined index, vectorised.

Every function takes NumPy arrays (any shape), Polars Series or scalars and returns the same kind. The
tables themselves live in :mod:`nagar.air.standards`; this module only applies them:

1. the standard's precision rule (truncate or round the concentration to the table's digits),
2. the breakpoint row that holds the value (``np.searchsorted`` on the row ends),
3. the linear interpolation of the standard (US EPA TAD 2024, Equation 1; CPCB NAQI 2014)::

       Ip = (IHi - ILo) / (BPHi - BPLo) * (Cp - BPLo) + ILo

4. the index rounding of the standard (EPA and CPCB: nearest integer).

The arithmetic is done on the integer grid of the precision rule (``Cp * 10**decimals``), so the
interpolation numerator and denominator are exact integers and "half-way" indices round the same way on
every platform (halves go up). No Python loop runs over values: 10 million concentrations take a few
hundred milliseconds per pollutant.

Rules between pollutants (implemented in :func:`compute_aqi`, driven by fields of the table):

* US EPA O3: 8-hour values above 0.200 ppm have no 8-hour index (``above_top: "nan"``); the 1-hour table
  starts at 0.125 ppm; where both are present the larger index is reported.
* US EPA SO2: the 1-hour table ends at 304 ppb; a 1-hour value at or above 305 ppb gives 200
  (``above_top: "cap"``) unless the 24-hour average is at least 305 ppb, whose own table (AQI 201+) then
  wins because the larger index is reported.
* India O3: the 1-hour index is used only where the 8-hour value is above 208 µg/m³ (or missing)
  (``only_when``).
* India: an AQI needs at least three pollutants, one of them PM2.5 or PM10 (``min_pollutants``,
  ``requires_any``).

References
----------
.. [1] U.S. EPA, "Technical Assistance Document for the Reporting of Daily Air Quality - the Air Quality
   Index (AQI)", EPA-454/B-24-002, May 2024, Section IV and Table 6.
.. [2] U.S. EPA, idem, EPA 454/B-18-007, September 2018, Table 5 (pre-2024 breakpoints).
.. [3] 40 CFR Part 58, Appendix G, "Uniform Air Quality Index (AQI) and Daily Reporting" (as amended by
   89 FR 16202, 6 March 2024).
.. [4] Central Pollution Control Board, "National Air Quality Index", New Delhi, October 2014.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from nagar.core.errors import InvalidInput
from nagar.air.standards import Pollutant, Standard, _as_array, _restore, load_standard

__all__ = ["AQIResult", "compute_aqi", "sub_index", "truncate"]

_REL_TOL = 1e-12
"""Relative slack added before flooring c * 10**decimals, so that e.g. 0.029 ppm (0.029 * 1000 =
28.999999999999996 in binary floating point) truncates to 29, not 28. It is far below any real
measurement resolution and far above the error of one multiplication."""


def _grid(c: np.ndarray, decimals: int, rounding: str) -> np.ndarray:
    """``c`` on the integer grid of the precision rule (values >= 0; NaN stays NaN)."""
    x = np.multiply(c, float(10**decimals) * (1.0 + _REL_TOL))
    x += _REL_TOL + 0.5 if rounding == "round" else _REL_TOL
    return np.floor(x, out=x)


def truncate(c: Any, decimals: int, rounding: str = "truncate") -> Any:
    """Apply a standard's precision rule to concentrations.

    Parameters
    ----------
    c : float, array-like or polars.Series
        Concentrations [any unit].
    decimals : int
        Number of decimals kept (0 for integers).
    rounding : {"truncate", "round"}
        ``"truncate"`` drops the further digits toward zero (US EPA: "truncated, not rounded");
        ``"round"`` rounds half up (0.05 -> 0.1 at one decimal).

    Returns
    -------
    Same kind as ``c``; NaN stays NaN.

    Examples
    --------
    >>> truncate(35.49, 1)
    35.4
    >>> truncate(0.0289999, 3)
    0.028
    """
    if rounding not in ("truncate", "round"):
        raise InvalidInput(f"rounding must be 'truncate' or 'round', got {rounding!r}", field="rounding")
    if not isinstance(decimals, int) or not 0 <= decimals <= 12:
        raise InvalidInput(f"decimals must be an integer in [0, 12], got {decimals!r}", field="decimals")
    arr, kind = _as_array(c)
    scale = float(10**decimals)
    if rounding == "truncate":  # toward zero
        res = np.sign(arr) * _grid(np.abs(arr), decimals, "truncate") / scale
    else:  # half up
        x = arr * scale
        x += np.abs(x) * _REL_TOL + _REL_TOL + 0.5
        res = np.floor(x) / scale
    return _restore(res, kind, name="c")


def _negatives_to_nan(c: np.ndarray, what: str) -> np.ndarray:
    neg = c < 0
    if neg.any():
        warnings.warn(f"{int(neg.sum())} negative {what} value(s) set to NaN", RuntimeWarning, stacklevel=3)
        c = np.where(neg, np.nan, c)
    return c


def _interp(x: np.ndarray, pol: Pollutant, index_rounding: str) -> np.ndarray:
    """Sub-index for 1-D grid values ``x`` (``Cp * 10**decimals``, NaN allowed) by row lookup."""
    n = len(pol.c_hi)
    # first row whose upper end is >= x (NaN -> n); a few comparisons beat a binary search for short tables
    if n <= 16:
        seg = np.zeros(x.shape, dtype=np.intp)
        for h in pol.c_hi[:-1]:
            seg += x > h
        seg[~(x <= pol.c_hi[-1])] = n
    else:
        seg = np.searchsorted(pol.c_hi, x, side="left")
    above = seg == n
    np.minimum(seg, n - 1, out=seg)
    blo = pol.c_lo.take(seg)
    bhi = pol.c_hi.take(seg)
    ilo = pol.i_lo.take(seg)
    ihi = pol.i_hi.take(seg)
    # exact integers on the grid: numerator and denominator of the interpolation
    frac = (ihi - ilo) * (x - blo) / (bhi - blo)
    if index_rounding == "round":
        # halves go up; a rational N/D is never closer than 1/(2D) to a half, far above float error
        np.floor(frac + 0.5, out=frac)
    out = ilo + frac
    out[x < blo] = np.nan  # below the first row (EPA 1-h O3 < 0.125 ppm, 24-h SO2 < 305 ppb)
    if pol.above_top == "cap":
        out[above] = pol.i_hi[-1]
    elif pol.above_top == "nan":
        out[above] = np.nan
    out[np.isnan(x)] = np.nan
    return out


_LUT_MAX = 4_000_000  # grid values per table (int32 indices)


def _lut(pol: Pollutant, index_rounding: str) -> np.ndarray | None:
    """Sub-index of every grid value 0..top, plus a NaN sentinel at top + 1 (None if too long).

    Built once per pollutant object and kept on it.
    """
    k = ("lut", index_rounding)
    if k not in pol._cache:
        top = int(pol.c_hi[-1])
        if top + 2 > _LUT_MAX:
            pol._cache[k] = None
        else:
            lut = np.empty(top + 2)
            lut[:-1] = _interp(np.arange(top + 1, dtype=float), pol, index_rounding)
            lut[-1] = np.nan
            lut.setflags(write=False)
            pol._cache[k] = lut
    return pol._cache[k]


_CHUNK = 1 << 14  # values per block: scratch buffers stay in cache and no large temporaries are made


def _sub_index_array(c: np.ndarray, pol: Pollutant, std: Standard) -> np.ndarray:
    """Sub-index of float64 array ``c`` (any shape) for one pollutant; NaN where undefined.

    Concentrations are put on the table's grid and looked up in a table of precomputed sub-indices
    (one ``take``), block by block through small reused buffers; values above the last row go through
    :func:`_interp`, which applies ``above_top``. Negative values become NaN with a warning.
    """
    shape = c.shape
    flat = c.reshape(-1)
    lut = _lut(pol, std.index_rounding)
    if lut is None:  # very long tables: plain row lookup
        flat = _negatives_to_nan(flat, pol.key)
        return _interp(_grid(flat, pol.decimals, pol.rounding), pol, std.index_rounding).reshape(shape)
    n = flat.size
    out = np.empty(n)
    top = len(lut) - 2
    mult = float(10**pol.decimals) * (1.0 + _REL_TOL)
    add = _REL_TOL + (0.5 if pol.rounding == "round" else 0.0)
    check_above = pol.above_top != "nan"
    size = min(n, _CHUNK)
    xbuf, ibuf = np.empty(size), np.empty(size, dtype=np.int32)
    neg, above = np.empty(size, dtype=bool), np.empty(size, dtype=bool)
    n_neg = 0
    for i in range(0, n, _CHUNK):
        j = min(i + _CHUNK, n)
        m = j - i
        x, ix, ng, ab = xbuf[:m], ibuf[:m], neg[:m], above[:m]
        np.multiply(flat[i:j], mult, out=x)  # the grid: floor(c * 10**decimals (+ 0.5))
        x += add
        np.floor(x, out=x)
        np.less(x, 0.0, out=ng)
        if ng.any():
            n_neg += int(ng.sum())
            x[ng] = np.nan
        xa = None
        if check_above:
            np.greater(x, top, out=ab)
            if ab.any():
                xa = x[ab]
        np.fmin(x, top + 1, out=x)  # NaN and values above the table -> the NaN sentinel
        np.copyto(ix, x, casting="unsafe")
        o = out[i:j]
        lut.take(ix, out=o)
        if xa is not None:
            o[ab] = _interp(xa, pol, std.index_rounding)
    if n_neg:
        warnings.warn(f"{n_neg} negative {pol.key} value(s) set to NaN", RuntimeWarning, stacklevel=3)
    return out.reshape(shape)


def sub_index(concentration: Any, pollutant_key: str, standard: str | Standard = "us-epa-2024") -> Any:
    """Sub-index of one pollutant under a standard.

    Parameters
    ----------
    concentration : float, array-like or polars.Series
        Concentration averaged over the pollutant's period, in the table's unit (e.g. PM2.5 24-hour mean
        [µg/m³]; O3 8-hour mean [ppm] for EPA, [µg/m³] for CPCB).
    pollutant_key : str
        ``"pm25_24h"``, ``"o3_1h"`` ... or a bare parameter (``"pm25"``), which takes the standard's
        default averaging.
    standard : str or Standard
        Shipped id, path to a user table, or a loaded :class:`~nagar.air.standards.Standard`.

    Returns
    -------
    Same kind as ``concentration`` [-]: the sub-index, rounded as the standard says; NaN for missing,
    negative (with a ``RuntimeWarning``) or undefined values (below the first row, or above the last row
    when the table defines nothing there).

    Notes
    -----
    The concentration is first truncated (EPA) or rounded (CPCB) to the table's digits, e.g. under EPA
    PM2.5 35.49 -> 35.4 -> AQI 100 and O3 0.0709 ppm -> 0.070 -> AQI 100. Above the last row the
    pollutant's ``above_top`` applies: EPA extrapolates the last row (AQI > 500, "Beyond the AQI"),
    CPCB caps at 500.

    References
    ----------
    .. [1] U.S. EPA, EPA-454/B-24-002 (May 2024), Table 6 and Equation 1.
    .. [2] CPCB, National Air Quality Index (October 2014), sub-index equation and breakpoint table.
    """
    std = load_standard(standard)
    pol = std.pollutant(pollutant_key)
    arr, kind = _as_array(concentration)
    return _restore(_sub_index_array(arr, pol, std), kind, name=pol.key)


# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class AQIResult:
    """Outcome of :func:`compute_aqi`, in the kind the concentrations were given.

    Attributes
    ----------
    aqi : float, numpy.ndarray or polars.Series
        Combined index [-]; NaN where there are not enough pollutants.
    category : int, numpy.ndarray of int16 or polars.Series
        Index into ``standard.categories``; -1 where ``aqi`` is NaN.
    sub_indices : dict[str, ...]
        Sub-index per pollutant key given (after the O3 / SO2 rules), same kind.
    dominant_code : numpy.ndarray of int8
        Position in :attr:`keys` of the pollutant that sets the AQI; -1 where none.
    keys : tuple of str
        Pollutant keys in the order used by ``dominant_code``.
    standard : Standard
    """

    aqi: Any
    category: Any
    sub_indices: dict[str, Any]
    dominant_code: np.ndarray = field(repr=False)
    keys: tuple[str, ...]
    standard: Standard = field(repr=False)
    _kind: tuple = field(repr=False, default=("numpy",))

    @cached_property
    def dominant(self) -> Any:
        """Key of the pollutant that sets the AQI (``""`` where none); ties go to the table order."""
        lut = np.array(list(self.keys) + [""])
        return _restore(lut[self.dominant_code], self._kind, name="dominant")

    @property
    def category_key(self) -> Any:
        """Category slug (``"good"`` ...) per value; ``""`` where none."""
        lut = np.array([c.key for c in self.standard.categories] + [""])
        code = np.asarray(self.category if self._kind[0] != "polars" else self.category.to_numpy())
        return _restore(lut[code.astype(np.intp)], self._kind, name="category_key")

    def to_frame(self):
        """A ``polars.DataFrame`` with aqi, category, dominant and one column per sub-index."""
        import polars as pl

        def col(v):
            return np.asarray(v.to_numpy() if hasattr(v, "to_numpy") else v).reshape(-1)

        data = {"aqi": col(self.aqi), "category": col(self.category), "dominant": col(self.dominant)}
        for k, v in self.sub_indices.items():
            data[k] = col(v)
        return pl.DataFrame(data)



def _combine(subs: list[np.ndarray], params: list[str], std: Standard
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Largest sub-index, its position and category, with the standard's pollutant-count rules.

    Works block by block with small buffers. Ties keep the earlier pollutant of the table; NaN never
    wins. Where too few distinct parameters have a sub-index (or none of ``requires_any`` does) the
    AQI is NaN, the position -1 and the category -1.
    """
    n = subs[0].size if subs else 0
    aqi = np.empty(n)
    code = np.empty(n, dtype=np.int8)
    cat = np.empty(n, dtype=np.int16)
    uniq = list(dict.fromkeys(params))
    size = max(1, min(n, _CHUNK))
    better = np.empty(size, dtype=bool)
    tmp = np.empty(size, dtype=bool)
    valid = np.empty(size, dtype=bool)
    count = np.empty(size, dtype=np.int8)
    has = {p: np.empty(size, dtype=bool) for p in uniq}
    req = [p for p in uniq if p in std.requires_any]
    starts = [c.lo for c in std.categories]
    for i in range(0, n, _CHUNK):
        j = min(i + _CHUNK, n)
        m = j - i
        a, cd, ct = aqi[i:j], code[i:j], cat[i:j]
        b, t, v, cnt = better[:m], tmp[:m], valid[:m], count[:m]
        a.fill(-np.inf)
        cd.fill(-1)
        for h in has.values():
            h[:m] = False
        for idx, (sub, p) in enumerate(zip(subs, params)):
            x = sub[i:j]
            np.greater(x, a, out=b)  # strict: ties keep the earlier row; NaN never wins
            np.copyto(a, x, where=b)
            cd[b] = idx
            np.isnan(x, out=t)
            np.logical_not(t, out=t)
            np.logical_or(has[p][:m], t, out=has[p][:m])
        cnt.fill(0)
        for h in has.values():
            cnt += h[:m]
        np.greater_equal(cnt, std.min_pollutants, out=v)
        if std.requires_any:
            t.fill(False)
            for p in req:
                np.logical_or(t, has[p][:m], out=t)
            np.logical_and(v, t, out=v)
        np.greater(a, -np.inf, out=t)
        np.logical_and(v, t, out=v)
        np.logical_not(v, out=t)
        a[t] = np.nan
        cd[t] = -1
        ct.fill(0)
        for lo in starts[1:]:
            np.greater_equal(a, lo, out=b)
            ct += b
        np.greater_equal(a, starts[0], out=b)
        np.logical_not(b, out=b)
        ct[b] = -1
    return aqi, code, cat


def compute_aqi(concentrations: Mapping[str, Any], standard: str | Standard = "us-epa-2024") -> AQIResult:
    """Combined Air Quality Index from several pollutants.

    Parameters
    ----------
    concentrations : mapping of str to float, array-like or polars.Series
        Keyed by pollutant key (``"o3_8h"``, ``"so2_24h"``) or bare parameter (``"pm25"``, resolved to the
        standard's default averaging), each in the table's unit. Arrays broadcast against each other;
        NaN marks a missing value.
    standard : str or Standard
        Shipped id, path to a user table, or a loaded standard.

    Returns
    -------
    AQIResult
        ``aqi`` is the largest sub-index (rounded as the standard says), ``dominant`` the pollutant that
        gives it, ``category`` its band. Where fewer than ``standard.min_pollutants`` distinct parameters
        have a sub-index, or none of ``standard.requires_any`` does (India: 3 pollutants including PM2.5
        or PM10), ``aqi`` is NaN, ``category`` -1 and ``dominant`` "".

    Raises
    ------
    InvalidInput
        Unknown pollutant for the standard, or two inputs for the same pollutant key.

    Notes
    -----
    O3 8-hour and 1-hour count as one pollutant, as do SO2 1-hour and 24-hour. See the module docstring
    for the O3 and SO2 rules.

    References
    ----------
    .. [1] U.S. EPA, EPA-454/B-24-002 (May 2024), Section IV "Calculating the AQI".
    .. [2] CPCB, National Air Quality Index (October 2014).

    Examples
    --------
    >>> r = compute_aqi({"pm25": 35.9, "o3_8h": 0.060})
    >>> r.aqi, r.dominant
    (102.0, 'pm25_24h')
    """
    std = load_standard(standard)
    if not isinstance(concentrations, Mapping) or not concentrations:
        raise InvalidInput("concentrations must be a non-empty mapping of pollutant -> values",
                           field="concentrations")
    given: dict[str, tuple[str, np.ndarray]] = {}
    kinds = []
    for name, values in concentrations.items():
        key = std.resolve_key(name)
        if key in given:
            raise InvalidInput(f"{name!r} and {given[key][0]!r} both give {key}", field=str(name))
        arr, kind = _as_array(values)
        given[key] = (str(name), arr)
        kinds.append(kind)
    if all(k[0] == "scalar" for k in kinds):
        kind: tuple = ("scalar",)
    elif any(k[0] == "polars" for k in kinds):
        kind = ("polars", "")
    else:
        kind = ("numpy",)
    try:
        arrays = np.broadcast_arrays(*(a for _, a in given.values()))
    except ValueError as e:
        raise InvalidInput(f"concentration arrays do not broadcast: {e}", field="concentrations") from None
    conc = dict(zip(given, arrays))

    keys = tuple(k for k in std.keys if k in conc)  # table order
    subs: dict[str, np.ndarray] = {}
    for k in keys:
        pol = std.pollutant(k)
        s = _sub_index_array(np.asarray(conc[k], dtype=float), pol, std)
        if pol.only_when is not None and pol.only_when.key in conc:
            other = std.pollutant(pol.only_when.key)
            oc = np.asarray(conc[other.key], dtype=float)
            g = _grid(np.where(oc < 0, np.nan, oc), other.decimals, other.rounding) / other.scale
            use = np.isnan(g) | (g > pol.only_when.above)
            s = np.where(use, s, np.nan)
        subs[k] = s

    shape = arrays[0].shape
    aqi, code, cat = _combine([subs[k].reshape(-1) for k in keys],
                              [std.pollutant(k).parameter for k in keys], std)
    aqi, code, cat = aqi.reshape(shape), code.reshape(shape), cat.reshape(shape)

    return AQIResult(
        aqi=_restore(aqi, kind, name="aqi"),
        category=_restore(cat, kind, name="category"),
        sub_indices={k: _restore(v, kind, name=k) for k, v in subs.items()},
        dominant_code=code,
        keys=keys,
        standard=std,
        _kind=kind,
    )
