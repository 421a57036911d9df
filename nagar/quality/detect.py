"""Sensor-fault and tamper detectors: pure, vectorised functions over one series at a time.

Every detector takes NumPy arrays (times as int64 microseconds since the epoch, UTC; values in the
parameter's canonical unit, see :mod:`nagar.core.units`) and returns a boolean mask of the readings it
flags plus a short human-readable detail per flagged reading. Nothing here does I/O; the service
(:mod:`nagar.quality.service`) reads the store, calls these and writes the flags back.

Kinds and what each flags
-------------------------
``stuck``
    A reading repeated (within a tolerance of the reporting resolution) for at least ``stuck_hours``
    (parameter-specific, :data:`LIMITS`). The first reading of a flat run is a real measurement (the
    value the sensor froze at), so the run is flagged from its second reading on. Readings at or below
    the parameter's detection floor are not judged (ozone titrated to ~0 at night, clean-air PM).
``spike``
    Hampel filter [1]_ [2]_: a reading is an outlier when it lies more than ``t`` scaled MADs
    (1.4826 · MAD, a consistent estimator of σ for Gaussian data) from the median of a centred window
    of ±``k`` hours; we add the physical rate-of-change tests that make it a *spike* rather than a real
    episode: the jump from the previous reading and back to the next one must each exceed
    ``spike_jump`` (parameter-specific, in the canonical unit per hour) with the two jumps of opposite
    sign, and both sides of the window must hold data (a spike's verdict waits for the next reading).
``out_of_range``
    Physically impossible values are ``invalid``: negative concentrations, and values above the
    instrument's measuring range (:data:`LIMITS` ``sensor_max``: e.g. the Met One BAM-1020, the most
    common FEM PM2.5 monitor, measures 0–1 000 µg/m³ in its standard range [5]_). PM2.5 above PM10 at the
    same station and time (PM2.5 is by definition a size fraction of PM10) beyond a tolerance of
    max(5 µg/m³, 10 % of PM10) — the two monitors' combined hourly uncertainty — flags both readings
    ``suspect`` (which one is wrong is not knowable from the pair).
``drift``
    Against neighbouring stations: the daily median of the log-ratio ``log((x + c) / (m + c))`` between
    the station and the hourly median ``m`` of other stations within ``radius_km`` of the same city
    (``c`` stabilises low concentrations). Over a trailing window of ``window_days`` days, a Theil–Sen
    slope [6]_ whose change over the window exceeds ``log(1 + rel_change)`` with a Spearman rank
    correlation |ρ| ≥ ``min_rho`` (the change is steady, not noise) marks drift. The first such window
    fixes the episode's base (the median ratio of the ``window_days`` before it: the relation before
    the drift);
    the days of drifting windows whose fitted level lies half the threshold or more from that base, and
    every later day whose ratio stays a full threshold from it, are flagged; the episode ends on the
    first day back within the threshold. The
    approach mirrors the collocation/"proxy" checks used to detect low-cost sensor drift against
    reference networks [4]_ [7]_.
``timestamp``
    Clock anomalies: times more than ``future_tolerance`` after the detection time (:func:`future_times`)
    and, where arrival order is known (device pushes seen by the write listener), times far out of
    order: more than ``order_tolerance`` before the device's newest earlier push (:func:`out_of_order`).
    Readings off the series' own cadence (the modal interval and phase, e.g. on the hour) and bursts (a
    reading sooner than a quarter of the cadence after the previous one) are found by
    :func:`off_cadence` and are *notices*, not faults (see below).

Severity: what a finding does to the reading
--------------------------------------------
Every finding has a severity (:data:`SEVERITIES`), set by the service per detector:

``invalid``
    Physically impossible (out of the physical or instrument range). The reading's flag becomes
    ``invalid``; aggregates and the AQI leave it out.
``suspect``
    Evidence that the *value* is wrong (stuck, spike, PM2.5 above PM10, drift, a time in the future or
    far out of order). The flag becomes ``suspect``; aggregates and the AQI leave it out.
``notice``
    Something the operator should know that is not evidence against the value: a reading off the
    series' clock (a device that reports at 06:30 besides 06:00 and 07:00, or a logger whose clock
    moved) or a burst of closely spaced readings. The finding is recorded and shown (``/quality``,
    ``GET .../quality/faults``, ``nagar quality faults``) but the reading's flag is left alone, so it
    counts in its hour's mean like any other reading of that hour (hourly means average every counted
    reading whose time falls in the hour; ``nagar.store``).

Thresholds are ours where no source gives one; each is chosen so that a clean, realistic series
(the demo generator's) raises few false alarms, and ``bench/quality_faults.py`` measures precision
and recall per kind on injected faults.

References
----------
.. [1] Hampel, F. R. (1974). The influence curve and its role in robust estimation. Journal of the
   American Statistical Association 69(346), 383–393. doi:10.1080/01621459.1974.10482962
.. [2] Pearson, R. K. (2002). Outliers in process modeling and identification. IEEE Transactions on
   Control Systems Technology 10(1), 55–63. doi:10.1109/87.974338 — the moving-window Hampel filter.
.. [3] US EPA (2021). Performance Testing Protocols, Metrics, and Target Values for Fine Particulate
   Matter Air Sensors. EPA/600/R-20/280 — sensor data checks (completeness, range, outliers).
.. [4] US EPA (2022). The Enhanced Air Sensor Guidebook. EPA/600/R-22/213, ch. 6 — QA/QC of sensor
   data: flat-lining, spikes, out-of-range values, drift against a nearby reference.
.. [5] Met One Instruments. BAM-1020 Particulate Monitor Operation Manual — standard concentration
   range 0–1.000 mg/m³ (an extended 0–10.000 mg/m³ range can be set).
.. [6] Sen, P. K. (1968). Estimates of the regression coefficient based on Kendall's tau. JASA
   63(324), 1379–1389. doi:10.1080/01621459.1968.10480934
.. [7] Barkjohn, K. K., Gantt, B. & Clements, A. L. (2021). Development and application of a
   United States-wide correction for PM2.5 data collected with the PurpleAir sensor. Atmospheric
   Measurement Techniques 14, 4617–4637. doi:10.5194/amt-14-4617-2021 — QC of sensor records.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HOUR_US = 3_600_000_000
MINUTE_US = 60_000_000

KINDS = ("stuck", "spike", "out_of_range", "drift", "timestamp")
"""Fault kinds, in the order they are reported."""
SEVERITIES = ("notice", "suspect", "invalid")
"""Severities of a finding, mildest first: ``notice`` leaves the reading's flag alone; ``suspect`` and
``invalid`` are also the flag the reading is given (see the module docstring)."""


@dataclass(frozen=True)
class Limits:
    """Per-parameter thresholds (canonical units: µg/m³ for PM, ppb for gases except CO in ppm).

    ``stuck_hours``: a flat run this long is stuck. Hourly PM from a BAM or optical monitor moves by
    several µg/m³ from hour to hour (BAM-1020 hourly noise ~2–3 µg/m³ [5]), so six unchanged hours at
    0.1 µg/m³ resolution do not happen in real air; gases at low mixing ratios can sit on one value
    longer (8 h), and coarsely reported CO/SO2 longer still (12 h).
    ``stuck_tol``: largest spread still "the same value" (two reporting steps).
    ``floor``: at or below this, flat runs are plausible (detection limits, titrated night ozone).
    ``spike_jump``: smallest hour-to-hour rise and fall that can make a spike; ``sensor_max``: the top
    of a regulatory-grade instrument's measuring range.
    """

    stuck_hours: float
    stuck_tol: float
    floor: float
    spike_jump: float
    sensor_max: float
    ceiling: float = np.inf
    """At or above this, flat runs are plausible too (relative humidity saturated at 100 % in fog)."""


LIMITS: dict[str, Limits] = {
    "pm25": Limits(6, 0.2, 2.0, 60.0, 1000.0),
    "pm10": Limits(6, 0.2, 4.0, 120.0, 2000.0),
    "pm1": Limits(6, 0.2, 2.0, 60.0, 1000.0),
    "no2": Limits(8, 0.2, 3.0, 60.0, 2000.0),
    "no": Limits(8, 0.2, 3.0, 150.0, 2000.0),
    "o3": Limits(8, 0.2, 3.0, 60.0, 500.0),
    "so2": Limits(12, 0.2, 3.0, 100.0, 2000.0),
    "co": Limits(12, 0.02, 0.3, 5.0, 100.0),
}
LIMITS.update({
    "temperature": Limits(8, 0.0, -np.inf, np.inf, 70.0),
    "relativehumidity": Limits(12, 0.0, 0.0, np.inf, 100.0, ceiling=99.5),
})
DEFAULT_LIMITS = Limits(12, 0.0, 0.0, np.inf, np.inf)
"""Other parameters (energy meters): only long exactly-flat runs above zero are judged (a solar meter
reads 0 all night, a closed valve 0 all day)."""

HAMPEL_HALF_WINDOW = 6
"""k: the window is the readings within ±6 h of the one judged (13 hourly readings)."""
HAMPEL_T = 5.0
"""t: scaled MADs from the window median. Pearson's default is 3; hourly air quality is heavy-tailed
(smoke plumes, rush hours), and 5 with the jump tests keeps false alarms rare on realistic series."""
MAD_SCALE = 1.4826
SPIKE_RATIO = 2.0
"""A reading at least twice both its neighbours (or at most half of both) needs only Pearson's t = 3:
hourly means of a regional pollutant do not double and halve again within two hours."""


def limits_for(parameter: str) -> Limits:
    return LIMITS.get(parameter, DEFAULT_LIMITS)


# ---------------------------------------------------------------------------------------------
# stuck
# ---------------------------------------------------------------------------------------------


def stuck(times: np.ndarray, values: np.ndarray, parameter: str, *, max_gap_hours: float = 3.0
          ) -> tuple[np.ndarray, list[str]]:
    """Flag flat runs lasting ``stuck_hours`` or more (see the module docstring).

    A run is a maximal sequence of readings, each at most ``max_gap_hours`` after the previous one,
    whose values all lie within ``stuck_tol`` of the run's first value. Its duration is last − first
    + 1 h (a run of six hourly readings lasts 6 h). Returns the mask (readings 2..n of each long run)
    and, per flagged reading, its detail.
    """
    lim = limits_for(parameter)
    n = len(values)
    mask = np.zeros(n, dtype=bool)
    details: list[str] = []
    if n < 2:
        return mask, details
    t = np.asarray(times, dtype=np.int64)
    v = np.asarray(values, dtype=float)
    gap_ok = np.diff(t) <= max_gap_hours * HOUR_US
    # every run lies inside a stretch of neighbours within 2·tol of each other (vectorised); only the
    # long stretches are walked reading by reading
    close = gap_ok & (np.abs(np.diff(v)) <= 2 * lim.stuck_tol + 1e-9)
    edges = np.flatnonzero(np.diff(np.r_[0, close.astype(np.int8), 0]))
    for a, b in zip(edges[::2], edges[1::2]):  # readings a..b form a stretch
        if (t[b] - t[a]) / HOUR_US + 1.0 < lim.stuck_hours:
            continue
        i = a
        while i <= b:
            j = i + 1
            while j <= b and gap_ok[j - 1] and abs(v[j] - v[i]) <= lim.stuck_tol + 1e-9:
                j += 1
            # run is [i, j)
            dur_h = (t[j - 1] - t[i]) / HOUR_US + 1.0
            if j - i >= 2 and dur_h >= lim.stuck_hours and lim.floor < v[i] < lim.ceiling:
                mask[i + 1:j] = True
                details.extend([f"value {v[i]:g} unchanged for {dur_h:g} h (limit {lim.stuck_hours:g} h)"]
                               * (j - i - 1))
            i = j
    # details were appended run by run, in time order, as the mask's True positions are
    return mask, details


# ---------------------------------------------------------------------------------------------
# spike
# ---------------------------------------------------------------------------------------------


def spikes(times: np.ndarray, values: np.ndarray, parameter: str, *, half_window: int = HAMPEL_HALF_WINDOW,
           t: float = HAMPEL_T) -> tuple[np.ndarray, list[str]]:
    """Hampel filter [1]_ [2]_ over a time-based centred window, with rate-of-change tests.

    A reading x_i is a spike when, with m and MAD the median and median absolute deviation of the
    readings within ±``half_window`` hours (x_i included, as in Pearson's filter):

    - |x_i − m| > t · max(1.4826 · MAD, s_min), s_min = max(spike_jump / 10, 5 % of m) (a floor so that
      a nearly flat window does not turn ordinary noise into outliers); or > 3 · that scale (Pearson's
      default) when x_i is at least twice both neighbours (or at most half of both);
    - x_i − x_{i−1} and x_i − x_{i+1} have the same sign and each exceeds ``spike_jump`` in size (it
      rises and falls back: a real episode builds up or stays);
    - the window holds at least two readings on each side of x_i.
    """
    lim = limits_for(parameter)
    tt = np.asarray(times, dtype=np.int64)
    v = np.asarray(values, dtype=float)
    n = len(v)
    mask = np.zeros(n, dtype=bool)
    details: list[str] = []
    if n < 5 or not np.isfinite(lim.spike_jump):
        return mask, details
    w = half_window * HOUR_US
    lo = np.searchsorted(tt, tt - w, side="left")
    hi = np.searchsorted(tt, tt + w, side="right")
    up = np.r_[np.nan, np.diff(v)]  # x_i - x_{i-1}
    down = np.r_[-np.diff(v), np.nan]  # x_i - x_{i+1}
    cand = ((i_arr := np.arange(n)) - lo >= 2) & (hi - i_arr - 1 >= 2)
    cand &= np.abs(up) > lim.spike_jump
    cand &= np.abs(down) > lim.spike_jump
    cand &= np.sign(up) == np.sign(down)
    for i in np.flatnonzero(cand):
        win = v[lo[i]:hi[i]]
        m = float(np.median(win))
        mad = float(np.median(np.abs(win - m)))
        s = max(MAD_SCALE * mad, lim.spike_jump / 10.0, 0.05 * abs(m))
        z = abs(v[i] - m) / s
        # rises to at least twice both neighbours (or falls to half) and back: Pearson's t = 3 suffices
        lo_n, hi_n = min(v[i - 1], v[i + 1]), max(v[i - 1], v[i + 1])
        doubling = (v[i] >= SPIKE_RATIO * hi_n) if up[i] > 0 else (v[i] * SPIKE_RATIO <= lo_n)
        if z > t or (doubling and z > 3.0):
            mask[i] = True
            details.append(f"{v[i]:g} vs window median {m:.1f} ({z:.1f} scaled MADs; jumps {up[i]:+.1f}, "
                           f"{-down[i]:+.1f} per reading)")
    return mask, details


# ---------------------------------------------------------------------------------------------
# out of range
# ---------------------------------------------------------------------------------------------


def out_of_range(values: np.ndarray, parameter: str) -> tuple[np.ndarray, list[str]]:
    """Values below the parameter's physical minimum (a negative concentration or energy; −90 °C for
    air temperature, :data:`nagar.core.units.PARAMETERS`) and above the instrument range (``invalid``:
    physically impossible)."""
    from nagar.core.units import PARAMETERS

    lim = limits_for(parameter)
    low = PARAMETERS[parameter].min_value if parameter in PARAMETERS else 0.0
    v = np.asarray(values, dtype=float)
    below = v < low
    high = v > lim.sensor_max
    mask = below | high
    details = [(f"negative value {x:g}" if low == 0 else f"{x:g} below the physical minimum {low:g}") if x < low
               else f"{x:g} above the instrument range {lim.sensor_max:g}" for x in v[mask]]
    return mask, details


PM_RATIO_ABS_TOL = 5.0
PM_RATIO_REL_TOL = 0.10


def pm25_above_pm10(pm25: np.ndarray, pm10: np.ndarray) -> np.ndarray:
    """Pairs (same station and time) where PM2.5 > PM10 + max(5 µg/m³, 10 % of PM10) (our tolerance for
    two monitors' combined hourly uncertainty)."""
    a, b = np.asarray(pm25, dtype=float), np.asarray(pm10, dtype=float)
    return a > b + np.maximum(PM_RATIO_ABS_TOL, PM_RATIO_REL_TOL * b)


# ---------------------------------------------------------------------------------------------
# drift against neighbours
# ---------------------------------------------------------------------------------------------


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance [km] on a sphere of radius 6371.0088 km (IUGG mean Earth radius)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * 6371.0088 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


DRIFT_PARAMETERS = ("pm25", "pm10", "pm1", "no2", "no", "o3", "so2")
"""Concentrations in µg/m³ or ppb, where the offset ``c`` of the log-ratio suits (CO in ppm and the
weather parameters are not compared)."""


@dataclass(frozen=True)
class DriftParams:
    radius_km: float = 30.0
    """Neighbours: other stations of the same city within this distance."""
    min_neighbours: int = 3
    """Stations with fewer neighbours, and hours with fewer reporting, are not compared: with two, the
    "median" is their mean and one drifting neighbour would make the others look drifting (measured in
    bench/quality_faults.py: precision 0.37 with 2, see the report)."""
    window_days: int = 14
    rel_change: float = 0.35
    """A steady change of the station/neighbour ratio by 35 % within the window is drift (25 % raised
    false alarms on PM10, whose ratio between sites moves with the season's coarse dust)."""
    min_rho: float = 0.7
    min_days: int = 10
    """Days with a ratio (>= 12 compared hours each) a window needs."""
    offset: float = 5.0
    """c in log((x + c) / (m + c)) [canonical unit]."""


def theil_sen(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Theil–Sen line [6]_: the median of pairwise slopes, intercept median(y − slope·x)."""
    i, j = np.triu_indices(len(x), k=1)
    dx = x[j] - x[i]
    ok = dx != 0
    slope = float(np.median((y[j] - y[i])[ok] / dx[ok])) if ok.any() else 0.0
    return slope, float(np.median(y - slope * x))


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation (average ranks for ties)."""
    from scipy.stats import rankdata

    rx, ry = rankdata(x), rankdata(y)
    sx, sy = rx.std(), ry.std()
    if sx == 0 or sy == 0:
        return 0.0
    return float(np.mean((rx - rx.mean()) * (ry - ry.mean())) / (sx * sy))


def drift_days(day_ratio: np.ndarray, p: DriftParams = DriftParams()) -> tuple[np.ndarray, np.ndarray]:
    """Days of a daily log-ratio series (NaN: no comparison that day) that show drift.

    Returns (flag per day, the fitted drift per day in log units, NaN where not flagged). See the
    module docstring for the rule.
    """
    d = np.asarray(day_ratio, dtype=float)
    n = len(d)
    flag = np.zeros(n, dtype=bool)
    level = np.full(n, np.nan)
    thr = np.log1p(p.rel_change)
    episode_base: float | None = None
    last_base: float | None = None
    for end in range(p.window_days - 1, n):
        idx = np.arange(end - p.window_days + 1, end + 1)
        ok = np.isfinite(d[idx])
        trend = False
        if ok.sum() >= p.min_days:
            x, y = idx[ok].astype(float), d[idx][ok]
            slope, icpt = theil_sen(x, y)
            start_level = icpt + slope * idx[0]
            end_level = icpt + slope * idx[-1]
            if abs(slope) * (p.window_days - 1) >= thr and abs(spearman(x, y)) >= p.min_rho and not (
                    # a window that ends back at the relation held before the last episode is a return
                    # to normal (a repaired or recalibrated sensor), not a new drift
                    episode_base is None and last_base is not None and abs(end_level - last_base) < thr / 2):
                trend = True
                if episode_base is None:
                    # the relation before the drift: the median of the window_days before this window
                    # (the fitted start level when the record is too short for that)
                    ref = d[max(0, idx[0] - p.window_days):idx[0]]
                    ref = ref[np.isfinite(ref)]
                    episode_base = float(np.median(ref)) if len(ref) >= p.min_days // 2 else start_level
                # departure from the station's relation to its neighbours before the episode began (a
                # window over a return to normal moves back towards it and flags nothing)
                fitted = icpt + slope * idx
                moved = np.abs(fitted - episode_base) >= thr / 2
                flag[idx[moved]] = True
                level[idx[moved]] = (fitted - episode_base)[moved]
        if not trend and episode_base is not None:
            if np.isfinite(d[end]) and abs(d[end] - episode_base) >= thr:
                flag[end] = True
                level[end] = d[end] - episode_base
            elif np.isfinite(d[end]):
                last_base, episode_base = episode_base, None  # back to its old relation with the neighbours
    return flag, level


# ---------------------------------------------------------------------------------------------
# time stamps
# ---------------------------------------------------------------------------------------------

FUTURE_TOLERANCE_US = 10 * MINUTE_US
"""Same tolerance as ingest's validator (``nagar.ingest.validate``, ``max_future`` 10 minutes)."""
ORDER_TOLERANCE_US = 72 * HOUR_US
"""A device may re-send what it buffered during an outage; older than 72 h behind its newest push is
out of order."""
PHASE_TOLERANCE_US = 2 * MINUTE_US


def cadence(times: np.ndarray) -> tuple[int, int] | None:
    """(interval, phase) in µs: the series' modal interval (rounded to the minute) and the modal
    offset of its times within that interval. None for fewer than 12 readings."""
    t = np.unique(np.asarray(times, dtype=np.int64))
    if len(t) < 12:
        return None
    d = np.diff(t)
    d = d[d > 0]
    mins = np.round(d / MINUTE_US).astype(np.int64)
    mins = mins[mins > 0]
    if not len(mins):
        return None
    vals, counts = np.unique(mins, return_counts=True)
    step = int(vals[np.argmax(counts)]) * MINUTE_US
    ph = (np.round((t % step) / MINUTE_US).astype(np.int64) * MINUTE_US) % step
    pv, pc = np.unique(ph, return_counts=True)
    return step, int(pv[np.argmax(pc)])


def future_times(times: np.ndarray, *, now_us: int) -> tuple[np.ndarray, list[str]]:
    """Readings timed more than ``FUTURE_TOLERANCE_US`` after ``now_us`` (severity ``suspect``: a
    clock that runs ahead stamps every value with the wrong hour)."""
    t = np.asarray(times, dtype=np.int64)
    mask = t > now_us + FUTURE_TOLERANCE_US
    return mask, ["time in the future"] * int(mask.sum())


def off_cadence(times: np.ndarray, *, now_us: int) -> tuple[np.ndarray, list[str]]:
    """Readings of one series (in time order) off its own cadence, and bursts: *notices* (see the
    module docstring), never flags.

    The cadence (:func:`cadence`) is taken from the readings not in the future (those are
    :func:`future_times`' and are not judged here). A reading is off the clock when its offset within
    the interval differs from the modal phase by more than ``PHASE_TOLERANCE_US``; a burst when it
    follows the previous reading by less than a quarter of the interval (intervals of 5 minutes or
    more). Series with fewer than 12 readings, or an interval over 24 h (monthly meter readings), have
    no cadence and no notices.
    """
    t = np.asarray(times, dtype=np.int64)
    n = len(t)
    mask = np.zeros(n, dtype=bool)
    why = np.full(n, "", dtype=object)
    fut = t > now_us + FUTURE_TOLERANCE_US
    cad = cadence(t[~fut])
    if cad is not None and cad[0] <= 24 * HOUR_US:
        step, phase = cad
        off = (t % step - phase) % step
        off = np.minimum(off, step - off)
        grid = (off > PHASE_TOLERANCE_US) & ~fut
        if step >= 5 * MINUTE_US:
            burst = np.r_[False, np.diff(t) < step // 4] & ~fut
        else:
            burst = np.zeros(n, dtype=bool)
        why[grid] = f"off the series' {step // MINUTE_US}-minute clock (still counted in its hour)"
        mask |= grid
        why[burst & ~mask] = ("burst: less than a quarter interval after the previous reading "
                              "(still counted in its hour)")
        mask |= burst
    return mask, [str(w) for w in why[mask]]


def out_of_order(arrival_times: np.ndarray, last_push_us: int | None) -> np.ndarray:
    """Mask (in arrival order) of readings more than 72 h before the newest time the device had pushed
    before them (its previous pushes: ``last_push_us``, and earlier rows of this batch)."""
    t = np.asarray(arrival_times, dtype=np.int64)
    if not len(t):
        return np.zeros(0, dtype=bool)
    prior = np.maximum.accumulate(np.r_[t[0] if last_push_us is None else last_push_us, t[:-1]])
    return t < prior - ORDER_TOLERANCE_US
