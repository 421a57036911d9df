"""Routes that bring observations in and read them back."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from nagar.core.errors import InvalidInput
from nagar.security import audit
from nagar.security.permissions import Perm, PrincipalDep, require
from nagar.store.deps import SettingsDep, StoreDep

from . import service
from .models import IngestResult, ObservationIn

router = APIRouter(prefix="/api/v1", tags=["observations"])


@router.post(
    "/observations",
    summary="Ingest a batch of observations",
    description=(
        "Body: a JSON list of observations, or an object `{\"observations\": [...]}`. Each row is checked on "
        "its own; good rows are stored even when others are rejected. Writing the same (station, parameter, "
        "time) again replaces the stored value and counts as an update. The answer is sent only after the "
        "batch is durable."
    ),
    **require(Perm.WRITE, openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "array", "items": ObservationIn.model_json_schema()}}},
        }
    }),
)
async def post_observations(request: Request, store: StoreDep, settings: SettingsDep,
                            principal: PrincipalDep) -> IngestResult:
    body = await request.body()
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"body is not valid JSON: {exc}", field="body") from None
    rows = payload.get("observations") if isinstance(payload, dict) else payload
    if rows is None:
        raise InvalidInput("expected a JSON list of observations or {\"observations\": [...]}", field="body")
    result = await run_in_threadpool(service.ingest_rows, store, rows=rows, settings=settings,
                                     scope=principal.scope(Perm.WRITE))
    await run_in_threadpool(audit.record, store, actor=principal.actor, action="observations.write",
                            details={"received": result.received, "inserted": result.inserted,
                                     "updated": result.updated, "rejected": result.rejected})
    return result


@router.get("/observations", summary="Query observations or their hourly/daily means", **require(Perm.READ))
def get_observations(
    store: StoreDep,
    principal: PrincipalDep,
    station: list[str] | None = Query(None, description="Station id (repeatable)"),
    city: str | None = Query(None),
    parameter: list[str] | None = Query(None, description="Parameter (repeatable)"),
    start: datetime | None = Query(None, description="Inclusive, ISO 8601 with offset"),
    end: datetime | None = Query(None, description="Exclusive, ISO 8601 with offset"),
    aggregation: Literal["raw", "hour", "day"] = Query("raw"),
    limit: int = Query(10_000, ge=1, le=1_000_000),
) -> dict:
    return service.query_observations(
        store, stations=station, city=city, parameters=parameter, start=start, end=end,
        aggregation=aggregation, limit=limit, scope=principal.scope(Perm.READ),
    )
