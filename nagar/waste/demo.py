"""Demonstration e-waste data for Dhaka: put-on-market (POM) series, population, collection points,
handlers, a few collection events, transfers and one recycler's output.

**Everything here is illustrative** (marked so in each stored ``source``): no Dhaka-level POM statistics
were found for this build. The POM series are scaled so that Dhaka's modelled generation per inhabitant
is a few kg a year, the order of magnitude of the national figure for Bangladesh in the Global E-waste
Monitor 2020 country table (Forti, Baldé, Kuehr, Bel 2020; about 1.2 kg per inhabitant in 2019, as
recalled for this build and not checked against the publication): a city's consumption runs above the
national average. Handler names and licence numbers are invented. Replace all of it with the city's
own data (customs/HS import statistics converted to UNU-KEYs; the Department of Environment's register
of e-waste licences under the Hazardous Waste (E-waste) Management Rules 2021).
"""

from __future__ import annotations

from datetime import date, datetime, timezone

from nagar.security import audit

CITY = "dhaka"
ILLUSTRATIVE = "illustrative demo figure (not a statistic); see nagar/waste/demo.py"
FIRST, LAST = 2000, 2024

# UNU-KEY -> (kg put on market in 2024, annual growth up to 2024) — illustrative
POM_2024 = {
    "0108": (12.8e6, 0.07), "0111": (10.4e6, 0.12), "0104": (4.4e6, 0.09), "0114": (1.0e6, 0.08),
    "0408": (8.4e6, 0.10), "0309": (1.2e6, 0.06), "0303": (2.2e6, 0.12), "0302": (1.8e6, 0.03),
    "0306": (1.7e6, 0.09), "0305": (0.2e6, 0.00), "0502": (0.5e6, -0.05), "0505": (0.8e6, 0.18),
    "0201": (2.4e6, 0.06), "0202": (1.6e6, 0.07), "0401": (0.6e6, 0.05),
}
CRT_TV = {"0407": (9.6e6, 2000, 2014)}  # CRT televisions: sold until 2014, falling from 9.6 kt in 2000

POINTS = [
    ("dhaka-ewaste-gulshan", "Gulshan-2 ward office drop-off", 23.7925, 90.4078, "Gulshan-2, DNCC"),
    ("dhaka-ewaste-mirpur", "Mirpur-10 market collection point", 23.8069, 90.3687, "Mirpur-10, DNCC"),
    ("dhaka-ewaste-dhanmondi", "Dhanmondi community centre", 23.7461, 90.3742, "Dhanmondi, DSCC"),
    ("dhaka-ewaste-nayabazar", "Nayabazar secondary transfer station", 23.7145, 90.4010, "Nayabazar, DSCC"),
]
HANDLERS = [
    dict(id="dhaka-ward-collectors", name="Ward e-waste collectors (demo)", role="collector"),
    dict(id="dhaka-green-transport", name="Green Haul transport (demo)", role="transporter",
         licence_no="DEMO-DOE-T-2024-017", licence_expires=date(2026, 12, 31)),
    dict(id="dhaka-recycler-a", name="Licensed recycler A (demo)", role="recycler",
         licence_no="DEMO-DOE-R-2023-004", licence_expires=date(2027, 6, 30)),
    dict(id="dhaka-recycler-b", name="Recycler B, licence expired (demo)", role="recycler",
         licence_no="DEMO-DOE-R-2021-011", licence_expires=date(2024, 6, 30)),
]
EVENTS = [  # point, day, {category: kg}
    ("dhaka-ewaste-gulshan", date(2025, 1, 11), {6: 182.0, 2: 240.0, 5: 95.0}),
    ("dhaka-ewaste-mirpur", date(2025, 1, 25), {6: 130.0, 5: 210.0, 3: 18.0}),
    ("dhaka-ewaste-dhanmondi", date(2025, 2, 8), {1: 420.0, 2: 160.0}),
    ("dhaka-ewaste-nayabazar", date(2025, 2, 22), {4: 650.0, 5: 140.0, 6: 75.0}),
    ("dhaka-ewaste-gulshan", date(2025, 3, 8), {6: 205.0, 3: 26.0}),
]


