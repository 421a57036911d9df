"""The e-waste open datasets: registered, unpublished until a city admin publishes them, downloads whose
columns are the documented ones and whose values are worked by hand from a tiny setup, GeoJSON of the
collection points in (lon, lat) order, tenancy, the DCAT-AP catalogue and the demo's publication."""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from nagar.waste import service
from nagar.waste.models import EventIn, EventItem, HandlerIn, PointIn, TargetRow
from tests.conftest import make_user
from tests.opendata.conftest import _client, world  # noqa: F401  (fixtures: Dhaka open data, Chattogram private)

OD = "/api/v1/opendata"
IND, PTS = "ewaste-indicators", "ewaste-collection-points"
KEYS_JSON = Path(__file__).parents[2] / "nagar" / "waste" / "data" / "unu_keys.json"


def publish(w, dataset, city="dhaka", **body):
    who = "admin" if city == "dhaka" else "ctg_admin"
    return w.client.put(f"{OD}/{city}/datasets/{dataset}", json={"license": "CC-BY-4.0", **body},
                        headers=w.auth(who))


def key_0306() -> tuple[float, float, str]:
    """Mobile phones' Weibull shape and scale, read from the shipped data file itself."""
    [k] = [k for k in json.loads(KEYS_JSON.read_text())["keys"] if k["key"] == "0306"]
    assert k["category"] == 6
    return float(k["shape"]), float(k["scale"]), k["weibull_source"]


def F(x: float, shape: float, scale: float) -> float:
    """Weibull CDF, F(x) = 1 - exp(-(x/β)^α) for x > 0 (Forti et al. 2018, sales-lifespan model)."""
    return 1.0 - math.exp(-((x / scale) ** shape)) if x > 0 else 0.0


@pytest.fixture
def ew(world):
    """Dhaka: POM of mobile phones (UNU-KEY 0306, category 6) 2000 t in 2020 and 1000 t in 2021; one
    collection point; one collection event on 2022-05-10 of 150 kg of category 6; a 2022 target of 5 % for
    category 6. Chattogram (private): one collection point of its own and an admin."""
    s, a = world.store, "user:test"
    service.put_pom(s, city="dhaka", rows=[{"year": 2020, "unu_key": "0306", "kg": 2_000_000.0, "source": "test POM"},
                                           {"year": 2021, "unu_key": "0306", "kg": 1_000_000.0, "source": "test POM"}],
                    actor=a)
    service.add_point(s, city="dhaka", point=PointIn(id="dk-pt", name="Ward 19 depot", lat=23.7925, lon=90.4078,
                                                     address="Gulshan-2"), actor=a)
    service.add_handler(s, city="dhaka", handler=HandlerIn(id="dk-col", name="Ward collectors", role="collector"),
                        actor=a)
    service.add_event(s, city="dhaka", event=EventIn(point_id="dk-pt", collector_id="dk-col", day=date(2022, 5, 10),
                                                     items=[EventItem(category=6, kg=150.0)]), actor=a)
    service.put_targets(s, city="dhaka", rows=[TargetRow(year=2022, category=6, rate=0.05)], actor=a)
    service.add_point(s, city="ctg", point=PointIn(id="ctg-pt", name="Khulshi depot", lat=22.36, lon=91.80), actor=a)
    world.users["ctg_admin"] = make_user(s, "cadmin_ew", roles={"ctg": "city_admin"})
    return world


def expected_2022_t() -> float:
    """W(2022) = Σ_p POM(p)·[F(2022-p+0.5) - F(2022-p-0.5)] for p = 2020, 2021 (README formula), in t."""
    a, b, _ = key_0306()
    return (2000.0 * (F(2.5, a, b) - F(1.5, a, b)) + 1000.0 * (F(1.5, a, b) - F(0.5, a, b)))


