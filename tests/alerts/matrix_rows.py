"""Alert rows for the permission matrix of ``tests/security/test_matrix.py`` (one line there:
``TABLE.update(alerts_rows(globals()))``). Rules and webhook endpoints are written by city admins; the
alert history and the rules are read like any city data; endpoints and deliveries only by city admins."""

from __future__ import annotations

import json
from datetime import datetime, timezone


def _body(obj):
    return json.dumps(obj).encode(), "application/json"


RULE = {"name": "PM2.5 high", "rule": {"kind": "observation", "parameter": "pm25", "threshold": 55, "duration": 3}}


def alerts_rows(ns: dict) -> dict:
    Route, Perm, reads, admin = ns["Route"], ns["Perm"], ns["reads"], ns["admin"]
    now = datetime.now(timezone.utc)

    def fresh_rule(ctx) -> dict:
        row = ctx.world.store.add_alert_rule(city=ctx.target, name=f"r{ctx.n}", kind="observation",
                                             spec=RULE["rule"], actor="matrix", now=now)
        return {"rule_id": str(row["id"])}

    def fresh_endpoint(ctx) -> dict:
        row = ctx.world.store.add_alert_endpoint(city=ctx.target, name=f"e{ctx.n}", url="http://127.0.0.1:9/x",
                                                 secret="s", max_attempts=1, actor="matrix", now=now)
        return {"endpoint_id": str(row["id"])}

    base = "/cities/{city}/alerts"
    return {
        ("GET", f"{base}/rules"): Route(Perm.READ, reads()),
        ("POST", f"{base}/rules"): Route(Perm.ADMIN, admin("201"), body=lambda ctx: _body(RULE)),
        ("GET", f"{base}/rules/{{rule_id}}"): Route(Perm.READ, reads(), prepare=fresh_rule),
        ("PUT", f"{base}/rules/{{rule_id}}"): Route(Perm.ADMIN, admin("200"), prepare=fresh_rule,
                                                     body=lambda ctx: _body({**RULE, "enabled": False})),
        ("DELETE", f"{base}/rules/{{rule_id}}"): Route(Perm.ADMIN, admin("204"), prepare=fresh_rule),
        ("GET", f"{base}/events"): Route(Perm.READ, reads()),
        ("GET", f"{base}/endpoints"): Route(Perm.ADMIN, admin("200")),
        ("POST", f"{base}/endpoints"): Route(Perm.ADMIN, admin("201"), body=lambda ctx: _body(
            {"name": "ops", "url": "https://hooks.example.org/hook", "max_attempts": 1})),
        ("DELETE", f"{base}/endpoints/{{endpoint_id}}"): Route(Perm.ADMIN, admin("204"), prepare=fresh_endpoint),
        ("GET", f"{base}/deliveries"): Route(Perm.ADMIN, admin("200")),
    }
