"""Open-data rows for the permission matrix of ``tests/security/test_matrix.py``: reads scoped like every
read (the anonymous catalogue must not mention the private city), settings for city admins."""

from __future__ import annotations

import json


def opendata_rows(ns: dict) -> dict:
    Case, Route, Perm, reads, admin = ns["Case"], ns["Route"], ns["Perm"], ns["reads"], ns["admin"]
    OPEN_READ, every = ns["OPEN_READ"], ns["every"]

    def published(ctx):
        from nagar.opendata.service import ensure_published

        ensure_published(ctx.world.store, city=ctx.target, datasets=["service-requests"], actor="matrix")
        return {"dataset": "service-requests", "fmt": "csv"}

    return {
        ("GET", "/opendata/providers"): Route(Perm.PUBLIC, (Case(None, every("200")),)),
        ("GET", "/opendata/catalog.jsonld"): Route(Perm.READ, (Case(None, OPEN_READ),) + reads((("city", "{city}"),))),
        ("GET", "/opendata/{city}/datasets"): Route(Perm.READ, reads()),
        ("GET", "/opendata/{city}/settings"): Route(Perm.ADMIN, admin("200")),
        ("PUT", "/opendata/{city}/datasets/{dataset}"): Route(
            Perm.ADMIN, admin("200"), body=lambda ctx: (json.dumps({"license": "CC-BY-4.0"}).encode(), "application/json"),
            prepare=lambda ctx: {"dataset": "service-requests"}),
        ("GET", "/opendata/{city}/datasets/{dataset}.{fmt}"): Route(Perm.READ, reads(), prepare=published),
    }