def test_both_datasets_are_registered_with_documented_columns(world):
    items = {p["id"]: p for p in world.client.get(f"{OD}/providers").json()["items"]}
    ind, pts = items[IND], items[PTS]
    assert ind["geojson"] is False and ind["default_frequency"] == "ANNUAL"
    assert pts["geojson"] is True and pts["default_frequency"] == "MONTHLY"
    cols = {c["name"]: c for c in ind["columns"]}
    assert {"year", "category", "generated_t", "collected_t", "collection_rate", "target_rate",
            "lifespan_source"} <= set(cols)
    assert cols["generated_t"]["unit"] == "t" and cols["collected_t"]["unit"] == "t"
    assert all(c["description"] for c in ind["columns"] + pts["columns"])
    assert "assumed" in ind["description"]
    # no personal data: neither who created a point nor any handler
    assert not {"created_by", "created_at", "collector_id", "handler"} & {c["name"] for c in pts["columns"]}


def test_unpublished_until_a_city_admin_publishes(ew):
    w = ew
    for ds, fmt in ((IND, "csv"), (IND, "parquet"), (PTS, "geojson")):
        assert w.client.get(f"{OD}/dhaka/datasets/{ds}.{fmt}").status_code == 404
    assert w.client.get(f"{OD}/dhaka/datasets").json()["items"] == []
    assert w.client.put(f"{OD}/dhaka/datasets/{IND}", json={}, headers=w.auth("oper")).status_code == 403
    r = publish(w, IND)
    assert r.status_code == 200 and r.json()["frequency"] == "ANNUAL" and r.json()["formats"] == ["csv", "parquet"]
    assert w.client.get(f"{OD}/dhaka/datasets/{IND}.csv").status_code == 200
    assert w.client.get(f"{OD}/dhaka/datasets/{IND}.geojson").status_code == 404  # no coordinates: no GeoJSON
    assert w.client.get(f"{OD}/dhaka/datasets/{PTS}.geojson").status_code == 404  # still unpublished
    publish(w, IND, enabled=False)
    assert w.client.get(f"{OD}/dhaka/datasets/{IND}.csv").status_code == 404


def _check_indicator_rows(rows: list[dict]) -> None:
    """Rows as dicts of Python values (None for null), checked against the hand-worked figures."""
    a, b, src = key_0306()
    by = {(r["year"], r["category"]): r for r in rows}
    assert set(by) == {(y, c) for y in (2020, 2021, 2022) for c in (0, 6)}
    # 2020: only the first half-year of the 2020 cohort, F(0.5)
    assert by[(2020, 6)]["generated_t"] == pytest.approx(2000.0 * F(0.5, a, b), rel=1e-9)
    # 2021: the 2020 cohort's second year and the 2021 cohort's first half-year
    assert by[(2021, 6)]["generated_t"] == pytest.approx(2000.0 * (F(1.5, a, b) - F(0.5, a, b))
                                                         + 1000.0 * F(0.5, a, b), rel=1e-9)
    g22 = expected_2022_t()
    r22 = by[(2022, 6)]
    assert r22["generated_t"] == pytest.approx(g22, rel=1e-9)
    assert r22["collected_t"] == pytest.approx(0.150)
    assert r22["collection_rate"] == pytest.approx(0.150 / g22, rel=1e-9)
    assert r22["target_rate"] == pytest.approx(0.05)
    assert r22["meets_target"] is (0.150 / g22 >= 0.05)
    assert by[(2022, 0)]["generated_t"] == pytest.approx(g22, rel=1e-9)  # one key: all = category 6
    assert by[(2022, 0)]["target_rate"] is None and by[(2022, 0)]["meets_target"] is None
    # before the first documented collection there is no collection figure (not a zero)
    assert by[(2021, 6)]["collected_t"] is None and by[(2021, 6)]["collection_rate"] is None
    for r in rows:
        assert r["city"] == "dhaka"
        assert r["lifespan_source"] == src == "assumed"
        assert r["unu_keys"] == "0306" and r["pom_first_year"] == 2020 and r["pom_source"] == "test POM"
        assert "Forti" in r["method"]
    assert by[(2022, 6)]["category_name"].startswith("Small IT")


