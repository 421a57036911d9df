"""Form bodies are UTF-8 (WHATWG URL Standard, 5.1 application/x-www-form-urlencoded parsing): raw UTF-8
bytes, their %-escapes and multipart give the same stored text; a body that is not UTF-8 is a 400 that
names the field and stores nothing."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from nagar.core.errors import InvalidInput
from nagar.core.forms import parse_urlencoded
from tests.requests.conftest import LAT, LON, O311

TEXT = "ইটভাটার ধোঁয়া, বনানী"  # "brick-kiln smoke, Banani"


def _raw_body(world, description: bytes) -> bytes:
    """What `curl -d 'description=...'` sends: the text's UTF-8 bytes, unescaped (curl -d escapes nothing)."""
    return (f"api_key={quote(world.keys['dhaka'], safe='')}&jurisdiction_id=dhaka&service_code=AIR"
            f"&attribute%5BSOURCE%5D=brick_kiln&lat={LAT}&long={LON}&description=").encode() + description


def _post(world, body: bytes, fmt: str = "json"):
    return world.client.post(f"{O311}/requests.{fmt}", content=body,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})


def _stored(world, r) -> str:
    assert r.status_code == 200, r.text
    return world.store.service_request(int(r.json()[0]["service_request_id"]))["description"]


def test_raw_utf8_escaped_and_multipart_store_the_same_text(world):
    raw = _stored(world, _post(world, _raw_body(world, TEXT.encode("utf-8"))))
    elsewhere = _raw_body(world, quote(TEXT).encode("ascii")).replace(b"long=90.38", b"long=90.39")  # no duplicate
    escaped = _stored(world, _post(world, elsewhere))
    fields = {"api_key": world.keys["dhaka"], "jurisdiction_id": "dhaka", "service_code": "AIR",
              "attribute[SOURCE]": "brick_kiln", "lat": str(LAT), "long": str(LON + 0.02), "description": TEXT}
    parts = b"".join(f'--B\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                     for k, v in fields.items()) + b"--B--\r\n"
    multipart = world.client.post(f"{O311}/requests.json", content=parts,
                                  headers={"Content-Type": "multipart/form-data; boundary=B"})
    assert raw == TEXT and escaped == TEXT and _stored(world, multipart) == TEXT
    # and the public Open311 document shows it as sent
    rid = world.client.get(f"{O311}/requests.json?jurisdiction_id=dhaka").json()
    assert {d["description"] for d in rid} == {TEXT}


@pytest.mark.parametrize("value", [
    "café".encode("latin-1"),  # a client sending Latin-1 / Windows-1252: b"caf\xe9"
    b"caf%E9",                   # the same byte %-escaped
    b"\xe0\xa6",                 # a Bengali letter cut in half
])
def test_body_that_is_not_utf8_is_400_naming_the_field(world, value):
    for fmt in ("json", "xml"):
        r = _post(world, _raw_body(world, value), fmt)
        assert r.status_code == 400, r.text
        text = r.json()[0]["description"] if fmt == "json" else r.text
        assert "'description'" in text and "UTF-8" in text
    assert world.store.service_requests(city="dhaka") == []


def test_parser_follows_the_url_standard_steps():
    # steps worked by hand from URL Standard 5.1: split on &, skip empty pieces, split at the first =,
    # + -> space, then percent-decode (a % not followed by two hex digits stays), then UTF-8 decode
    body = "a=1&&b=x+y%2Bz&c&=v&d=e=f&g=%zz%4&h=%E0%A6%87".encode() + "&i=ই".encode()
    assert parse_urlencoded(body) == [("a", "1"), ("b", "x y+z"), ("c", ""), ("", "v"), ("d", "e=f"),
                                      ("g", "%zz%4"), ("h", "ই"), ("i", "ই")]
    with pytest.raises(InvalidInput) as e:
        parse_urlencoded(b"n%FF=1")
    assert e.value.field == "body"
    with pytest.raises(InvalidInput) as e:
        parse_urlencoded(b"a=1&b=2&c=3", max_fields=2)
    assert "at most 2" in e.value.message
