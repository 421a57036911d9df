"""Demonstration water-quality data for Dhaka's rivers, and the demonstration alert rules.

ILLUSTRATIVE, NOT MEASUREMENTS. The stations are real places on the Buriganga, Turag, Shitalakshya and
Balu; the monthly samples are generated (seeded) to show the pattern the Department of Environment's
river monitoring and the literature describe for these rivers: dissolved oxygen collapsing and BOD, COD
and ammonia rising in the dry season (December-April) when flows are low and untreated industrial and
domestic effluent dominates, with dilution in the monsoon (June-September); the Buriganga and the Balu
the most affected, the Shitalakshya the least. Every station's ``source`` says so.

Ranges were set against published figures for the Buriganga:
- Department of Environment, "Surface and Groundwater Quality Report 2022" (as reported in the press,
  2024): DO 0.1 mg/L at Bosila in April 2022, 6.26 mg/L in the July monsoon;
- "Water Quality Assessment of the Buriganga River, Dhaka, Bangladesh", Journal of Environment and Earth
  Science 11(2), 2021, doi:10.7176/JEES/11-2-09 (96 samples, 8 points, March 2015-February 2016):
  DO 0.0-4.9 mg/L, BOD 1-23 mg/L, COD 8-63 mg/L, TDS 63-566 mg/L, pH 6.9-7.9.
The other rivers are scaled from the Buriganga by a severity factor; no figure of theirs is claimed.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np

CITY = "dhaka"
LABEL = "Illustrative demo values (Nagar demo generator), not measurements"

STATIONS = [  # id, name, river, lat, lon, severity 0 (clean) .. 1 (worst)
    ("bur-sadarghat", "Buriganga at Sadarghat", "Buriganga", 23.7065, 90.4110, 1.0),
    ("bur-hazaribagh", "Buriganga at Hazaribagh", "Buriganga", 23.7330, 90.3640, 0.95),
    ("tur-mirpur", "Turag at Mirpur bridge", "Turag", 23.7985, 90.3400, 0.8),
    ("tur-tongi", "Turag at Tongi", "Turag", 23.8830, 90.4000, 0.75),
    ("shi-demra", "Shitalakshya at Demra", "Shitalakshya", 23.7230, 90.5010, 0.5),
    ("shi-narayanganj", "Shitalakshya at Narayanganj", "Shitalakshya", 23.6170, 90.5070, 0.6),
    ("balu-demra", "Balu at Demra", "Balu", 23.7450, 90.4950, 0.85),
]


def generate(*, seed: int = 7, months: int = 24, end: datetime | None = None) -> tuple[list[dict], list[dict]]:
    """Stations and monthly samples (canonical units) ending at the month before ``end``."""
    rng = np.random.default_rng(seed)
    end = end or datetime.now(timezone.utc)
    first = datetime(end.year, end.month, 1, 4, tzinfo=timezone.utc)  # 10:00 in Dhaka, mid-morning sampling
    stations = [{"id": i, "city": CITY, "name": n, "water_body": r, "lat": la, "lon": lo, "source": LABEL}
                for i, n, r, la, lo, _ in STATIONS]
    samples = []
    for k in range(months, 0, -1):
        m0 = (first.month - 1 - k) % 12 + 1
        y0 = first.year + (first.month - 1 - k) // 12
        t = datetime(y0, m0, 10, 4, tzinfo=timezone.utc) + timedelta(days=int(rng.integers(0, 8)))
        dry = {12: 0.9, 1: 1.0, 2: 1.0, 3: 0.95, 4: 0.8, 5: 0.5, 6: 0.2, 7: 0.05, 8: 0.0, 9: 0.1, 10: 0.3,
               11: 0.6}[m0]
        for sid, _, _, _, _, sev in STATIONS:
            p = sev * (0.15 + 0.85 * dry)  # pollution pressure 0..1
            n = lambda s: float(rng.normal(0, s))  # noqa: E731
            vals = {
                "do": max(0.1, 7.0 - 7.0 * p + n(0.3)),  # Buriganga: ~6 in the monsoon, ~0.1 in April
                "bod": max(1.0, 1.5 + 20 * p ** 1.5 + n(1.0)),  # published 1-23 mg/L
                "cod": max(5.0, 8 + 52 * p ** 1.4 + n(3)),  # published 8-63 mg/L
                "ph": min(8.9, max(6.3, 7.0 + 0.8 * p + n(0.1))),  # published 6.9-7.9
                "tds": max(60.0, 70 + 470 * p + n(20)),  # published 63-566 mg/L
                "ammonia": max(0.05, 0.2 + 9 * p ** 2 + n(0.2)),
                "turbidity": max(2.0, 60 - 35 * dry + n(6)),
                "ecoli": max(10.0, 10 ** (2.0 + 2.5 * p + n(0.2))),
            }
            for prm, v in vals.items():
                samples.append({"station": sid, "parameter": prm, "time": t.isoformat(), "value": round(v, 3),
                                "source": LABEL})
    return stations, samples


FORECAST_DEMO_RULE = {
    "name": "Forecast PM2.5 AQI very unhealthy tomorrow morning, 06-12 local (demo)",
    "rule": {"kind": "forecast", "parameter": "pm25", "comparison": "ge", "category": "very_unhealthy",
             "window": {"days_ahead": 1, "from_hour": 6, "to_hour": 12}}}
"""Evaluated as each station's PM2.5 forecast is stored (``nagar.forecast.service.store_forecast``)."""

