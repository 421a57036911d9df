"""Water rows for the permission matrix of ``tests/security/test_matrix.py`` (one line there:
``TABLE.update(water_rows(globals()))``). Reads are scoped like every read; loading stations, samples and
objective sets needs the write right in the city (operators and above)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

#              anon padmin a_admin a_oper a_analyst b_admin a_key device
WRITE_PRIV = "401  {ok}    {ok}     {ok}    403       404     {ok}   401"
WRITE_OPEN = "401  {ok}    403     403    403       {ok}     403   401"


def _body(obj):
    return json.dumps(obj).encode(), "application/json"


def ensure_water_station(ctx) -> str:
    sid = f"{ctx.target}-w1"
    if not ctx.world.store.water_stations(ids=[sid]):
        ctx.world.store.upsert_water_stations([{"id": sid, "city": ctx.target, "name": "W1", "water_body": "River"}],
                                              actor="matrix", now=datetime.now(timezone.utc))
    return sid


def water_rows(ns: dict) -> dict:
    Case, Route, Perm, reads = ns["Case"], ns["Route"], ns["Perm"], ns["reads"]
    PRIV, OPEN = ns["PRIV"], ns["OPEN"]

    def writes(ok: str) -> tuple:
        return (Case(PRIV, WRITE_PRIV.format(ok=ok)), Case(OPEN, WRITE_OPEN.format(ok=ok)))

    def samples(ctx):
        sid = ensure_water_station(ctx)
        return _body({"samples": [{"station": sid, "parameter": "do", "time": f"2024-01-{1 + ctx.n % 28:02d}",
                                   "value": 5.0 + ctx.n % 3, "unit": "mg/L"}]})

    def history_path(ctx):
        return {"station": ensure_water_station(ctx), "parameter": "do"}

    base = "/cities/{city}/water"
    return {
        ("GET", f"{base}/parameters"): Route(Perm.READ, reads()),
        ("GET", f"{base}/stations"): Route(Perm.READ, reads()),
        ("POST", f"{base}/stations"): Route(Perm.WRITE, writes("200"), body=lambda ctx: _body(
            {"stations": [{"id": f"{ctx.target}-w{ctx.n + 10}", "name": "New", "water_body": "Turag"}]})),
        ("POST", f"{base}/samples"): Route(Perm.WRITE, writes("200"), body=samples),
        ("GET", f"{base}/wqi"): Route(Perm.READ, reads((("period", "all"),))),
        ("GET", f"{base}/exceedances"): Route(Perm.READ, reads()),
        ("GET", f"{base}/stations/{{station}}/parameters/{{parameter}}/history"): Route(
            Perm.READ, reads(), prepare=history_path),
        ("GET", f"{base}/objectives"): Route(Perm.READ, reads()),
        ("PUT", f"{base}/objectives"): Route(Perm.WRITE, writes("200"), body=lambda ctx: _body(
            {"id": "matrix-set", "name": "Matrix", "use": "other", "source": "matrix test",
             "csv": "parameter,lower,upper,unit\ndo,5,,mg/L\n"})),
    }