def pom_rows() -> list[dict]:
    """Illustrative POM of Dhaka per year and key [kg]: 2024 figure discounted by its growth rate."""
    rows = []
    for key, (kg24, g) in POM_2024.items():
        for y in range(FIRST, LAST + 1):
            rows.append({"city": CITY, "year": y, "unu_key": key, "kg": round(kg24 / (1 + g) ** (LAST - y), 1),
                         "units": None, "avg_weight_kg": None, "source": ILLUSTRATIVE})
    for key, (kg0, y0, y1) in CRT_TV.items():
        for y in range(y0, y1 + 1):
            rows.append({"city": CITY, "year": y, "unu_key": key, "kg": round(kg0 * (1 - (y - y0) / (y1 - y0 + 1)), 1),
                         "units": None, "avg_weight_kg": None, "source": ILLUSTRATIVE})
    return rows


def has_ewaste_demo(store) -> bool:
    return store.ewaste_point(POINTS[0][0]) is not None


OPEN_DATASETS = ("ewaste-indicators", "ewaste-collection-points")


def publish_ewaste_open_data(store) -> int:
    """Publish Dhaka's e-waste datasets (CC-BY-4.0) when its e-waste demo is there; a dataset the city
    already has settings for (published, or withdrawn by its admin) is left as it is. Returns how many
    were published now (0 on a second run)."""
    from nagar.opendata.service import ensure_published

    if store.get_city(CITY) is None or not has_ewaste_demo(store):
        return 0
    return ensure_published(store, city=CITY, datasets=list(OPEN_DATASETS), actor="demo")


def load_ewaste_demo(store) -> dict | None:
    """Write the demo once (None when it is already there, or Dhaka is absent), through the service's
    checks: every transfer obeys the custody rules; one arrives with a loss above 5 % (flagged)."""
    from . import service
    from .models import EventIn, EventItem, HandlerIn, PointIn, ProcessIn, TargetRow, TransferIn

    if store.get_city(CITY) is None or has_ewaste_demo(store):
        return None
    actor = "demo"
    now = datetime.now(timezone.utc)
    rows = pom_rows()
    store.put_ewaste_pom(rows, actor=actor, now=now)
    store.put_ewaste_population([{"city": CITY, "year": y, "inhabitants": round(10.3e6 * 1.02 ** (y - 2022)),
                                  "source": ILLUSTRATIVE} for y in range(FIRST, 2026)])
    audit.record(store, actor=actor, action="ewaste.pom.put", city=CITY, target=f"city:{CITY}",
                 details={"rows": len(rows), "source": ILLUSTRATIVE})
    for pid, name, lat, lon, addr in POINTS:
        service.add_point(store, city=CITY, point=PointIn(id=pid, name=name, lat=lat, lon=lon, address=addr),
                          actor=actor)
    for h in HANDLERS:
        service.add_handler(store, city=CITY, handler=HandlerIn(**h), actor=actor)
    batches = []
    for pid, day, items in EVENTS:
        ev = service.add_event(store, city=CITY, event=EventIn(
            point_id=pid, collector_id="dhaka-ward-collectors", day=day,
            items=[EventItem(category=c, kg=kg) for c, kg in items.items()]), actor=actor)
        batches += [(b["id"], b["kg"], day) for b in ev["batches"]]
    moved = 0
    for i, (bid, kg, day) in enumerate(batches[:10]):
        got = kg * (0.93 if i == 2 else 0.99)  # one load arrives 7 % light: flagged
        service.transfer(store, city=CITY, t=TransferIn(
            batch_id=bid, from_handler="dhaka-ward-collectors", to_handler="dhaka-green-transport",
            day=date.fromordinal(day.toordinal() + 2), kg=kg, kg_received=round(got, 1)), actor=actor)
        if i < 6:
            service.transfer(store, city=CITY, t=TransferIn(
                batch_id=bid, from_handler="dhaka-green-transport", to_handler="dhaka-recycler-a",
                day=date.fromordinal(day.toordinal() + 3), kg=round(got, 1)), actor=actor)
        moved += 1
    bid, kg, day = batches[0]
    held = store.ewaste_holdings(bid).get("dhaka-recycler-a", 0.0)
    service.process(store, city=CITY, p=ProcessIn(
        batch_id=bid, recycler_id="dhaka-recycler-a", day=date.fromordinal(day.toordinal() + 10), input_kg=held,
        materials={"printed circuit boards": round(held * 0.12, 1), "copper": round(held * 0.07, 1),
                   "ferrous metals": round(held * 0.18, 1), "plastics": round(held * 0.35, 1)},
        residues_kg=round(held * 0.25, 1)), actor=actor)
    service.put_targets(store, city=CITY, rows=[TargetRow(year=2025, category=0, rate=0.10),
                                                TargetRow(year=2025, category=6, rate=0.20)], actor=actor)
    return {"pom_rows": len(rows), "points": len(POINTS), "handlers": len(HANDLERS), "batches": len(batches),
            "transfers": moved}
