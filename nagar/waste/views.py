"""Routes for e-waste: POM data and the generation model, collection points, handlers, collection events,
the chain of custody (transfers, recycler output, trace, flagged losses) and the formal collection rate.

Everything of a city lives under ``/api/v1/cities/{city}/ewaste``. Reads are scoped (another city's data
is a 404); writes need the write right in the city (``check_city``: operators), targets and the loss
tolerance the city admin's. Every write is audited by the service.
"""

from __future__ import annotations

from fastapi import APIRouter, Path, Query, status

from nagar.security.permissions import Perm, PrincipalDep, check_city, require
from nagar.store.deps import StoreDep

from . import service
from .models import (EventIn, HandlerIn, PointIn, PomBatch, PopulationBatch, ProcessIn, SettingsIn, TargetBatch,
                     TransferIn)

router = APIRouter(prefix="/api/v1/cities/{city}/ewaste", tags=["e-waste"])
keys_router = APIRouter(prefix="/api/v1/ewaste", tags=["e-waste"])

City = Path(..., min_length=1, max_length=100, examples=["dhaka"])


@keys_router.get("/keys", summary="The 54 UNU-KEYs: EEE category, average weight, Weibull lifespan, sources",
                 **require(Perm.PUBLIC))
def get_keys() -> dict:
    return service.keys_table()


# POM, population, model ------------------------------------------------------------------------------
@router.get("/pom", summary="A city's equipment put on the market per year and UNU-KEY [kg]", **require(Perm.READ))
def get_pom(store: StoreDep, principal: PrincipalDep, city: str = City) -> dict:
    return {"city": city, "items": service.list_pom(store, city=city, scope=principal.scope(Perm.READ))}


@router.put("/pom", summary="Add or replace put-on-market rows (kg, or units x average weight)",
            **require(Perm.WRITE))
def put_pom(body: PomBatch, store: StoreDep, principal: PrincipalDep, city: str = City) -> dict:
    check_city(store, principal, city, Perm.WRITE)
    return service.put_pom(store, city=city, rows=body.rows, actor=principal.actor)


@router.put("/population", summary="Inhabitants per year (for kg per inhabitant)", **require(Perm.WRITE))
def put_population(body: PopulationBatch, store: StoreDep, principal: PrincipalDep, city: str = City) -> dict:
    check_city(store, principal, city, Perm.WRITE)
    return service.put_population(store, city=city, rows=body.rows, actor=principal.actor)


@router.get("/generation", summary="E-waste generated and stock in use per EEE category and year (UNU model)",
            **require(Perm.READ))
def get_generation(store: StoreDep, principal: PrincipalDep, city: str = City,
                   from_: int | None = Query(None, alias="from", ge=1950, le=2100),
                   to: int | None = Query(None, ge=1950, le=2100)) -> dict:
    return service.generation(store, city=city, start=from_, end=to, scope=principal.scope(Perm.READ))


@router.get("/collection-rate", summary="Formal collection rate per category and year against the city's targets",
            **require(Perm.READ))
def get_collection_rate(store: StoreDep, principal: PrincipalDep, city: str = City,
                        year: int | None = Query(None, ge=1950, le=2100)) -> dict:
    return service.collection_rate(store, city=city, year=year, scope=principal.scope(Perm.READ))


@router.put("/targets", summary="Set collection-rate targets per year and category (0: all)", **require(Perm.ADMIN))
def put_targets(body: TargetBatch, store: StoreDep, principal: PrincipalDep, city: str = City) -> dict:
    check_city(store, principal, city, Perm.ADMIN)
    return service.put_targets(store, city=city, rows=body.rows, actor=principal.actor)


@router.put("/settings", summary="Set the loss tolerance of the custody chain (default 0.05)", **require(Perm.ADMIN))
def put_settings(body: SettingsIn, store: StoreDep, principal: PrincipalDep, city: str = City) -> dict:
    check_city(store, principal, city, Perm.ADMIN)
    return service.set_tolerance(store, city=city, loss_tolerance=body.loss_tolerance, actor=principal.actor)


