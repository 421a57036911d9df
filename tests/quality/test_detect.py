"""Each detector on small hand-made series: what must and must not be flagged, boundaries included."""

from __future__ import annotations

import numpy as np
import pytest

from nagar.quality import detect

H = detect.HOUR_US
T0 = 1_750_000_000 * 1_000_000 // H * H  # on the hour


def hours(n, start=0):
    return T0 + (np.arange(n) + start) * H


def noisy(n, seed=1, level=50.0, sd=5.0):
    return np.round(level + np.random.default_rng(seed).normal(0, sd, n), 1)


# stuck ------------------------------------------------------------------------------------------
def test_stuck_six_hours_flagged_from_second_reading_five_not():
    v = noisy(30)
    v[10:16] = 42.0  # 6 readings: 10:00..15:00 lasts 6 h = the PM2.5 limit
    m, det = detect.stuck(hours(30), v, "pm25")
    assert np.flatnonzero(m).tolist() == [11, 12, 13, 14, 15]
    assert "unchanged for 6 h" in det[0]
    v2 = noisy(30)
    v2[10:15] = 42.0  # 5 h: below the limit
    assert not detect.stuck(hours(30), v2, "pm25")[0].any()


def test_stuck_tolerance_and_floor_and_gaps():
    v = noisy(30)
    v[5:13] = [42.0, 42.1, 42.2, 42.0, 41.9, 42.1, 42.0, 42.2]  # within 0.2 of 42.0: still stuck
    assert detect.stuck(hours(30), v, "pm25")[0][6:13].all()
    v[5:13] = [42.0, 42.3, 42.0, 42.3, 42.0, 42.3, 42.0, 42.3]  # 0.3 apart: a live sensor
    assert not detect.stuck(hours(30), v, "pm25")[0].any()
    o3 = noisy(30, level=20)
    o3[3:15] = 1.0  # titrated night ozone below the 3 ppb floor: plausible
    assert not detect.stuck(hours(30), o3, "o3")[0].any()
    # a 4-hour hole breaks a run; a 3-hour one does not
    t = np.r_[hours(4), hours(4, start=8)]
    assert not detect.stuck(t, np.full(8, 42.0), "pm25")[0].any()
    t = np.r_[hours(4), hours(4, start=6)]
    assert detect.stuck(t, np.full(8, 42.0), "pm25")[0].sum() == 7


def test_stuck_leaves_plausible_flat_runs_alone():
    night = np.r_[np.zeros(12), np.linspace(1, 50, 12)]  # a solar meter: 0 kWh all night
    assert not detect.stuck(hours(24), night, "generation")[0].any()
    fog = np.r_[np.full(14, 100.0), noisy(10, level=80)]  # humidity saturated in fog
    assert not detect.stuck(hours(24), fog, "relativehumidity")[0].any()
    frozen = np.r_[np.full(14, 71.3), noisy(10, level=80)]  # a humidity probe frozen at 71.3 %
    assert detect.stuck(hours(24), frozen, "relativehumidity")[0].sum() == 13


def test_stuck_limits_are_parameter_specific():
    v = noisy(30, level=30)
    v[0:8] = 25.0  # 8 h
    assert detect.stuck(hours(30), v, "no2")[0].sum() == 7
    v[7] = 26.0  # 7 h: below NO2's 8 h
    assert not detect.stuck(hours(30), v, "no2")[0].any()


# spike ------------------------------------------------------------------------------------------
def test_isolated_spike_flagged_step_change_and_edges_not():
    v = noisy(25)
    v[12] = 900.0
    m, det = detect.spikes(hours(25), v, "pm25")
    assert np.flatnonzero(m).tolist() == [12] and "scaled MADs" in det[0]
    step = noisy(25)
    step[12:] += 300.0  # a real episode: rises and stays
    assert not detect.spikes(hours(25), step, "pm25")[0].any()
    edge = noisy(25)
    edge[24] = 900.0  # newest reading: no reading after it yet, verdict waits
    edge[1] = 900.0  # only one reading before it
    assert not detect.spikes(hours(25), edge, "pm25")[0].any()


def test_spike_rate_limit_boundary():
    v = np.full(25, 50.0) + np.tile([0.0, 1.0], 13)[:25]
    v[12] = v[11] + 60.0  # a rise of exactly the 60 µg/m³ limit is not above it
    v[13] = v[12] - 60.5
    assert not detect.spikes(hours(25), v, "pm25")[0].any()
    v[12] = v[11] + 61.0
    v[13] = v[12] - 61.0
    assert detect.spikes(hours(25), v, "pm25")[0][12]


