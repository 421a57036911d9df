"""Water service over a real store: loading with unit conversion, WQI per station and period,
exceedances, history, objective sets (shipped and a city's own, JSON and CSV)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from nagar.core.errors import Conflict, InvalidInput, NotFound
from nagar.water import objectives as objx
from nagar.water import service

ST = [{"id": "bg-1", "name": "Buriganga at Sadarghat", "water_body": "Buriganga", "lat": 23.705, "lon": 90.41},
      {"id": "tg-1", "name": "Turag at Mirpur", "water_body": "Turag", "lat": 23.80, "lon": 90.34}]


def _samples(station: str, month: int, do: float, ph: float, bod: float, ammonia: float, unit_do="mg/L") -> list:
    t = f"2024-{month:02d}-10T10:00:00+06:00"
    return [{"station": station, "parameter": "do", "time": t, "value": do, "unit": unit_do},
            {"station": station, "parameter": "ph", "time": t, "value": ph, "unit": "pH"},
            {"station": station, "parameter": "bod", "time": t, "value": bod, "unit": "mg/L"},
            {"station": station, "parameter": "ammonia", "time": t, "value": ammonia, "unit": "mg/L"}]


@pytest.fixture
def loaded(wstore):
    service.put_stations(wstore, city="dhaka", stations=ST, actor="t")
    rows = []
    # bg-1 is the hand example of test_wqi (DO 6,4,5,7 / pH 7,9,6,7.5 / BOD 2-5 / NH3 0.5): WQI 69.14 Fair;
    # DO given in µg/L once to exercise the conversion
    for m, (do, ph, bod) in enumerate([(6, 7, 2), (4, 9.0, 3), (5, 6.0, 4), (7, 7.5, 5)], start=1):
        rows += _samples("bg-1", m, do * 1000 if m == 1 else do, ph, bod, 0.5, unit_do="µg/L" if m == 1 else "mg/L")
    for m in range(1, 5):
        rows += _samples("tg-1", m, 7, 7.2, 2, 0.2)
    out = service.load_samples(wstore, city="dhaka", rows=rows, actor="t")
    assert out == {"city": "dhaka", "received": 32, "inserted": 32, "updated": 0}
    return wstore


def test_wqi_per_station_and_year(loaded):
    res = service.wqi(loaded, city="dhaka", objectives="bd-ecr1997-fisheries", period="year")
    by = {i["station"]: i for i in res["items"]}
    assert by["bg-1"]["wqi"] == pytest.approx(69.14, abs=0.01) and by["bg-1"]["category"] == "Fair"
    assert by["bg-1"]["failed_tests"] == 3 and by["bg-1"]["tests"] == 16 and by["bg-1"]["period"] == "2024"
    assert by["tg-1"]["wqi"] == 100.0 and by["tg-1"]["category"] == "Excellent"


def test_monthly_periods_fail_the_minimum_data_rule(loaded):
    res = service.wqi(loaded, city="dhaka", objectives="bd-ecr1997-fisheries", period="month", station="tg-1")
    assert [i["period"] for i in res["items"]] == ["2024-01", "2024-02", "2024-03", "2024-04"]
    assert all(i["wqi"] is None and not i["enough_data"] for i in res["items"])


def test_exceedances_list_the_failed_tests(loaded):
    res = service.exceedances(loaded, city="dhaka", objectives="bd-ecr1997-fisheries")
    got = sorted((i["station"], i["parameter"], i["value"], i["side"], i["excursion"]) for i in res["items"])
    assert got == [("bg-1", "do", 4.0, "lower", 0.25), ("bg-1", "ph", 6.0, "lower", pytest.approx(0.0833, abs=1e-4)),
                   ("bg-1", "ph", 9.0, "upper", pytest.approx(0.0588, abs=1e-4))]
    assert res["tests"] == 32 and res["failed"] == 3
    q = service.exceedances(loaded, city="dhaka", objectives="bd-ecr1997-fisheries", period="quarter",
                            station="bg-1")
    # January-March 2024 (Q1): 12 tests, the DO of February and both pH failures; April (Q2): 4 tests, none
    assert [(s["period"], s["tests"], s["failed"], s["parameters_failed"]) for s in q["summary"]] == [
        ("2024-Q1", 12, 3, ["do", "ph"]), ("2024-Q2", 4, 0, [])]


def test_history_has_the_limit_and_converted_values(loaded):
    h = service.history(loaded, city="dhaka", station="bg-1", parameter="do", objectives="bd-ecr1997-fisheries")
    assert [i["value"] for i in h["items"]] == [6.0, 4.0, 5.0, 7.0] and h["lower"] == 5 and h["unit"] == "mg/L"


def test_reload_updates_and_bad_rows_write_nothing(loaded):
    out = service.load_samples(loaded, city="dhaka", rows=_samples("tg-1", 1, 8, 7.2, 2, 0.2), actor="t")
    assert (out["inserted"], out["updated"]) == (0, 4)
    with pytest.raises(InvalidInput) as e:
        service.load_samples(loaded, city="dhaka", rows=_samples("tg-1", 5, 8, 7.2, 2, 0.2)
                             + [{"station": "tg-1", "parameter": "do", "time": "2024-05-10", "value": 5,
                                 "unit": "NTU"}], actor="t")
    assert "cannot convert" in e.value.message
    bad_row = len(_samples("tg-1", 5, 8, 7.2, 2, 0.2))  # the appended row, after the good ones
    assert e.value.field == f"samples.{bad_row}.unit" and e.value.message.startswith(f"samples.{bad_row}: ")
    with pytest.raises(InvalidInput, match="no water station"):
        service.load_samples(loaded, city="dhaka", rows=[{"station": "nope", "parameter": "do", "time": "2024-05-10",
                                                          "value": 5}], actor="t")
    with pytest.raises(InvalidInput, match="plausible"):
        service.load_samples(loaded, city="dhaka", rows=[{"station": "tg-1", "parameter": "ph", "time": "2024-05-10",
                                                          "value": 15}], actor="t")
    with pytest.raises(InvalidInput, match="UTC offset"):
        service.load_samples(loaded, city="dhaka", rows=[{"station": "tg-1", "parameter": "ph",
                                                          "time": "2024-05-10T10:00", "value": 7}], actor="t")
    assert len(loaded.water_samples(stations=["tg-1"], start=datetime(2024, 5, 1, tzinfo=timezone.utc))) == 0


def test_below_detection_and_scope(loaded):
    service.load_samples(loaded, city="dhaka", rows=[{"station": "tg-1", "parameter": "lead", "time": "2024-06-01",
                                                      "value": "<5", "unit": "µg/L"}], actor="t")
    r = loaded.water_samples(stations=["tg-1"], parameters=["lead"])[0]
    assert r["value"] == pytest.approx(0.005) and r["qualifier"] == "<"
    with pytest.raises(NotFound):
        service.wqi(loaded, city="dhaka", scope=frozenset({"chattogram"}))
    assert loaded.water_samples(stations=["tg-1"], scope=frozenset({"chattogram"})) == []
    with pytest.raises(Conflict):
        service.put_stations(loaded, city="chattogram", stations=[{"id": "tg-1"}], actor="t")


def test_shipped_sets_cite_their_schedule():
    sets = {s.id: s for s in objx.shipped_sets()}
    assert set(sets) == {"bd-ecr1997-drinking", "bd-ecr1997-fisheries", "bd-ecr1997-irrigation",
                         "bd-ecr1997-industrial-discharge"}
    assert "Schedule 3" in sets["bd-ecr1997-drinking"].source and "Schedule 10" in sets[
        "bd-ecr1997-industrial-discharge"].source
    d = sets["bd-ecr1997-drinking"].objectives
    assert (d["ph"].lower, d["ph"].upper, d["do"].lower, d["arsenic"].upper) == (6.5, 8.5, 6, 0.05)
    assert all(o.verified is not None for s in sets.values() for o in s.objectives.values())


def test_shipped_sets_say_the_2023_rules_superseded_them():
    # The ECR 1997 were superseded by the Environment Conservation Rules 2023, whose schedules could not be
    # verified (README, "Water quality and alerts"): every shipped set says so in full, and none claims 2023.
    for s in objx.shipped_sets():
        assert s.id.startswith("bd-ecr1997-") and "Schedule" in s.source and "2023" not in s.source
        assert "superseded by the Environment Conservation Rules 2023" in s.edition
        assert "no 2023 values are compared or shipped here)" in s.edition  # not cut by the 500-character limit


def test_a_citys_own_set_json_and_csv(loaded):
    out = service.put_objective_set(loaded, city="dhaka", data={
        "id": "dhaka-strict", "name": "Strict", "use": "fisheries", "source": "DoE Dhaka memo 2025",
        "objectives": {"do": {"lower": 6000, "unit": "µg/L"}, "ph": {"lower": 6.5, "upper": 8.5},
                       "bod": {"upper": 3}, "ammonia": {"upper": 1}}}, actor="t")
    assert out["created"] is True and out["objectives"]["do"]["lower"] == 6.0
    res = service.wqi(loaded, city="dhaka", objectives="dhaka-strict", station="tg-1")
    assert res["items"][0]["wqi"] == 100.0
    # csv: DO >= 7.5 makes every tg-1 DO test (7) fail: F1 = 25, F2 = 25, nse = 4 x (7.5/7 - 1)/16
    s = objx.parse_csv("parameter,lower,upper,unit\ndo,7.5,,mg/L\nph,6.5,8.5,\nbod,,3,mg/L\nammonia,,1,mg/L\n",
                       meta={"id": "dhaka-csv", "name": "CSV", "use": "other", "source": "test"}, city="dhaka")
    assert s.objectives["do"].lower == 7.5 and s.objectives["ph"].upper == 8.5
    with pytest.raises(InvalidInput, match="lower is above upper"):
        objx.parse_set({"id": "bad-set", "name": "x", "use": "other", "source": "xyz",
                        "objectives": {"ph": {"lower": 9, "upper": 6}}})
    with pytest.raises(NotFound):
        service.wqi(loaded, city="chattogram", objectives="dhaka-strict")