# points and handlers ---------------------------------------------------------------------------------
@router.get("/points", summary="Collection points", **require(Perm.READ))
def get_points(store: StoreDep, principal: PrincipalDep, city: str = City) -> dict:
    return {"city": city, "items": service.list_points(store, city=city, scope=principal.scope(Perm.READ))}


@router.post("/points", status_code=status.HTTP_201_CREATED, summary="Add a collection point (409 if the id exists)",
             **require(Perm.WRITE))
def post_point(body: PointIn, store: StoreDep, principal: PrincipalDep, city: str = City) -> dict:
    check_city(store, principal, city, Perm.WRITE)
    return service.add_point(store, city=city, point=body, actor=principal.actor)


@router.get("/handlers", summary="Registered handlers and whether their licence is valid today", **require(Perm.READ))
def get_handlers(store: StoreDep, principal: PrincipalDep, city: str = City) -> dict:
    return {"city": city, "items": service.list_handlers(store, city=city, scope=principal.scope(Perm.READ))}


@router.post("/handlers", status_code=status.HTTP_201_CREATED,
             summary="Register a handler: collector, transporter or recycler (licence number and expiry)",
             **require(Perm.WRITE))
def post_handler(body: HandlerIn, store: StoreDep, principal: PrincipalDep, city: str = City) -> dict:
    check_city(store, principal, city, Perm.WRITE)
    return service.add_handler(store, city=city, handler=body, actor=principal.actor)


# collection and custody -------------------------------------------------------------------------------
@router.get("/events", summary="Collection events, newest first", **require(Perm.READ))
def get_events(store: StoreDep, principal: PrincipalDep, city: str = City) -> dict:
    return {"city": city, "items": service.list_events(store, city=city, scope=principal.scope(Perm.READ))}


@router.post("/events", status_code=status.HTTP_201_CREATED,
             summary="Record a collection event: weighed kg per EEE category, one batch each", **require(Perm.WRITE))
def post_event(body: EventIn, store: StoreDep, principal: PrincipalDep, city: str = City) -> dict:
    check_city(store, principal, city, Perm.WRITE)
    return service.add_event(store, city=city, event=body, actor=principal.actor)


@router.get("/batches", summary="Batches and who holds how much of each", **require(Perm.READ))
def get_batches(store: StoreDep, principal: PrincipalDep, city: str = City) -> dict:
    return {"city": city, "items": service.list_batches(store, city=city, scope=principal.scope(Perm.READ))}


@router.get("/batches/{batch_id}", summary="A batch's custody chain back to its collection point, with mass balance",
            **require(Perm.READ))
def get_batch(store: StoreDep, principal: PrincipalDep, city: str = City,
              batch_id: int = Path(..., ge=1, le=2**62)) -> dict:
    return service.trace(store, city=city, batch_id=batch_id, scope=principal.scope(Perm.READ))


@router.post("/transfers", status_code=status.HTTP_201_CREATED,
             summary="Move (part of) a batch to another registered handler (custody rules enforced)",
             **require(Perm.WRITE))
def post_transfer(body: TransferIn, store: StoreDep, principal: PrincipalDep, city: str = City) -> dict:
    check_city(store, principal, city, Perm.WRITE)
    return service.transfer(store, city=city, t=body, actor=principal.actor)


@router.post("/processing", status_code=status.HTTP_201_CREATED,
             summary="Record a recycler's output from a batch it holds: materials recovered and residues",
             **require(Perm.WRITE))
def post_processing(body: ProcessIn, store: StoreDep, principal: PrincipalDep, city: str = City) -> dict:
    check_city(store, principal, city, Perm.WRITE)
    return service.process(store, city=city, p=body, actor=principal.actor)


@router.get("/flags", summary="Transfers and processing with losses above the city's tolerance", **require(Perm.READ))
def get_flags(store: StoreDep, principal: PrincipalDep, city: str = City) -> dict:
    return service.flags(store, city=city, scope=principal.scope(Perm.READ))
