"""Identifiers for cities and stations: short, URL-safe, lower-case slugs."""

from __future__ import annotations

import re
import unicodedata

from .errors import InvalidInput

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


def validate_id(value: str, *, field: str = "id") -> str:
    """Return ``value`` if it is a valid id (1–64 chars of a-z, 0-9, ``_ . -``), else raise."""
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise InvalidInput(
            f"{field} must be 1-64 characters of a-z, 0-9, '_', '.', '-' starting with a letter or digit; got {value!r}",
            field=field,
        )
    return value


def slugify(text: str) -> str:
    """Make an id from free text (``"Dhaka North"`` -> ``"dhaka-north"``)."""
    s = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode().lower()
    s = re.sub(r"[^a-z0-9]+", "-", s).strip("-")
    return (s or "x")[:64]