DEMO_RULES = [
    {"name": "PM2.5 hourly mean above 150 µg/m³ for 3 hours (demo)",
     "rule": {"kind": "observation", "parameter": "pm25", "comparison": "gt", "threshold": 150, "duration": 3,
              "quiet_hours": {"start": "23:00", "end": "06:00"}}},
    {"name": "AQI very unhealthy or worse (demo)",
     "rule": {"kind": "aqi", "comparison": "ge", "category": "very_unhealthy", "duration": 2}},
    {"name": "Dissolved oxygen below 4 mg/L in two samples running (demo)",
     "rule": {"kind": "water", "parameter": "do", "comparison": "lt", "threshold": 4, "duration": 2}},
    FORECAST_DEMO_RULE,
]


def has_water_demo(store) -> bool:
    return bool(store.water_stations(city=CITY, ids=[STATIONS[0][0]]))


def load_water_demo(store, *, settings=None, seed: int = 7) -> dict:
    """Add the demo rules, stations and samples to Dhaka (once), then run the observation rules over the last
    seven days of the stored demo observations so the alert list has a history. Additive: nothing else of
    the city changes."""
    from nagar.alerts.models import RuleIn
    from nagar.alerts.service import AlertEngine, add_rule

    from . import service

    if store.get_city(CITY) is None:
        return {"stations": 0, "samples": 0, "alerts": 0}
    if has_water_demo(store):  # loaded before the forecast rule joined DEMO_RULES: add it (once, by name)
        if FORECAST_DEMO_RULE["name"] not in {r["name"] for r in store.alert_rules(city=CITY)}:
            add_rule(store, city=CITY, body=RuleIn(**FORECAST_DEMO_RULE), actor="demo", settings=settings)
        return {"stations": 0, "samples": 0, "alerts": 0}
    stations, samples = generate(seed=seed)
    for r in DEMO_RULES:
        add_rule(store, city=CITY, body=RuleIn(**r), actor="demo", settings=settings)
    service.put_stations(store, city=CITY, stations=stations, actor="demo")
    out = service.load_samples(store, city=CITY, rows=samples, actor="demo", settings=settings)
    alerts = 0
    st = store.stats()
    if st.last is not None:
        last = st.last if st.last.tzinfo else st.last.replace(tzinfo=timezone.utc)
        recent = store.observations(city=CITY, parameters=["pm25"], start=last - timedelta(days=7))
        alerts = len(AlertEngine(store, settings).process_batch(recent)) if recent.num_rows else 0
    return {"stations": len(stations), "samples": out["inserted"], "alerts": alerts}
