"""The registry of dataset providers: what a city can publish.

A provider is a small description (id, title, description, columns with types and units, keywords,
the columns holding coordinates if any) and one function that streams a city's data as Arrow record
batches. Registering one makes it appear in every city's catalogue (unpublished until the city's admin
enables it), in the downloads (CSV, Parquet, and GeoJSON when it has coordinates) and in the DCAT-AP
document. See nagar/opendata/README.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator

import pyarrow as pa

from nagar.core.errors import NotFound


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    description: str
    unit: str | None = None


@dataclass(frozen=True)
class Context:
    """What a provider's ``batches`` gets: the store, the settings, the city row (already checked
    visible to the caller) and the caller's read scope (pass it to every store read)."""

    store: object
    settings: object
    city: dict
    scope: object = None


@dataclass(frozen=True)
class Provider:
    id: str
    title: str
    description: str
    columns: tuple[Column, ...]
    batches: Callable[[Context], Iterator[pa.RecordBatch]]
    """Yield the city's rows as record batches of :attr:`schema`, a bounded number of rows at a time."""
    keywords: tuple[str, ...] = ()
    coordinates: tuple[str, str] | None = None
    """(latitude column, longitude column), WGS84 degrees: the dataset is also offered as GeoJSON."""
    frequency: str = "DAILY"
    """Default update frequency (EU frequency vocabulary code, e.g. HOURLY, DAILY, ANNUAL, IRREG)."""
    themes: tuple[str, ...] = ("ENVI",)
    """EU data themes (http://publications.europa.eu/resource/authority/data-theme/...)."""
    extra: dict = field(default_factory=dict)

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.type) for c in self.columns])

    def describe(self) -> dict:
        return {"id": self.id, "title": self.title, "description": self.description, "keywords": list(self.keywords),
                "geojson": self.coordinates is not None, "default_frequency": self.frequency,
                "columns": [{"name": c.name, "type": str(c.type), "description": c.description, "unit": c.unit}
                            for c in self.columns]}


_REGISTRY: dict[str, Provider] = {}


def register(provider: Provider) -> Provider:
    """Add a provider (once per id; registering the same id again replaces it, e.g. on module reload)."""
    names = [c.name for c in provider.columns]
    if len(names) != len(set(names)):
        raise ValueError(f"provider {provider.id}: duplicate column names")
    if provider.coordinates is not None and not set(provider.coordinates) <= set(names):
        raise ValueError(f"provider {provider.id}: coordinate columns {provider.coordinates} not among its columns")
    _REGISTRY[provider.id] = provider
    return provider


def providers() -> list[Provider]:
    _load_builtin()
    return sorted(_REGISTRY.values(), key=lambda p: p.id)


def get_provider(dataset: str) -> Provider:
    _load_builtin()
    p = _REGISTRY.get(dataset)
    if p is None:
        raise NotFound(f"no dataset {dataset!r}", field="dataset")
    return p


_LOADED: list[bool] = []


def _load_builtin() -> None:
    """Import the shipped providers, and every domain's ``nagar/<domain>/opendata.py`` (once): a domain
    publishes a dataset by registering it in that module, without touching this package."""
    if _LOADED:
        return
    import importlib
    import importlib.util
    import pkgutil

    import nagar

    from . import providers as _builtin  # noqa: F401  (registers the shipped providers on import)

    for mod in pkgutil.iter_modules(nagar.__path__):
        if mod.ispkg and mod.name != "opendata" and \
                importlib.util.find_spec(f"nagar.{mod.name}.opendata") is not None:
            importlib.import_module(f"nagar.{mod.name}.opendata")
    _LOADED.append(True)