# out of range -----------------------------------------------------------------------------------
def test_out_of_range_negative_and_instrument_range():
    m, det = detect.out_of_range(np.array([-0.1, 0.0, 999.9, 1000.0, 1000.1]), "pm25")
    assert m.tolist() == [True, False, False, False, True]
    assert det == ["negative value -0.1", "1000.1 above the instrument range 1000"]
    # a frost is not out of range; -91 °C is (the coldest air ever measured is -89.2 °C, Vostok 1983)
    assert detect.out_of_range(np.array([-5.0, -91.0]), "temperature")[0].tolist() == [False, True]


def test_pm25_above_pm10_tolerance():
    # tolerance max(5, 10 % of PM10): PM10 30 -> 35; PM10 100 -> 110
    pm25 = np.array([35.0, 35.1, 110.0, 110.1, 20.0])
    pm10 = np.array([30.0, 30.0, 100.0, 100.0, 40.0])
    assert detect.pm25_above_pm10(pm25, pm10).tolist() == [False, True, False, True, False]


# drift ------------------------------------------------------------------------------------------
def test_drift_steady_ramp_flagged_noise_and_constant_offset_not():
    rng = np.random.default_rng(3)
    base = 0.2 + rng.normal(0, 0.03, 60)  # a constant site offset with daily noise
    assert not detect.drift_days(base)[0].any()
    ramp = base.copy()
    ramp[30:] += np.log(1.8) * np.minimum(np.arange(30) / 20, 1.0)  # +80 % over 20 days, then stays
    flag, level = detect.drift_days(ramp)
    assert not flag[:30].any()
    assert flag[40:].all()
    assert np.nanmax(level) > np.log(1.35)
    noise = 0.2 + rng.normal(0, 0.15, 60)  # noisy but no trend
    assert flag.sum() > 0 and detect.drift_days(noise)[0].sum() == 0


def test_theil_sen_and_spearman_by_hand():
    # slopes of pairs of (0,0),(1,1),(2,4): 1, 2, 3 -> median 2; intercept median(0-0, 1-2, 4-4) = 0
    assert detect.theil_sen(np.array([0.0, 1, 2]), np.array([0.0, 1, 4])) == (2.0, 0.0)
    assert detect.spearman(np.arange(5.0), np.array([1.0, 3, 2, 5, 4])) == pytest.approx(0.8)  # 1 - 6·4/(5·24)


# time stamps ------------------------------------------------------------------------------------
def test_future_times_are_suspect_off_clock_and_bursts_are_notices():
    t = hours(24)
    now = int(t[-1])
    assert not detect.future_times(t, now_us=now)[0].any() and not detect.off_cadence(t, now_us=now)[0].any()
    off, burst = int(t[5] + 37 * detect.MINUTE_US), int(t[9] + 30_000_000)
    ahead, far = now + 11 * detect.MINUTE_US, now + 2 * H
    t2 = np.sort(np.r_[t, off, burst, ahead, far])
    m, det = detect.future_times(t2, now_us=now)
    assert dict(zip(t2[m].tolist(), det)) == {ahead: "time in the future", far: "time in the future"}
    m, det = detect.off_cadence(t2, now_us=now)
    notes = dict(zip(t2[m].tolist(), det))
    assert set(notes) == {off, burst}  # a reading in the future is future_times' alone, not also a notice
    assert notes[off].startswith("off the series' 60-minute clock") and "still counted" in notes[off]
    assert notes[burst].startswith("burst")
    # the reading after an off-clock one (06:37 -> 07:00, 23 min) is on the clock and not a burst (< 15 min)
    # 10 minutes ahead is within the tolerance, and 2 minutes off the hour too
    t3 = hours(24) + np.r_[np.zeros(23, dtype=np.int64), 2 * detect.MINUTE_US]
    assert not detect.future_times(t3, now_us=int(t3[-1]) - 10 * detect.MINUTE_US)[0].any()
    assert detect.future_times(t3, now_us=int(t3[-1]) - 10 * detect.MINUTE_US - 1)[0].tolist() == [False] * 23 + [True]
    assert not detect.off_cadence(t3, now_us=int(t3[-1]))[0].any()
    t4 = hours(24) + np.r_[np.zeros(23, dtype=np.int64), 2 * detect.MINUTE_US + 1]
    assert detect.off_cadence(t4, now_us=int(t4[-1]))[0].tolist() == [False] * 23 + [True]
    # fewer than 12 readings: no cadence, no notices
    assert not detect.off_cadence(np.sort(np.r_[hours(10), off]), now_us=now)[0].any()


def test_out_of_order_against_previous_pushes():
    t = np.array([100, 101, 102, 20, 102 - 72, 103], dtype=np.int64) * H
    m = detect.out_of_order(t, last_push_us=None)
    assert m.tolist() == [False, False, False, True, False, False]  # 72 h behind is the limit, not over it
    assert detect.out_of_order(np.array([10 * H]), last_push_us=83 * H).tolist() == [True]
    assert detect.out_of_order(np.array([11 * H]), last_push_us=83 * H).tolist() == [False]
