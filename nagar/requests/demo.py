"""Demonstration service requests for Dhaka, filed through the same service functions as the API, and
Dhaka's open-data catalogue. Additive: nothing is done for a city that already has requests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from . import service

CITY = "dhaka"
# (hours ago, service, lat, lon, address, description, attributes, workflow [(hours ago, status, department, note)])
REQUESTS = (
    (72, "EWASTE", 23.7190, 90.3880, "Islambagh, Lalbagh", "Cables and circuit boards burnt in the open every evening.",
     {"ACTIVITY": ["burning"], "ITEMS": ["cables", "circuit_boards"]}, [(70, "acknowledged", None, None)]),
    (70, "EWASTE", 23.7192, 90.3883, "Islambagh", "Thick black smoke from burning wires near the ghat.",
     {"ACTIVITY": ["burning"]}, []),  # 35 m from the first: linked to it as a duplicate
    (60, "AIR", 23.7980, 90.3140, "Amin Bazar", "Brick kiln chimney smoking all day.",
     {"SOURCE": ["brick_kiln"]}, [(50, "in_progress", None, "An inspection team from the Environment Cell visited.")]),
    (20, "AIR", 23.7150, 90.4560, "Matuail landfill", "Waste burning at the landfill edge.",
     {"SOURCE": ["open_burning"]}, []),
    (30, "WATER", 23.7050, 90.4050, "Buriganga, Sadarghat", "Oily film and dark water near the launch terminal.",
     {"WATERBODY": ["river"], "SIGNS": ["oil", "colour"]}, []),
    (40, "WATERLOG", 23.7390, 90.4150, "Shantinagar crossing", "Knee-deep water after the rain.",
     {"DEPTH_CM": ["45"]}, [(36, "acknowledged", None, None), (20, "resolved", None, "Drain cleared.")]),
    (26, "GARBAGE", 23.8070, 90.3680, "Mirpur 10 roundabout", "Bins overflowing for two days.", {},
     [(10, "resolved", None, "Collected.")]),
    (5, "STREETLIGHT", 23.7560, 90.3750, "Dhanmondi road 27", "Three lights out in a row.", {"POLE_ID": ["DN-27-14"]},
     []),
)
PUBLIC_DATASETS = ("aqi-daily", "observations-hourly", "ghg-inventory", "service-requests")


def load_requests_demo(store, *, settings, now: datetime | None = None) -> dict:
    """File the demo requests and publish Dhaka's datasets (each only if absent). Returns what was done."""
    from nagar.opendata.service import ensure_published

    now = now or datetime.now(timezone.utc).replace(microsecond=0)
    made = 0
    if store.get_city(CITY) is not None and not store.service_requests(city=CITY, limit=1):
        for ago, code, lat, lon, address, text, attrs, steps in REQUESTS:
            form = {"service_code": code, "lat": str(lat), "long": str(lon), "address_string": address,
                    "description": text}
            req = service.submit(store, settings=settings, city=CITY, form=form, attributes=attrs, photo=None,
                                 client=None, actor="demo", now=now - timedelta(hours=ago))["request"]
            made += 1
            for when, status, department, note in steps:
                service.update_request(store, request_id=req["id"], status=status, department=department, note=note,
                                       public=note is not None, actor="demo", now=now - timedelta(hours=when))
    published = ensure_published(store, city=CITY, datasets=list(PUBLIC_DATASETS), actor="demo") \
        if store.get_city(CITY) is not None else 0
    return {"requests": made, "published": published}