def test_csv_and_parquet_have_the_documented_columns_and_hand_worked_values(ew):
    w = ew
    publish(w, IND)
    names = [c["name"] for c in next(p for p in w.client.get(f"{OD}/providers").json()["items"]
                                     if p["id"] == IND)["columns"]]
    r = w.client.get(f"{OD}/dhaka/datasets/{IND}.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    reader = csv.DictReader(io.StringIO(r.text))
    assert reader.fieldnames == names
    ints, floats = {"year", "category", "pom_first_year"}, {"generated_t", "collected_t", "collection_rate",
                                                             "target_rate"}

    def val(k, v):
        if v == "":
            return None
        if k in ints:
            return int(v)
        if k in floats:
            return float(v)
        if k == "meets_target":
            return {"true": True, "false": False}[v]
        return v

    _check_indicator_rows([{k: val(k, v) for k, v in row.items()} for row in reader])
    p = w.client.get(f"{OD}/dhaka/datasets/{IND}.parquet")
    assert p.status_code == 200
    t = pq.read_table(io.BytesIO(p.content))
    assert t.column_names == names
    assert str(t.schema.field("generated_t").type) == "double" and str(t.schema.field("year").type) == "int32"
    _check_indicator_rows(t.to_pylist())


def test_collection_points_geojson_is_lon_lat_and_has_no_personal_data(ew):
    w = ew
    publish(w, PTS)
    r = w.client.get(f"{OD}/dhaka/datasets/{PTS}.geojson")
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    doc = r.json()
    assert doc["type"] == "FeatureCollection"
    [f] = doc["features"]
    assert f["type"] == "Feature" and f["geometry"] == {"type": "Point", "coordinates": [90.4078, 23.7925]}
    assert f["properties"] == {"point_id": "dk-pt", "name": "Ward 19 depot", "address": "Gulshan-2", "events": 1,
                               "collected_t": pytest.approx(0.150), "first_collection": "2022-05-10",
                               "last_collection": "2022-05-10"}
    assert "user:test" not in r.text and "dk-col" not in r.text  # neither the creator nor the collector
    rows = list(csv.DictReader(io.StringIO(w.client.get(f"{OD}/dhaka/datasets/{PTS}.csv").text)))
    assert [(x["point_id"], float(x["lat"]), float(x["lon"])) for x in rows] == [("dk-pt", 23.7925, 90.4078)]


def test_another_citys_private_data_is_not_visible(ew):
    w = ew
    publish(w, PTS)
    publish(w, IND)
    assert "ctg-pt" not in w.client.get(f"{OD}/dhaka/datasets/{PTS}.geojson").text
    assert publish(w, PTS, city="ctg").status_code == 200  # Chattogram publishes, but it is a private city
    assert w.client.get(f"{OD}/ctg/datasets/{PTS}.geojson").status_code == 404  # anonymous
    assert w.client.get(f"{OD}/ctg/datasets/{PTS}.csv", headers=w.auth("oper")).status_code == 404  # Dhaka's user
    own = w.client.get(f"{OD}/ctg/datasets/{PTS}.geojson", headers=w.auth("ctg_admin")).json()
    assert [f["properties"]["point_id"] for f in own["features"]] == ["ctg-pt"]
    assert own["features"][0]["geometry"]["coordinates"] == [91.80, 22.36]
    # Chattogram has no POM or collection: its indicators are an empty table, not Dhaka's
    publish(w, IND, city="ctg")
    body = w.client.get(f"{OD}/ctg/datasets/{IND}.csv", headers=w.auth("ctg_admin")).text
    assert body.strip().count("\n") == 0 and body.startswith('"city","year"')


def test_dcat_catalogue_lists_the_datasets_with_their_distributions(ew):
    import rdflib
    from rdflib.namespace import DCAT, DCTERMS, RDF

    w = ew
    publish(w, IND, license="CC-BY-4.0")
    publish(w, PTS, license="ODbL-1.0")
    r = w.client.get(f"{OD}/catalog.jsonld", params={"city": "dhaka"})
    assert r.status_code == 200
    g = rdflib.Graph().parse(data=r.text, format="json-ld")
    ds = {str(d).rsplit("/", 1)[-1]: d for d in g.subjects(RDF.type, DCAT.Dataset)}
    assert set(ds) == {IND, PTS}
    base = "http://testserver/api/v1/opendata/dhaka/datasets/"
    dists = {name: {str(g.value(x, DCAT.downloadURL)) for x in g.objects(d, DCAT.distribution)}
             for name, d in ds.items()}
    assert dists[IND] == {f"{base}{IND}.csv", f"{base}{IND}.parquet"}
    assert dists[PTS] == {f"{base}{PTS}.csv", f"{base}{PTS}.geojson", f"{base}{PTS}.parquet"}
    assert g.value(ds[IND], DCTERMS.accrualPeriodicity).endswith("/ANNUAL")
    assert g.value(ds[PTS], DCTERMS.accrualPeriodicity).endswith("/MONTHLY")
    assert g.value(ds[IND], DCTERMS.license) == rdflib.URIRef("https://creativecommons.org/licenses/by/4.0/")
    assert g.value(ds[PTS], DCTERMS.license) == rdflib.URIRef("https://opendatacommons.org/licenses/odbl/1-0/")
    assert rdflib.Literal("e-waste", lang="en") in set(g.objects(ds[IND], DCAT.keyword))
    for urls in dists.values():  # every listed distribution answers
        for u in urls:
            assert w.client.get(u.replace("http://testserver", "")).status_code == 200


def test_demo_publishes_dhakas_ewaste_data_once(world):
    from nagar.waste import demo

    w = world
    assert demo.publish_ewaste_open_data(w.store) == 0  # no e-waste demo yet: nothing published
    demo.load_ewaste_demo(w.store)
    assert demo.publish_ewaste_open_data(w.store) == 2
    assert demo.publish_ewaste_open_data(w.store) == 0  # idempotent
    publish(w, PTS, enabled=False)  # the city admin withdraws one: the demo leaves that alone
    assert demo.publish_ewaste_open_data(w.store) == 0
    assert w.client.get(f"{OD}/dhaka/datasets/{PTS}.geojson").status_code == 404
    rows = list(csv.DictReader(io.StringIO(w.client.get(f"{OD}/dhaka/datasets/{IND}.csv").text)))
    total_2025 = next(r for r in rows if r["year"] == "2025" and r["category"] == "0")
    assert float(total_2025["target_rate"]) == 0.10 and total_2025["lifespan_source"] == "assumed"
    # the demo's events of 2025 sum to 2551 kg (nagar/waste/demo.py EVENTS)
    assert float(total_2025["collected_t"]) == pytest.approx(2.551)


def test_nagar_demo_publishes_them_for_dhaka(tmp_path):
    from typer.testing import CliRunner

    from nagar import cli
    from nagar.store.duckdb import DuckDBStore

    db = tmp_path / "demo.duckdb"
    for _ in range(2):  # a second run adds nothing and changes nothing
        r = CliRunner().invoke(cli.app, ["demo", "--db", str(db), "--days", "1", "--no-serve"])
        assert r.exit_code == 0, r.output
    s = DuckDBStore(db)
    try:
        own = {x["dataset"]: x for x in s.opendata_settings(city="dhaka")}
        assert own[IND]["enabled"] and own[PTS]["enabled"] and own[IND]["license"] == "CC-BY-4.0"
        assert own[IND]["frequency"] == "ANNUAL" and own[PTS]["frequency"] == "MONTHLY"
        assert [e["action"] for e in s.audit_entries(city="dhaka")
                if e["action"] == "opendata.dataset.update" and e["target"] in (f"dataset:{IND}", f"dataset:{PTS}")
                ] == ["opendata.dataset.update"] * 2
    finally:
        s.close()
