"""Open data: the registry, a city's catalogue and its settings, streamed downloads in each format, the
DCAT-AP catalogue (parsed as JSON-LD by rdflib), disabled datasets and tenancy."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nagar.opendata import registry, service
from nagar.opendata.registry import Column, Provider, register
from tests.conftest import obs_table, utc

OD = "/api/v1/opendata"
DAY1 = utc(2026, 2, 27, 18)  # local (UTC+6) 28 Feb 00:00
DAY2 = utc(2026, 2, 28, 18)  # local 1 Mar 00:00: the next month


def publish(world, dataset, city="dhaka", who="admin", **body):
    return world.client.put(f"{OD}/{city}/datasets/{dataset}", json={"license": "CC-BY-4.0", **body},
                            headers=world.auth(who if city == "dhaka" else "ctg_admin"))


@pytest.fixture
def data(world):
    """Dhaka: st1 with PM2.5 12.0 µg/m³ every hour of local 28 Feb and 35.0 of local 1 Mar; st2 with two
    readings in one hour. Chattogram (private): one station, one day."""
    s = world.store
    s.upsert_station(dict(id="st1", city="dhaka", name="Agargaon", lat=23.778, lon=90.38, parameters=["pm25"]))
    s.upsert_station(dict(id="st2", city="dhaka", name="Motijheel", lat=23.733, lon=90.417, parameters=["pm25"]))
    s.upsert_station(dict(id="c1", city="ctg", name="Khulshi", lat=22.36, lon=91.8, parameters=["pm25"]))
    rows = [("st1", "pm25", DAY1 + timedelta(hours=h), 12.0) for h in range(24)]
    rows += [("st1", "pm25", DAY2 + timedelta(hours=h), 35.0) for h in range(24)]
    rows += [("st2", "pm25", DAY1 + timedelta(hours=3), 10.0), ("st2", "pm25", DAY1 + timedelta(hours=3, minutes=30), 20.0)]
    rows += [("c1", "pm25", DAY1 + timedelta(hours=h), 40.0) for h in range(24)]
    s.write_observations(obs_table(rows))
    from tests.conftest import make_user

    world.users["ctg_admin"] = make_user(s, "cadmin", roles={"ctg": "city_admin"})
    return world


def test_registry_lists_the_shipped_datasets(world):
    r = world.client.get(f"{OD}/providers")
    items = {p["id"]: p for p in r.json()["items"]}
    assert {"aqi-daily", "observations-hourly", "ghg-inventory", "service-requests"} <= set(items)
    assert items["aqi-daily"]["geojson"] is True and items["ghg-inventory"]["geojson"] is False
    assert [c["name"] for c in items["aqi-daily"]["columns"]][:3] == ["date", "station", "station_name"]


def test_nothing_is_published_until_a_city_admin_says_so(data):
    w = data
    assert w.client.get(f"{OD}/dhaka/datasets").json()["items"] == []
    assert w.client.get(f"{OD}/dhaka/datasets/aqi-daily.csv").status_code == 404
    assert publish(w, "aqi-daily", who="oper").status_code == 403
    assert w.client.put(f"{OD}/ctg/datasets/aqi-daily", json={}, headers=w.auth("admin")).status_code == 404
    assert publish(w, "aqi-daily", license="MIT").status_code == 422
    assert publish(w, "aqi-daily", frequency="SOMETIMES").status_code == 422
    assert publish(w, "no-such-dataset").status_code == 404
    r = publish(w, "aqi-daily", license="ODbL-1.0", description="Dhaka's daily AQI")
    assert r.status_code == 200 and r.json()["published"] is True and r.json()["frequency"] == "DAILY"
    [item] = w.client.get(f"{OD}/dhaka/datasets").json()["items"]
    assert (item["id"], item["license"], item["formats"]) == ("aqi-daily", "ODbL-1.0", ["csv", "geojson", "parquet"])
    settings = w.client.get(f"{OD}/dhaka/settings", headers=w.auth("admin")).json()["items"]
    assert {s["id"]: s["published"] for s in settings}["ghg-inventory"] is False
    assert w.store.audit_entries(city="dhaka")[-1]["action"] == "opendata.dataset.update"


def test_a_withdrawn_dataset_is_404(data):
    w = data
    publish(w, "aqi-daily")
    assert w.client.get(f"{OD}/dhaka/datasets/aqi-daily.csv").status_code == 200
    publish(w, "aqi-daily", enabled=False)
    assert w.client.get(f"{OD}/dhaka/datasets/aqi-daily.csv").status_code == 404
    assert w.client.get(f"{OD}/dhaka/datasets").json()["items"] == []


def test_daily_aqi_in_csv_geojson_and_parquet(data):
    """US EPA 2024 PM2.5 breakpoints (EPA-454/B-24-002 Table 6): 12.0 µg/m³ lies in 9.1-35.4 -> 51-100:
    (100-51)/(35.4-9.1) * (12.0-9.1) + 51 = 56.40 -> 56 (Moderate); 35.0 -> 49/26.3 * 25.9 + 51 = 99.25 -> 99."""
    w = data
    publish(w, "aqi-daily")
    r = w.client.get(f"{OD}/dhaka/datasets/aqi-daily.csv")
    assert r.status_code == 200 and r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == 'attachment; filename="dhaka-aqi-daily.csv"'
    rows = list(csv.DictReader(io.StringIO(r.text)))
    # st2 had one hour of PM2.5 on 28 Feb: too few for a daily value (18 of 24), so its day has no AQI
    # and says which pollutant lacks data (nagar.air.service: incomplete days)
    assert [(x["date"], x["station"], x["aqi"], x["category"], x["dominant"], x["incomplete"]) for x in rows] == [
        ("2026-02-28", "st1", "56", "Moderate", "pm25_24h", ""), ("2026-02-28", "st2", "", "", "", "pm25_24h 1/18 h"),
        ("2026-03-01", "st1", "99", "Moderate", "pm25_24h", "")]
    g = w.client.get(f"{OD}/dhaka/datasets/aqi-daily.geojson")
    assert g.headers["content-type"] == "application/geo+json"
    fc = g.json()
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 3
    f0 = fc["features"][0]
    assert f0["geometry"] == {"type": "Point", "coordinates": [90.38, 23.778]}  # [longitude, latitude]
    assert f0["properties"]["aqi"] == 56.0 and f0["properties"]["date"] == "2026-02-28"
    p = w.client.get(f"{OD}/dhaka/datasets/aqi-daily.parquet")
    assert p.headers["content-type"] == "application/vnd.apache.parquet"
    f = pq.ParquetFile(io.BytesIO(p.content))
    assert f.num_row_groups == 2  # one record batch per month, written as they came
    t = f.read()
    assert t.schema.field("date").type == pa.date32() and t.column("aqi").to_pylist() == [56.0, None, 99.0]


def test_hourly_observations_are_hourly_means(data):
    w = data
    publish(w, "observations-hourly")
    rows = list(csv.DictReader(io.StringIO(w.client.get(f"{OD}/dhaka/datasets/observations-hourly.csv").text)))
    st2 = [r for r in rows if r["station"] == "st2"]
    assert [(r["time"], float(r["value"]), int(r["n"]), r["unit"]) for r in st2] == [
        ("2026-02-27 21:00:00.000000Z", 15.0, 2, "µg/m³")]  # (10 + 20) / 2
    assert len(rows) == 49 and float(st2[0]["lat"]) == 23.733


def test_ghg_inventory_has_one_block_per_year_and_no_geojson(data):
    from nagar.climate.demo import load_climate_demo
    from nagar.climate.service import inventory

    w = data
    load_climate_demo(w.store)
    publish(w, "ghg-inventory")
    assert w.client.get(f"{OD}/dhaka/datasets/ghg-inventory.geojson").status_code == 404
    t = pq.read_table(io.BytesIO(w.client.get(f"{OD}/dhaka/datasets/ghg-inventory.parquet").content))
    years = w.store.climate_years(city="dhaka")
    assert sorted(set(t.column("year").to_pylist())) == years
    inv = inventory(w.store, city="dhaka", year=2023)
    got = t.filter(pa.compute.equal(t.column("year"), 2023))
    assert got.num_rows == inv.table.height
    assert got.column("co2e_t").to_pylist() == inv.table.get_column("co2e_t").to_list()


def test_private_city_datasets_are_hidden_from_others(data):
    w = data
    assert publish(w, "aqi-daily", city="ctg").status_code == 200
    assert w.client.get(f"{OD}/ctg/datasets/aqi-daily.csv").status_code == 404
    assert w.client.get(f"{OD}/ctg/datasets").status_code == 404
    assert w.client.get(f"{OD}/ctg/datasets/aqi-daily.csv", headers=w.auth("oper")).status_code == 404
    r = w.client.get(f"{OD}/ctg/datasets/aqi-daily.csv", headers=w.auth("ctg_oper"))
    assert r.status_code == 200 and "c1" in r.text
    doc = w.client.get(f"{OD}/catalog.jsonld").text
    assert "/ctg/" not in doc


def test_downloads_are_streamed_batch_by_batch(data):
    """The encoder pulls a batch only when the previous one has been sent."""
    w = data
    pulled = []

    def batches(ctx):
        for i in range(200):
            pulled.append(i)
            yield pa.RecordBatch.from_pydict({"i": [i] * 10, "lat": [1.0] * 10, "lon": [2.0] * 10})

    p = register(Provider(id="test-counter", title="Counter", description="A test stream",
                          columns=(Column("i", pa.int64(), "n"), Column("lat", pa.float64(), "lat"),
                                   Column("lon", pa.float64(), "lon")),
                          batches=batches, coordinates=("lat", "lon")))
    try:
        publish(w, p.id)
        for fmt in ("csv", "geojson", "parquet"):
            pulled.clear()
            body, _ = service.download(w.store, settings=w.settings, city="dhaka", dataset=p.id, fmt=fmt)
            first = [next(body), next(body), next(body)]
            assert len(pulled) <= 3 and any(first)
            rest = b"".join(body)
            assert len(pulled) == 200 and len(rest) > 0
    finally:
        registry._REGISTRY.pop(p.id)


def test_a_new_dataset_needs_one_registration(data):
    """How the e-waste engineer adds "e-waste indicators": register a provider, nothing else."""
    w = data

    def batches(ctx):
        yield pa.RecordBatch.from_pydict({"ward": ["Ward 1"], "tonnes": [1.5]})

    register(Provider(id="ewaste-indicators-test", title="E-waste indicators", description="Per ward",
                      columns=(Column("ward", pa.string(), "Ward"), Column("tonnes", pa.float64(), "Mass", "t")),
                      batches=batches, frequency="MONTHLY"))
    try:
        assert "ewaste-indicators-test" in {p["id"] for p in w.client.get(f"{OD}/providers").json()["items"]}
        publish(w, "ewaste-indicators-test")
        assert w.client.get(f"{OD}/dhaka/datasets/ewaste-indicators-test.csv").text == '"ward","tonnes"\n"Ward 1",1.5\n'
        assert "ewaste-indicators-test.parquet" in w.client.get(f"{OD}/catalog.jsonld").text
    finally:
        registry._REGISTRY.pop("ewaste-indicators-test")


# DCAT-AP --------------------------------------------------------------------------------------------
def test_dcat_catalogue_parses_as_json_ld_with_the_dcat_ap_classes(data):
    import rdflib
    from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF

    w = data
    publish(w, "aqi-daily", license="CC-BY-4.0")
    publish(w, "ghg-inventory", license="ODbL-1.0", frequency="ANNUAL")
    r = w.client.get(f"{OD}/catalog.jsonld")
    assert r.status_code == 200 and r.headers["content-type"] == "application/ld+json"
    g = rdflib.Graph().parse(data=r.text, format="json-ld")
    [cat] = list(g.subjects(RDF.type, DCAT.Catalog))
    datasets = set(g.subjects(RDF.type, DCAT.Dataset))
    assert set(g.objects(cat, DCAT.dataset)) == datasets and len(datasets) == 2
    assert len(set(g.subjects(RDF.type, DCAT.Distribution))) == 3 + 2  # aqi: csv, geojson, parquet; ghg: csv, parquet
    aqi = next(d for d in datasets if str(d).endswith("/dhaka/datasets/aqi-daily"))
    assert g.value(aqi, DCTERMS.accrualPeriodicity) == rdflib.URIRef(
        "http://publications.europa.eu/resource/authority/frequency/DAILY")
    assert g.value(aqi, DCTERMS.license) == rdflib.URIRef("https://creativecommons.org/licenses/by/4.0/")
    assert str(g.value(aqi, DCTERMS.title)).startswith("Daily air quality index per station")
    assert rdflib.Literal("AQI", lang="en") in set(g.objects(aqi, DCAT.keyword))
    assert str(g.value(g.value(aqi, DCTERMS.publisher), FOAF.name)) == "Dhaka"
    centroid = g.value(g.value(aqi, DCTERMS.spatial), DCAT.centroid)
    assert str(centroid) == "POINT(90.41 23.81)"
    dists = {str(g.value(d, DCAT.downloadURL)): d for d in g.objects(aqi, DCAT.distribution)}
    csv_url = "http://testserver/api/v1/opendata/dhaka/datasets/aqi-daily.csv"
    assert csv_url in dists
    d = dists[csv_url]
    assert g.value(d, DCTERMS["format"]) == rdflib.URIRef(
        "http://publications.europa.eu/resource/authority/file-type/CSV")
    assert g.value(d, DCAT.mediaType) == rdflib.URIRef("https://www.iana.org/assignments/media-types/text/csv")
    assert str(g.value(d, DCAT.accessURL)) == csv_url
    ghg = next(x for x in datasets if str(x).endswith("ghg-inventory"))
    assert g.value(ghg, DCTERMS.accrualPeriodicity).endswith("/ANNUAL")
    assert g.value(ghg, DCTERMS.license) == rdflib.URIRef("https://opendatacommons.org/licenses/odbl/1-0/")
    # every download URL in the catalogue answers
    assert w.client.get(csv_url.replace("http://testserver", "")).status_code == 200
    one = w.client.get(f"{OD}/catalog.jsonld", params={"city": "dhaka"})
    assert json.loads(one.text)["@type"] == "dcat:Catalog"
    assert w.client.get(f"{OD}/catalog.jsonld", params={"city": "ctg"}).status_code == 404


def test_a_domain_module_named_opendata_is_found_by_the_registry(tmp_path, monkeypatch):
    """``nagar/<domain>/opendata.py`` registers its datasets without any edit to nagar/opendata."""
    import sys

    import nagar

    pkg = tmp_path / "fakewaste"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "opendata.py").write_text(
        "import pyarrow as pa\n"
        "from nagar.opendata.registry import Column, Provider, register\n"
        "register(Provider(id='fake-ewaste', title='t', description='d',\n"
        "                  columns=(Column('x', pa.int64(), 'x'),), batches=lambda ctx: iter(())))\n")
    monkeypatch.setattr(nagar, "__path__", [*nagar.__path__, str(tmp_path)])
    monkeypatch.setattr(registry, "_LOADED", [])
    try:
        assert "fake-ewaste" in {p.id for p in registry.providers()}
    finally:
        registry._REGISTRY.pop("fake-ewaste", None)
        for m in ("nagar.fakewaste.opendata", "nagar.fakewaste"):
            sys.modules.pop(m, None)
