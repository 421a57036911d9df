"""The e-waste store mixin held to the same assertions on DuckDB and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest

from nagar.core.errors import Conflict
from nagar.store.waste_tables import WasteTables
from tests.conftest import utc
from tests.store.test_backends import _seed, backend  # noqa: F401  (the fixture)

NOW = utc(2025, 5, 1)


def test_waste_mixin(backend):  # noqa: F811
    s = backend.open((WasteTables,))
    try:
        _seed(s)
        assert s.put_ewaste_pom([dict(city="dhaka", year=2020, unu_key="0306", kg=10.0, units=100.0,
                                      avg_weight_kg=0.1, source="t")], actor="t", now=NOW) == (1, 0)
        assert s.put_ewaste_pom([dict(city="dhaka", year=2020, unu_key="0306", kg=12.0)], actor="t", now=NOW) == (0, 1)
        assert [(r["kg"], r["units"]) for r in s.ewaste_pom(city="dhaka")] == [(12.0, None)]
        assert s.ewaste_pom(city="dhaka", scope=frozenset({"ctg"})) == []
        s.put_ewaste_population([dict(city="dhaka", year=2020, inhabitants=1e7)])
        assert s.ewaste_population(city="dhaka") == {2020: 1e7}
        s.put_ewaste_targets([dict(city="dhaka", year=2024, category=0, rate=0.2)], actor="t", now=NOW)
        s.put_ewaste_targets([dict(city="dhaka", year=2024, category=0, rate=0.25)], actor="t", now=NOW)
        assert [r["rate"] for r in s.ewaste_targets(city="dhaka")] == [0.25]
        assert s.ewaste_settings(city="dhaka") is None
        s.put_ewaste_settings(city="dhaka", loss_tolerance=0.1, actor="t", now=NOW)
        assert s.ewaste_settings(city="dhaka")["loss_tolerance"] == 0.1
        assert s.add_ewaste_point(dict(id="p1", city="dhaka", name="Ward 1", lat=23.8, lon=90.4), actor="t", now=NOW)
        assert not s.add_ewaste_point(dict(id="p1", city="dhaka", name="x", lat=0, lon=0), actor="t", now=NOW)
        assert [p["id"] for p in s.ewaste_points(city="dhaka")] == ["p1"]
        for h in (dict(id="c1", city="dhaka", name="C", role="collector"),
                  dict(id="r1", city="dhaka", name="R", role="recycler", licence_no="DOE-1",
                       licence_expires=date(2030, 1, 1))):
            assert s.add_ewaste_handler(h, actor="t", now=NOW)
        assert s.ewaste_handler("r1")["licence_expires"] == date(2030, 1, 1)
        assert s.ewaste_handler("r1", scope=frozenset({"ctg"})) is None
        ev = s.add_ewaste_event(dict(city="dhaka", point_id="p1", collector_id="c1", day=date(2025, 3, 1)),
                                [dict(category=6, kg=40.0), dict(category=2, kg=60.0)], actor="t", now=NOW)
        b6 = ev["batches"][0]["id"]
        assert s.ewaste_holdings(b6) == {"c1": 40.0}
        with pytest.raises(Conflict, match="broken chain"):
            s.add_ewaste_move(dict(city="dhaka", batch_id=b6, kind="transfer", day=date(2025, 3, 2),
                                   from_handler="r1", to_handler="c1", kg_out=1.0, kg_in=1.0), actor="t", now=NOW)
        with pytest.raises(Conflict, match="from nothing"):
            s.add_ewaste_move(dict(city="dhaka", batch_id=b6, kind="transfer", day=date(2025, 3, 2),
                                   from_handler="c1", to_handler="r1", kg_out=41.0, kg_in=41.0), actor="t", now=NOW)
        m = s.add_ewaste_move(dict(city="dhaka", batch_id=b6, kind="transfer", day=date(2025, 3, 2),
                                   from_handler="c1", to_handler="r1", kg_out=30.0, kg_in=29.0,
                                   details={"note": "ü"}), actor="t", now=NOW)
        assert m["day"] == date(2025, 3, 2) and m["details"] == {"note": "ü"}
        assert s.ewaste_holdings(b6) == {"c1": 10.0, "r1": 29.0}
        assert [x["kind"] for x in s.ewaste_moves(city="dhaka", batch_id=b6)] == ["collect", "transfer"]
        assert [(c["year"], c["category"], c["kg"]) for c in s.ewaste_collected(city="dhaka")] == [
            (2025, 2, 60.0), (2025, 6, 40.0)]
        assert s.ewaste_batch(b6)["kg"] == 40.0 and s.ewaste_batch(b6, scope=frozenset()) is None
        assert [e["day"] for e in s.ewaste_events(city="dhaka")] == [date(2025, 3, 1)]
    finally:
        s.close()


def test_waste_custody_service_on_both_backends(backend):  # noqa: F811
    """The service's rules over each backend: concurrent transfers spend each kilogram once, a refusal
    writes nothing, and the trace balances."""
    import threading

    from nagar.waste import service
    from nagar.waste.models import EventIn, EventItem, HandlerIn, PointIn, ProcessIn, TransferIn

    s = backend.open((WasteTables,))
    try:
        _seed(s)
        service.add_point(s, city="dhaka", point=PointIn(id="p1", name="Depot", lat=23.8, lon=90.4), actor="t")
        for h in (HandlerIn(id="c1", name="C", role="collector"),
                  HandlerIn(id="r1", name="R", role="recycler", licence_no="L", licence_expires=date(2030, 1, 1))):
            service.add_handler(s, city="dhaka", handler=h, actor="t")
        ev = service.add_event(s, city="dhaka", event=EventIn(point_id="p1", collector_id="c1", day=date(2025, 1, 1),
                                                              items=[EventItem(category=4, kg=100.0)]), actor="t")
        b = ev["batches"][0]["id"]
        results: list[str] = []

        def send():
            try:
                service.transfer(s, city="dhaka", t=TransferIn(batch_id=b, from_handler="c1", to_handler="r1",
                                                               day=date(2025, 1, 2), kg=30.0), actor="t")
                results.append("ok")
            except Conflict as exc:
                results.append(exc.details["rule"])

        threads = [threading.Thread(target=send) for _ in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == ["more_than_held", "more_than_held", "ok", "ok", "ok"]
        moves = len(s.ewaste_moves(city="dhaka"))
        with pytest.raises(Exception, match="exceeds its input"):
            service.process(s, city="dhaka", p=ProcessIn(batch_id=b, recycler_id="r1", day=date(2025, 1, 3),
                                                         input_kg=90.0, materials={"steel": 91.0}), actor="t")
        assert len(s.ewaste_moves(city="dhaka")) == moves
        service.process(s, city="dhaka", p=ProcessIn(batch_id=b, recycler_id="r1", day=date(2025, 1, 3),
                                                     input_kg=90.0, materials={"steel": 80.0}, residues_kg=5.0),
                        actor="t")
        tr = service.trace(s, city="dhaka", batch_id=b)
        assert tr["balance"]["balanced"] and tr["holdings"] == {"c1": 10.0}
        assert tr["balance"]["processing_loss_kg"] == 5.0 and len(tr["flagged"]) == 1  # 5/90 = 5.6 % > 5 %
    finally:
        s.close()
