"""A city's open-data catalogue: which registered datasets it publishes and how, and their downloads."""

from __future__ import annotations

import itertools
from datetime import datetime, timezone
from typing import Iterator

from nagar.core.errors import InvalidInput, NotFound
from nagar.core.tenancy import Scope
from nagar.registry.service import get_city
from nagar.security import audit

from . import formats
from .registry import Context, Provider, get_provider, providers

LICENSES = {
    "CC-BY-4.0": ("Creative Commons Attribution 4.0", "https://creativecommons.org/licenses/by/4.0/"),
    "CC-BY-SA-4.0": ("Creative Commons Attribution-ShareAlike 4.0", "https://creativecommons.org/licenses/by-sa/4.0/"),
    "CC0-1.0": ("Creative Commons Zero 1.0", "https://creativecommons.org/publicdomain/zero/1.0/"),
    "ODbL-1.0": ("Open Data Commons Open Database License 1.0", "https://opendatacommons.org/licenses/odbl/1-0/"),
    "PDDL-1.0": ("Open Data Commons Public Domain Dedication and License 1.0",
                 "https://opendatacommons.org/licenses/pddl/1-0/"),
}
"""Licences a city may choose (SPDX ids) -> (title, licence document URI)."""
FREQUENCIES = ("CONT", "UPDATE_CONT", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "QUARTERLY", "ANNUAL", "IRREG",
               "UNKNOWN")
"""Codes of the EU Publications Office frequency vocabulary
(http://publications.europa.eu/resource/authority/frequency), used by DCAT-AP for dct:accrualPeriodicity."""
FORMATS = ("csv", "geojson", "parquet")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def formats_of(p: Provider) -> list[str]:
    return [f for f in FORMATS if f != "geojson" or p.coordinates is not None]


def catalogue(store, *, city: str, scope: Scope = None, include_unpublished: bool = False) -> list[dict]:
    """The city's datasets: every registered one with its settings (published only, unless asked)."""
    get_city(store, city_id=city, scope=scope)
    own = {r["dataset"]: r for r in store.opendata_settings(city=city)}
    out = []
    for p in providers():
        s = own.get(p.id)
        published = bool(s and s["enabled"])
        if not published and not include_unpublished:
            continue
        out.append({**p.describe(), "published": published,
                    "license": s["license"] if s else None, "frequency": s["frequency"] if s else p.frequency,
                    "city_description": s["description"] if s else None,
                    "formats": formats_of(p), "updated_at": s["updated_at"] if s else None})
    return out


def set_dataset(store, *, city: str, dataset: str, enabled: bool, license: str, frequency: str | None,
                description: str | None, actor: str) -> dict:
    p = get_provider(dataset)
    if license not in LICENSES:
        raise InvalidInput(f"license must be one of {', '.join(LICENSES)}", field="license")
    frequency = (frequency or p.frequency).strip().upper()  # the codes are upper case; accept any case
    if frequency not in FREQUENCIES:
        raise InvalidInput(f"frequency must be one of {', '.join(FREQUENCIES)} (EU frequency vocabulary)",
                           field="frequency")
    store.put_opendata_setting({"city": city, "dataset": dataset, "enabled": enabled, "license": license,
                                "frequency": frequency, "description": description, "updated_at": _now(),
                                "updated_by": actor})
    audit.record(store, actor=actor, action="opendata.dataset.update", city=city, target=f"dataset:{dataset}",
                 details={"enabled": enabled, "license": license, "frequency": frequency})
    return next(d for d in catalogue(store, city=city, include_unpublished=True) if d["id"] == dataset)


def published(store, *, city: str, dataset: str, scope: Scope = None) -> tuple[dict, Provider, dict]:
    """(city row, provider, settings) of a dataset the city publishes; 404 for a city the caller may not
    see, an unknown dataset or one the city does not publish."""
    c = get_city(store, city_id=city, scope=scope)
    p = get_provider(dataset)
    s = {r["dataset"]: r for r in store.opendata_settings(city=city)}.get(dataset)
    if s is None or not s["enabled"]:
        raise NotFound(f"{city} does not publish {dataset!r}", field="dataset")
    return c, p, s


def download(store, *, settings, city: str, dataset: str, fmt: str, scope: Scope = None) -> tuple[Iterator[bytes], str]:
    """The dataset's bytes in ``fmt``, streamed; the first batch is read before returning so that a
    failure answers an error status instead of a broken download."""
    c, p, _ = published(store, city=city, dataset=dataset, scope=scope)
    if fmt not in formats_of(p):
        raise NotFound(f"{dataset} is not offered as {fmt} (formats: {', '.join(formats_of(p))})", field="format")
    batches = p.batches(Context(store=store, settings=settings, city=c, scope=scope))
    first = next(batches, None)
    head = [] if first is None else [first]
    return formats.encode(fmt, p.schema, itertools.chain(head, batches), coordinates=p.coordinates), \
        formats.MEDIA_TYPES[fmt]


def ensure_published(store, *, city: str, datasets: list[str], license: str = "CC-BY-4.0", actor: str) -> int:
    """Publish ``datasets`` for a city unless it has settings for them already (the demo uses this)."""
    own = {r["dataset"] for r in store.opendata_settings(city=city)}
    n = 0
    for d in datasets:
        if d not in own:
            set_dataset(store, city=city, dataset=d, enabled=True, license=license, frequency=None,
                        description=None, actor=actor)
            n += 1
    return n
