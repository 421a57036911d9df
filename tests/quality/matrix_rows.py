"""Quality rows for the permission matrix of ``tests/security/test_matrix.py`` (wired there with one line,
like the climate rows). Reads are scoped like every read; scans and overrides need the write right in
the city (a city the caller cannot see is 404, one they see without the right 403)."""

from __future__ import annotations

import json

#              anon padmin a_admin a_oper a_analyst b_admin a_key device
WRITE_PRIV = "401  {ok}    {ok}     {ok}    403       404     {ok}   401"
WRITE_OPEN = "401  {ok}    403     403    403       {ok}     403   401"


def quality_rows(ns: dict) -> dict:
    Case, Route, Perm, reads = ns["Case"], ns["Route"], ns["Perm"], ns["reads"]
    PRIV, OPEN = ns["PRIV"], ns["OPEN"]

    def body(obj):
        return json.dumps(obj).encode(), "application/json"

    def writes(ok: str) -> tuple:
        return (Case(PRIV, WRITE_PRIV.format(ok=ok)), Case(OPEN, WRITE_OPEN.format(ok=ok)))

    def override(ctx):
        rows = ctx.world.store.observations(stations=[ctx.station], include_flagged=True, limit=1).to_pylist()
        return body({"station": ctx.station, "parameter": rows[0]["parameter"],
                     "time": rows[0]["time"].isoformat(), "reason": "matrix"})

    return {
        ("GET", "/cities/{city}/quality/summary"): Route(Perm.READ, reads()),
        ("GET", "/cities/{city}/quality/faults"): Route(Perm.READ, reads()),
        ("GET", "/cities/{city}/quality/stations/{station_id}/series"): Route(Perm.READ, reads()),
        ("POST", "/cities/{city}/quality/scan"): Route(Perm.WRITE, writes("200"), body=lambda ctx: body({})),
        ("POST", "/cities/{city}/quality/overrides"): Route(Perm.WRITE, writes("201"), body=override),
    }
