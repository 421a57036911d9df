import gzip
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nagar.core.errors import InvalidInput, PayloadTooLarge
from nagar.core.settings import Settings
from nagar.ingest.service import ingest_file, ingest_rows

NOW = datetime(2025, 6, 1, tzinfo=timezone.utc)


def row(**kw):
    base = {"station": "st1", "parameter": "pm25", "time": "2025-01-01T00:00:00Z", "value": 12.0, "unit": "µg/m³"}
    base.update(kw)
    return base


@pytest.mark.parametrize(
    "bad, field, words",
    [
        (row(value="12"), "value", "must be a number"),
        (row(value=True), "value", "must be a number"),
        (row(value=-1.0), "value", "impossible value"),
        (row(value=None), "value", "not a number"),
        (row(unit="furlongs"), "unit", "unknown unit"),
        (row(unit="ppb"), "unit", "unknown unit 'ppb' for pm25"),
        (row(parameter="xx"), "parameter", "unknown parameter"),
        (row(station="ghost"), "station", "unknown station"),
        (row(time="2025-01-01T00:00:00"), "time", "no UTC offset"),
        (row(time="yesterday"), "time", "not an ISO 8601"),
        (row(time="2025-06-01T01:00:00Z"), "time", "in the future"),
        (row(flag="great"), "flag", "flag must be one of"),
        ("not an object", "observations", "JSON object"),
    ],
)
def test_each_bad_row_is_rejected_with_its_reason_and_good_rows_kept(store, bad, field, words):
    rows = [row(time="2025-01-01T00:00:00Z"), bad, row(time="2025-01-01T01:00:00+01:00", value=13.0)]
    res = ingest_rows(store, rows=rows, settings=Settings(), now=NOW)
    assert res.rejected == 1 and res.errors[0].index == 1
    assert res.errors[0].field == field and words in res.errors[0].reason
    # the two good rows are the same key (01:00+01:00 == 00:00Z): one insert, one update
    assert (res.inserted, res.updated) == (1, 1)
    assert store.observations().column("value").to_pylist() == [13.0]


def test_units_are_converted_to_canonical(store):
    store.upsert_station(dict(id="gas", city="dhaka", name="g", lat=23.7, lon=90.4, parameters=["o3", "co"]))
    res = ingest_rows(store, rows=[row(station="gas", parameter="o3", value=0.07, unit="ppm"),
                                   row(station="gas", parameter="co", value=1145.6, unit="µg/m³")],
                      settings=Settings(), now=NOW)
    assert res.inserted == 2
    got = {r["parameter"]: (r["value"], r["unit"]) for r in store.observations().to_pylist()}
    assert got["o3"] == (pytest.approx(70.0), "ppb")
    assert got["co"][0] == pytest.approx(1.1456 * 24.45 / 28.010, rel=1e-3)  # 1.1456 mg/m³ -> 1.0 ppm
    assert got["co"][1] == "ppm"


def test_batch_limit(store):
    with pytest.raises(PayloadTooLarge):
        ingest_rows(store, rows=[row()] * 11, settings=Settings(max_batch_rows=10), now=NOW)


OPENAQ = (
    "location_id,sensors_id,location,datetime,lat,lon,parameter,units,value\n"
    '8118,2501,"Dhaka - US Diplomatic Post",2024-01-01T01:00:00+06:00,23.796,90.424,pm25,µg/m³,190.5\n'
    '8118,2501,"Dhaka - US Diplomatic Post",2024-01-01T02:00:00+06:00,23.796,90.424,pm25,µg/m³,abc\n'
    '8118,2501,"Dhaka - US Diplomatic Post",2024-01-01T03:00:00+06:00,23.796\n'
    '8118,2502,"Dhaka - US Diplomatic Post",2024-01-01T04:00:00+06:00,23.796,90.424,pm25,µg/m³,-3\n'
    '8118,2502,"Dhaka - US Diplomatic Post",2024-01-01T05:00:00+06:00,23.796,90.424,o3,ppm,0.031\n'
    '9999,1,"Somewhere far",2024-01-01T05:00:00+06:00,48.85,2.35,pm25,µg/m³,10\n'
)


@pytest.mark.parametrize("compress", [False, True])
def test_openaq_archive_csv_creates_stations_and_reports_lines(store, tmp_path, compress):
    p = tmp_path / ("f.csv.gz" if compress else "f.csv")
    data = OPENAQ.encode()
    p.write_bytes(gzip.compress(data) if compress else data)
    res = ingest_file(store, path=p, settings=Settings(), batch_rows=2, now=NOW)
    assert res.stations_created == ["openaq-8118"]  # the Paris one is 7,000 km from any city
    st = store.get_station("openaq-8118")
    assert st["city"] == "dhaka" and st["name"] == "Dhaka - US Diplomatic Post" and st["lat"] == 23.796
    assert res.inserted == 2 and res.received == 6
    by_line = {e.index: (e.field, e.reason) for e in res.errors}
    assert by_line[3][0] == "value"
    assert by_line[4][0] == "line" and "malformed" in by_line[4][1]
    assert by_line[5][0] == "value" and "impossible" in by_line[5][1]
    assert by_line[7][0] == "station" and "no registered city within 100 km of (48.85, 2.35)" in by_line[7][1]
    vals = sorted(r["value"] for r in store.observations().to_pylist())
    assert vals == [pytest.approx(31.0), 190.5]  # 0.031 ppm O3 -> 31 ppb


def test_nagar_parquet_layout_and_reingest_counts_updates(store, tmp_path):
    n = 1000
    t0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
    tbl = pa.table({
        "station": ["st1"] * n,
        "parameter": ["pm25"] * n,
        "time": pa.array([t0.replace(minute=0) for _ in range(n)], pa.timestamp("us", tz="UTC")),
        "value": [float(i) for i in range(n)],
        "unit": ["µg/m³"] * n,
    })
    import pyarrow.compute as pc
    tbl = tbl.set_column(2, "time", pc.add(tbl["time"], pa.array([i * 60_000_000 for i in range(n)], pa.duration("us"))))
    p = tmp_path / "f.parquet"
    pq.write_table(tbl, p, row_group_size=100)
    r1 = ingest_file(store, path=p, settings=Settings(), batch_rows=300, now=NOW)
    r2 = ingest_file(store, path=p, settings=Settings(), batch_rows=300, now=NOW)
    assert (r1.inserted, r1.updated, r1.rejected) == (1000, 0, 0)
    assert (r2.inserted, r2.updated) == (0, 1000)
    assert store.stats().observations == 1000


@pytest.mark.parametrize(
    "name, content, words",
    [
        ("x.csv", b"a,b,c\n1,2,3\n", "unrecognised file layout"),
        ("x.parquet", b"not parquet at all", "not a readable Parquet"),
        ("x.xlsx", b"", "expected a .csv"),
        ("x.csv.gz", b"not gzip", "not a readable CSV"),
    ],
)
def test_malformed_files_are_clear_errors_and_store_is_untouched(store, tmp_path, name, content, words):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(InvalidInput, match=words):
        ingest_file(store, path=p, settings=Settings())
    assert store.stats().observations == 0
