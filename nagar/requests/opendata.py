"""The anonymised service-requests open dataset (registered with ``nagar.opendata``; see
nagar/opendata/README.md): an explicit list of columns, so no description, address, photo or personal
data can reach it, and locations rounded to about 100 m."""

from __future__ import annotations

from datetime import timezone
from typing import Iterator

import pyarrow as pa

from nagar.opendata.registry import Column, Context, Provider, register

from .service import OPEN311_STATUS, city_services

_UTC = pa.timestamp("us", tz="UTC")

# anonymised service requests ------------------------------------------------------------------------
COORD_DECIMALS = 3
"""Request locations are rounded to 3 decimal places (about 110 m north-south) in the open data."""
REQ_COLUMNS = (
    Column("service_request_id", pa.int64(), "Request id (as in the Open311 API)"),
    Column("service_code", pa.string(), "Service code"),
    Column("service_name", pa.string(), "Service name"),
    Column("status", pa.string(), "Open311 status (open, closed)"),
    Column("workflow_status", pa.string(), "new, acknowledged, in_progress, resolved, rejected, duplicate"),
    Column("department", pa.string(), "Department responsible"),
    Column("duplicate_of", pa.int64(), "The request this one duplicates"),
    Column("requested_datetime", _UTC, "Filed (UTC)"),
    Column("expected_datetime", _UTC, "Service-level target (UTC)"),
    Column("closed_datetime", _UTC, "Closed (UTC)"),
    Column("lat", pa.float64(), f"Latitude rounded to {COORD_DECIMALS} decimals (WGS84)", "degree"),
    Column("lon", pa.float64(), f"Longitude rounded to {COORD_DECIMALS} decimals (WGS84)", "degree"),
)
PAGE = 5000


def _req_batches(ctx: Context) -> Iterator[pa.RecordBatch]:
    city = ctx.city["id"]
    names = {s["service_code"]: s["service_name"] for s in city_services(ctx.store, city=city, include_disabled=True)}
    schema = pa.schema([pa.field(c.name, c.type) for c in REQ_COLUMNS])
    after = 0

    def utc(t):
        return None if t is None else (t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t)

    def rnd(x):
        return None if x is None else round(float(x), COORD_DECIMALS)

    while True:
        rows = ctx.store.service_requests_page(city=city, after_id=after, limit=PAGE)
        if not rows:
            return
        after = rows[-1]["id"]
        yield pa.RecordBatch.from_pydict({  # an explicit list of columns: no text, address or contact
            "service_request_id": [r["id"] for r in rows],
            "service_code": [r["service_code"] for r in rows],
            "service_name": [names.get(r["service_code"], r["service_code"]) for r in rows],
            "status": [OPEN311_STATUS[r["status"]] for r in rows],
            "workflow_status": [r["status"] for r in rows],
            "department": [r["department"] for r in rows],
            "duplicate_of": [r["duplicate_of"] for r in rows],
            "requested_datetime": [utc(r["requested_at"]) for r in rows],
            "expected_datetime": [utc(r["expected_at"]) for r in rows],
            "closed_datetime": [utc(r["closed_at"]) for r in rows],
            "lat": [rnd(r["lat"]) for r in rows],
            "lon": [rnd(r["lon"]) for r in rows],
        }, schema=schema)


register(Provider(
    id="service-requests", title="Citizen service requests (anonymised)",
    description="Requests filed through the city's Open311 service (e-waste dumping, air and water pollution, "
                "waterlogging, garbage, street lights) with their status and service-level target. Anonymised: "
                "no description, address, photo or personal data; locations rounded to about 100 m.",
    columns=REQ_COLUMNS, batches=_req_batches, keywords=("311", "Open311", "service requests", "complaints"),
    coordinates=("lat", "lon"), frequency="DAILY", themes=("GOVE", "ENVI")))
