"""Routes for alerts under ``/api/v1/cities/{city}/alerts``: rules (city admins write them), webhook
endpoints and deliveries (city admins), and the alert history (readers of the city)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Path, Query, Response

from nagar.security.permissions import Perm, PrincipalDep, check_city, require
from nagar.store.deps import SettingsDep, StoreDep

from . import service
from .models import EndpointIn, RuleIn

router = APIRouter(prefix="/api/v1/cities/{city}/alerts", tags=["alerts"])

CityPath = Path(..., max_length=100, examples=["dhaka"])
RuleId = Path(..., ge=1, le=2**62)
EndpointId = Path(..., ge=1, le=2**62)


@router.get("/rules", summary="A city's alert rules", **require(Perm.READ))
def get_rules(store: StoreDep, principal: PrincipalDep, city: str = CityPath) -> dict:
    return {"city": city, "items": service.list_rules(store, city=city, scope=principal.scope(Perm.READ))}


@router.post("/rules", status_code=201, summary="Add an alert rule (JSON, no code)", **require(Perm.ADMIN))
def post_rule(body: RuleIn, store: StoreDep, settings: SettingsDep, principal: PrincipalDep,
              city: str = CityPath) -> dict:
    check_city(store, principal, city, Perm.ADMIN)
    return service.add_rule(store, city=city, body=body, actor=principal.actor, settings=settings)


@router.get("/rules/{rule_id}", summary="One alert rule", **require(Perm.READ))
def get_rule(store: StoreDep, principal: PrincipalDep, city: str = CityPath, rule_id: int = RuleId) -> dict:
    return service.get_rule(store, city=city, rule_id=rule_id, scope=principal.scope(Perm.READ))


@router.put("/rules/{rule_id}", summary="Replace an alert rule (a changed condition starts its episodes afresh)",
            **require(Perm.ADMIN))
def put_rule(body: RuleIn, store: StoreDep, settings: SettingsDep, principal: PrincipalDep, city: str = CityPath,
             rule_id: int = RuleId) -> dict:
    check_city(store, principal, city, Perm.ADMIN)
    return service.replace_rule(store, city=city, rule_id=rule_id, body=body, actor=principal.actor,
                                settings=settings)


@router.delete("/rules/{rule_id}", status_code=204, summary="Delete an alert rule", **require(Perm.ADMIN))
def delete_rule(store: StoreDep, principal: PrincipalDep, city: str = CityPath, rule_id: int = RuleId) -> Response:
    check_city(store, principal, city, Perm.ADMIN)
    service.delete_rule(store, city=city, rule_id=rule_id, actor=principal.actor)
    return Response(status_code=204)


@router.get("/events", summary="The city's alert history (onsets and recoveries, newest first)",
            **require(Perm.READ))
def get_events(store: StoreDep, principal: PrincipalDep, city: str = CityPath,
               rule_id: int | None = Query(None, ge=1, le=2**62),
               start: datetime | None = Query(None, description="ISO 8601 with a UTC offset"),
               limit: int = Query(100, ge=1, le=1000)) -> dict:
    if start is not None and start.tzinfo is None:
        from nagar.core.errors import InvalidInput

        raise InvalidInput("start must include a UTC offset", field="start")
    scope = principal.scope(Perm.READ)
    items = service.history(store, city=city, rule_id=rule_id, start=start, limit=limit, scope=scope)
    return {"city": city, "items": describe_events(store, city=city, items=items, scope=scope)}


DELIVERY_WINDOW = 10_000
"""How many of the city's newest webhook deliveries are read to tell what happened to the listed events."""


