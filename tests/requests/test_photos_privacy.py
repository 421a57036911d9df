"""Photos uploaded with a request (type by magic bytes, size limit, served at the media URL), and the
citizen's personal data never in a public answer (Open311 JSON and XML, the summary, the open data)."""

from __future__ import annotations

import io

import pyarrow.parquet as pq
import pytest

from nagar.opendata.service import set_dataset
from nagar.requests import service
from tests.requests.conftest import LAT, LON, O311, OPS

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 200
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
WEBP = b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 200


def post_photo(world, data: bytes, name="photo.jpg", ctype="image/jpeg", fmt="json", **fields):
    return world.post(fmt, service_code="GARBAGE", lat=LAT, long=LON, files={"media": (name, data, ctype)}, **fields)


def media_files(world) -> list:
    d = service.media_dir(world.settings)
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


@pytest.mark.parametrize("data, ctype", [(JPEG, "image/jpeg"), (PNG, "image/png"), (WEBP, "image/webp")])
def test_photo_is_stored_and_served_at_its_media_url(world, data, ctype):
    r = post_photo(world, data, ctype="application/octet-stream")  # the declared type is not trusted
    assert r.status_code == 200, r.text
    rid = r.json()[0]["service_request_id"]
    [doc] = world.client.get(f"{O311}/requests/{rid}.json", params={"jurisdiction_id": "dhaka"}).json()
    assert doc["media_url"].startswith("http://testserver/api/v1/service-requests/media/")
    img = world.client.get(doc["media_url"])
    assert img.status_code == 200 and img.content == data and img.headers["content-type"] == ctype
    assert img.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("data, status, words", [
    (b"GIF89a" + b"\x00" * 100, 415, "not a JPEG, PNG or WebP"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", 415, "not a JPEG, PNG or WebP"),
    (b"\xff\xd8\xff" + b"\x00" * service.MAX_PHOTO_BYTES, 413, "larger than 5 MiB"),
    (b"", 400, "empty"),
])
def test_bad_photos_are_refused_and_nothing_is_kept(world, data, status, words):
    for fmt in ("json", "xml"):
        r = post_photo(world, data, fmt=fmt)
        assert r.status_code == status, r.text
        assert words in r.text
    assert world.store.service_requests(city="dhaka") == [] and media_files(world) == []


def test_photo_and_media_url_together_are_refused(world):
    r = post_photo(world, JPEG, media_url="http://example.org/a.jpg")
    assert r.status_code == 400 and media_files(world) == []


def test_media_of_a_private_city_is_hidden(world):
    r = world.post(city="ctg", service_code="GARBAGE", lat=22.36, long=91.8, files={"media": ("a.png", PNG, "image/png")})
    name = world.store.service_request(int(r.json()[0]["service_request_id"]))["media_url"].rsplit("/", 1)[1]
    assert world.client.get(f"{OPS}/media/{name}").status_code == 404
    assert world.client.get(f"{OPS}/media/{name}", headers=world.auth("ctg_oper")).status_code == 200
    assert world.client.get(f"{OPS}/media/nope.jpg", headers=world.auth("ctg_oper")).status_code == 404


# personal data ----------------------------------------------------------------------------------------
PERSONAL = {"email": "rahima.khatun@example.com", "device_id": "dev-7f3a9c21", "account_id": "acct-55501",
            "first_name": "Rahima", "last_name": "Khatun", "phone": "+8801711000999"}


def test_personal_data_is_kept_but_never_public(world):
    r = world.post(service_code="EWASTE", lat=LAT, long=LON, description="Cables burnt behind the market",
                   **{"attribute[ACTIVITY]": "burning"}, **PERSONAL)
    rid = int(r.json()[0]["service_request_id"])
    assert all(v not in r.text for v in PERSONAL.values())  # not even echoed to the submitting app
    world.post(service_code="GARBAGE", lat=LAT + 0.01, long=LON, files={"media": ("p.jpg", JPEG, "image/jpeg")},
               **PERSONAL)
    assert world.store.service_request_contact(rid) == PERSONAL  # stored, for operators
    ops = world.client.get(f"{OPS}/{rid}", headers=world.auth("oper")).json()
    assert ops["contact"] == PERSONAL
    set_dataset(world.store, city="dhaka", dataset="service-requests", enabled=True, license="CC-BY-4.0",
                frequency=None, description=None, actor="t")
    public = []
    for fmt in ("json", "xml"):
        q = {"jurisdiction_id": "dhaka"}
        public.append(world.client.get(f"{O311}/requests.{fmt}", params=q))
        public.append(world.client.get(f"{O311}/requests/{rid}.{fmt}", params=q))
        public.append(world.client.get(f"{O311}/requests.{fmt}", params={**q, "service_request_id": str(rid)}))
    public.append(world.client.get(f"{OPS}/summary", params={"city": "dhaka"}))
    public.append(world.client.get(f"{OPS}/sla-breaches", params={"city": "dhaka"}))
    for fmt in ("csv", "geojson", "parquet"):
        public.append(world.client.get(f"/api/v1/opendata/dhaka/datasets/service-requests.{fmt}"))
    for resp in public:
        assert resp.status_code == 200, (resp.url, resp.text)
        for v in PERSONAL.values():
            assert v.encode() not in resp.content, f"{v} leaked by {resp.url}"
    # Parquet is compressed: read it back and look at every value and column name
    table = pq.read_table(io.BytesIO(public[-1].content))
    cells = {str(x) for col in table.columns for x in col.to_pylist()} | set(table.column_names)
    assert not cells & set(PERSONAL.values()) and not cells & set(PERSONAL)
    assert "Cables burnt behind the market" not in cells  # free text is not in the open data either
    assert table.num_rows == 2 and table.column("lat").to_pylist()[0] == round(LAT, 3)
    # the public JSON carries the fields of the spec and nothing else
    assert set(public[0].json()[0]) == set(__import__("nagar.requests.open311", fromlist=["x"]).REQUEST_FIELDS)
