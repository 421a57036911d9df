from __future__ import annotations

from datetime import date

import pytest

from nagar.store.duckdb import DuckDBStore

DHAKA = dict(id="dhaka", name="Dhaka", country="BD", timezone="Asia/Dhaka", lat=23.81, lon=90.41,
             standard="bd-doe", open_data=False)
HANOI = dict(id="hanoi", name="Hanoi", country="VN", timezone="Asia/Ho_Chi_Minh", lat=21.03, lon=105.85,
             open_data=False)


@pytest.fixture
def wstore(tmp_path):
    s = DuckDBStore(tmp_path / "w.duckdb")
    s.upsert_city(DHAKA)
    s.upsert_city(HANOI)
    yield s
    s.close()


@pytest.fixture
def chain(wstore):
    """Dhaka with a collection point, a collector, a licensed transporter, a licensed recycler, an
    unlicensed transporter and a recycler whose licence expired on 2024-12-31; one collection event
    on 2025-03-01: 100 kg of small IT (category 6) and 50 kg of screens (category 2)."""
    from nagar.waste import service
    from nagar.waste.models import EventIn, EventItem, HandlerIn, PointIn

    a = "user:test"
    service.add_point(wstore, city="dhaka", point=PointIn(id="pt-1", name="Ward 19 depot", lat=23.79, lon=90.41),
                      actor=a)
    for h in (HandlerIn(id="col-1", name="Ward collector", role="collector"),
              HandlerIn(id="trn-1", name="Licensed transport", role="transporter", licence_no="DOE-T-1",
                        licence_expires=date(2027, 1, 1)),
              HandlerIn(id="rec-1", name="Licensed recycler", role="recycler", licence_no="DOE-R-1",
                        licence_expires=date(2027, 6, 30)),
              HandlerIn(id="trn-x", name="No licence", role="transporter"),
              HandlerIn(id="rec-old", name="Expired recycler", role="recycler", licence_no="DOE-R-0",
                        licence_expires=date(2024, 12, 31))):
        service.add_handler(wstore, city="dhaka", handler=h, actor=a)
    ev = service.add_event(wstore, city="dhaka", event=EventIn(
        point_id="pt-1", collector_id="col-1", day=date(2025, 3, 1),
        items=[EventItem(category=6, kg=100.0), EventItem(category=2, kg=50.0)]), actor=a)
    return wstore, ev
