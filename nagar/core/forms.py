"""An ``application/x-www-form-urlencoded`` body parser that follows the URL Standard.

Source: WHATWG URL Standard, section 5.1 "application/x-www-form-urlencoded parsing"
(https://url.spec.whatwg.org/#urlencoded-parsing; read in whatwg/url ``url.bs`` at commit
cd9dfdc342b808874b21f25a353c59ad0aa5f840). The parser takes the body as a *byte sequence*: split on
0x26 (&), skip empty pieces, split each at its first 0x3D (=), replace 0x2B (+) by 0x20, percent-decode
the bytes, then UTF-8 decode. Only UTF-8 is conforming (the section's note), so a raw non-ASCII byte and
its ``%XX`` escape mean the same thing.

Why Nagar has its own: Starlette's ``FormParser`` (starlette 1.10, ``formparsers.py``) decodes each raw
name and value as Latin-1 and then applies ``urllib.parse.unquote_plus``, which decodes only the ``%XX``
escapes as UTF-8. A client that sends UTF-8 text unescaped (``curl -d 'description=ইটভাটা'``) therefore got
mojibake stored ("à¦‡..."), while ``--data-urlencode`` worked (known upstream: fastapi/fastapi#2433).

One deliberate difference from the standard: where it decodes invalid UTF-8 to U+FFFD ("UTF-8 decode
without BOM"), this parser refuses it (:class:`InvalidInput` naming the field), so text a citizen sent
in another encoding is never stored silently altered.
"""

from __future__ import annotations

import re

from nagar.core.errors import InvalidInput

_ESCAPE = re.compile(rb"%([0-9A-Fa-f]{2})")


def _percent_decode(data: bytes) -> bytes:
    """URL Standard "percent-decode" of a byte sequence: ``%`` + two hex digits -> that byte; a ``%`` not
    followed by two hex digits stays as it is."""
    if b"%" not in data:
        return data
    return _ESCAPE.sub(lambda m: bytes((int(m.group(1), 16),)), data)


def _text(data: bytes, *, what: str, field: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"{what} is not valid UTF-8 (byte 0x{data[exc.start]:02x} at byte {exc.start + 1} of the decoded "
            "text): send form fields as UTF-8 (raw or %-escaped)", field=field) from None


def parse_urlencoded(body: bytes, *, max_fields: int = 1000) -> list[tuple[str, str]]:
    """Name-value pairs of an ``application/x-www-form-urlencoded`` body, in order.

    Raises :class:`InvalidInput` for a name or value that is not UTF-8 (``field`` = the field's name, or
    ``body`` when the name itself is undecodable) and for more than ``max_fields`` pairs."""
    out: list[tuple[str, str]] = []
    for piece in body.split(b"&"):
        if not piece:
            continue
        name, _, value = piece.partition(b"=")
        name = _percent_decode(name.replace(b"+", b" "))
        value = _percent_decode(value.replace(b"+", b" "))
        if len(out) >= max_fields:
            raise InvalidInput(f"too many form fields (at most {max_fields})", field="body")
        key = _text(name, what=f"form field name #{len(out) + 1}", field="body")
        out.append((key, _text(value, what=f"field {key!r}", field=key)))
    return out


_FORM = b"application/x-www-form-urlencoded"


def _escape_raw(body: bytes) -> bytes:
    """``body`` with every byte above 0x7F written as its ``%XX`` escape: the same form data by the URL
    Standard (a raw byte and its escape mean the same), in the only shape Starlette's parser decodes as
    UTF-8."""
    if body.isascii():
        return body
    return b"".join(b"%%%02X" % c if c > 0x7F else bytes((c,)) for c in body)


class Utf8FormMiddleware:
    """Makes every ``application/x-www-form-urlencoded`` route (FastAPI ``Form()``: the token endpoint,
    the dashboard's sign-in) read raw UTF-8 the way the URL Standard says, by escaping raw non-ASCII bytes
    before Starlette parses the body (see the module text: it would read them as Latin-1, so a password
    typed in Bengali and sent by ``curl -d`` never matched). Other bodies pass untouched. Bytes that are
    not UTF-8 still reach the route as U+FFFD (Starlette's ``unquote_plus``); routes that must refuse
    them parse with :func:`parse_urlencoded` instead."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not any(
                k == b"content-type" and v.split(b";")[0].strip().lower() == _FORM for k, v in scope["headers"]):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left: let the app see it
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = _escape_raw(b"".join(chunks))
        await self.app(scope, _replay([{"type": "http.request", "body": body, "more_body": False}], receive), send)


def _replay(messages: list[dict], receive):
    async def replay():
        if messages:
            return messages.pop(0)
        return await receive()
    return replay