def describe_events(store, *, city: str, items: list[dict], scope=None,
                    window: int = DELIVERY_WINDOW) -> list[dict]:
    """The events with what the dashboard shows about them, from the stored facts:

    - ``notified``: ``"quiet_hours"`` (suppressed: recorded, not sent), ``"no_receiver"`` (no webhook
      delivery was queued: the city had no enabled endpoint when it fired), ``"delivered"`` (every
      delivery answered 2xx), ``"failed"`` (some delivery is a dead letter), ``"sending"`` (some are still
      pending), or None when its deliveries are older than the ``window`` newest ones read;
      ``deliveries`` counts them by status.
    - ``station``, ``station_name``: the station of a station scope (air or water station, by its name),
      None for the city; ``forecast_date``: the target day of a forecast episode (scope
      ``"<station or city>@<date>"``, nagar/alerts/README.md).
    """
    by_event: dict[int, dict[str, int]] = {}
    rows = store.alert_deliveries(city=city, limit=window, scope=scope) if items else []
    complete_from = 0 if len(rows) < window else min(int(r["event_id"]) for r in rows)
    for r in rows:
        counts = by_event.setdefault(int(r["event_id"]), {"delivered": 0, "pending": 0, "dead": 0})
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    names = {s["id"]: s["name"] for s in store.list_stations(city=city, scope=scope)} if items else {}
    water = getattr(store, "water_stations", None)
    if items and water is not None:
        names.update({s["id"]: s["name"] for s in water(city=city, scope=scope)})
    out = []
    for e in items:
        counts = by_event.get(int(e["id"]))
        if e["suppressed"]:
            notified = "quiet_hours"
        elif counts is None:
            notified = "no_receiver" if int(e["id"]) > complete_from else None
        elif counts.get("dead"):
            notified = "failed"
        elif counts.get("pending"):
            notified = "sending"
        else:
            notified = "delivered"
        where, _, day = str(e["scope_key"]).partition("@")
        station = None if where == "city" else where
        out.append({**e, "notified": notified, "deliveries": counts or {"delivered": 0, "pending": 0, "dead": 0},
                    "station": station, "station_name": names.get(station) if station else None,
                    "forecast_date": day or None})
    return out


@router.get("/endpoints", summary="The city's webhook endpoints (secrets are never shown again)",
            **require(Perm.ADMIN))
def get_endpoints(store: StoreDep, principal: PrincipalDep, city: str = CityPath) -> dict:
    check_city(store, principal, city, Perm.ADMIN)
    return {"city": city, "items": service.list_endpoints(store, city=city, scope=principal.scope(Perm.ADMIN))}


@router.post("/endpoints", status_code=201, summary="Add a webhook endpoint; answers its signing secret once",
             **require(Perm.ADMIN))
def post_endpoint(body: EndpointIn, store: StoreDep, settings: SettingsDep, principal: PrincipalDep,
                  city: str = CityPath) -> dict:
    check_city(store, principal, city, Perm.ADMIN)
    return service.add_endpoint(store, city=city, body=body, actor=principal.actor,
                                allow_private=settings.egress_allow_private)


@router.delete("/endpoints/{endpoint_id}", status_code=204, summary="Remove a webhook endpoint",
               **require(Perm.ADMIN))
def delete_endpoint(store: StoreDep, principal: PrincipalDep, city: str = CityPath,
                    endpoint_id: int = EndpointId) -> Response:
    check_city(store, principal, city, Perm.ADMIN)
    service.delete_endpoint(store, city=city, endpoint_id=endpoint_id, actor=principal.actor)
    return Response(status_code=204)


@router.get("/deliveries", summary="Webhook deliveries (status dead: the dead letters)", **require(Perm.ADMIN))
def get_deliveries(store: StoreDep, principal: PrincipalDep, city: str = CityPath,
                   status: Literal["pending", "delivered", "dead"] | None = Query(None),
                   limit: int = Query(100, ge=1, le=1000)) -> dict:
    check_city(store, principal, city, Perm.ADMIN)
    return {"city": city, "items": service.deliveries(store, city=city, status=status, limit=limit,
                                                      scope=principal.scope(Perm.ADMIN))}
