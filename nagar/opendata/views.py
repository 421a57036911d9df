"""Routes for open data: the registered datasets, a city's catalogue and its settings, streamed downloads
(CSV, GeoJSON, Parquet) and the DCAT-AP catalogue (JSON-LD).

Reads are scoped like every Nagar read: anonymous callers see the open-data cities; a city the caller
may not see, an unknown dataset and one the city does not publish are all 404. City admins choose what
their city publishes.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from nagar.security.permissions import Perm, PrincipalDep, check_city, require
from nagar.store.deps import SettingsDep, StoreDep

from . import dcat, service
from .registry import providers

router = APIRouter(prefix="/api/v1/opendata", tags=["open data"])

CityPath = Annotated[str, Path(max_length=64, examples=["dhaka"])]
DatasetPath = Annotated[str, Path(max_length=64, examples=["aqi-daily"])]


class DatasetSetting(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(True, description="Publish the dataset")
    license: str = Field("CC-BY-4.0", max_length=20, description="SPDX id: " + ", ".join(service.LICENSES))
    frequency: str | None = Field(None, max_length=20, examples=["DAILY"],
                                  description="EU frequency code: " + ", ".join(service.FREQUENCIES))
    description: str | None = Field(None, max_length=4000, description="The city's own description")


@router.get("/providers", summary="Datasets a city can publish (the registry)", **require(Perm.PUBLIC))
def get_providers() -> dict:
    return {"items": [p.describe() for p in providers()]}


def _jsonld_kw() -> dict:
    kw = require(Perm.READ)
    kw["responses"] = {**kw["responses"], 200: {"description": "DCAT-AP catalogue",
                                                "content": {"application/ld+json": {"schema": {"type": "object"}}}}}
    kw["response_class"] = Response
    return kw


@router.get("/catalog.jsonld", summary="DCAT-AP catalogue (JSON-LD) of the published datasets", **_jsonld_kw())
def get_dcat(request: Request, store: StoreDep, principal: PrincipalDep,
             city: str | None = Query(None, max_length=64, description="One city; default: every city you may see"))\
        -> Response:
    import json

    scope = principal.scope(Perm.READ)
    cities = [store.get_city(city, scope=scope)] if city else store.list_cities(scope=scope)
    if city and cities[0] is None:
        from nagar.core.errors import NotFound

        raise NotFound(f"no city {city!r}", field="city")
    entries = {c["id"]: service.catalogue(store, city=c["id"], scope=scope) for c in cities}
    doc = dcat.catalog_document(base_url=str(request.base_url), cities=cities, entries=entries)
    return Response(json.dumps(doc, ensure_ascii=False, default=str), media_type="application/ld+json")


@router.get("/{city}/datasets", summary="The datasets a city publishes", **require(Perm.READ))
def get_catalogue(city: CityPath, store: StoreDep, principal: PrincipalDep) -> dict:
    return {"city": city, "items": service.catalogue(store, city=city, scope=principal.scope(Perm.READ))}


@router.get("/{city}/settings", summary="Every dataset with the city's publication settings (city admins)",
            **require(Perm.ADMIN))
def get_settings(city: CityPath, store: StoreDep, principal: PrincipalDep) -> dict:
    check_city(store, principal, city, Perm.ADMIN)
    return {"city": city, "items": service.catalogue(store, city=city, include_unpublished=True)}


@router.put("/{city}/datasets/{dataset}", summary="Publish or withdraw a dataset; set licence and frequency",
            **require(Perm.ADMIN))
def put_dataset(city: CityPath, dataset: DatasetPath, body: DatasetSetting, store: StoreDep,
                principal: PrincipalDep) -> dict:
    check_city(store, principal, city, Perm.ADMIN)
    return service.set_dataset(store, city=city, dataset=dataset, enabled=body.enabled, license=body.license,
                               frequency=body.frequency, description=body.description, actor=principal.actor)


def _download_kw() -> dict:
    kw = require(Perm.READ)
    kw["responses"] = {**kw["responses"], 200: {"description": "The dataset, streamed", "content": {
        "text/csv": {}, "application/geo+json": {}, "application/vnd.apache.parquet": {}}}}
    kw["response_class"] = StreamingResponse
    return kw


@router.get("/{city}/datasets/{dataset}.{fmt}", summary="Download a published dataset (streamed)",
            **_download_kw())
def get_download(city: CityPath, dataset: DatasetPath, fmt: Literal["csv", "geojson", "parquet"],
                 store: StoreDep, settings: SettingsDep, principal: PrincipalDep) -> StreamingResponse:
    body, media_type = service.download(store, settings=settings, city=city, dataset=dataset, fmt=fmt,
                                        scope=principal.scope(Perm.READ))
    return StreamingResponse(body, media_type=media_type,
                             headers={"Content-Disposition": f'attachment; filename="{city}-{dataset}.{fmt}"'})
