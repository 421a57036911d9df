"""Climate rows for the permission matrix of ``tests/security/test_matrix.py``, kept beside the climate
tests so that the matrix file needs one line once the climate router is mounted::

    from tests.climate.matrix_rows import climate_rows
    TABLE.update(climate_rows(globals()))      # after TABLE is defined

and its world's store needs the climate tables (``ClimateTables`` among ``DuckDBStore``'s bases).
Expected answers follow the model: a write to a city the caller cannot see is 404, to one they see
without the right 403; reads are scoped like every other read.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

#              anon padmin a_admin a_oper a_analyst b_admin a_key device
WRITE_PRIV = "401  {ok}    {ok}     {ok}    403       404     {ok}   401"
WRITE_OPEN = "401  {ok}    403     403    403       {ok}     403   401"


def climate_rows(ns: dict) -> dict:
    """The TABLE rows of the climate routes, built from the matrix module's namespace ``ns``."""
    Case, Route, Perm, reads = ns["Case"], ns["Route"], ns["Perm"], ns["reads"]
    PRIV, OPEN, OPEN_READ = ns["PRIV"], ns["OPEN"], ns["OPEN_READ"]

    def body(obj):
        return json.dumps(obj).encode(), "application/json"

    def writes(ok: str) -> tuple:
        return (Case(PRIV, WRITE_PRIV.format(ok=ok)), Case(OPEN, WRITE_OPEN.format(ok=ok)))

    def activity(ctx):
        return body({"city": ctx.target, "rows": [{"year": 2024, "kind": "fuel", "sector": "residential",
                                                   "item": "lpg", "quantity": 1 + ctx.n, "unit": "t",
                                                   "source": "matrix"}]})

    def fresh_row(ctx) -> dict:
        year = 2000 + ctx.n % 90
        ctx.world.store.upsert_climate_activity(
            [{"city": ctx.target, "year": year, "kind": "fuel", "subsector": "I.1", "item": "lpg", "quantity": 1.0,
              "unit": "t"}], actor="matrix", now=datetime.now(timezone.utc))
        return {"activity_id": str(ctx.world.store.climate_activity(city=ctx.target, year=year)[0]["id"])}

    def drivers_stored(ctx) -> dict:
        ctx.world.store.put_climate_drivers(
            {"city": ctx.target, "population_growth": 0.02, "gdp_growth": 0.05, "intensity_change": 0.0,
             "grid_change": 0.0, "source": "matrix"}, actor="matrix", now=datetime.now(timezone.utc))
        return {}

    def activity_2024(ctx) -> dict:  # the inventory of a year without activity data is a 404
        ctx.world.store.upsert_climate_activity(
            [{"city": ctx.target, "year": 2024, "kind": "fuel", "subsector": "I.1", "item": "lpg", "quantity": 1.0,
              "unit": "t"}], actor="matrix", now=datetime.now(timezone.utc))
        return {}

    return {
        ("GET", "/climate/drivers"): Route(Perm.READ, reads(), prepare=drivers_stored),
        ("PUT", "/climate/drivers"): Route(Perm.WRITE, writes("200"), body=lambda ctx: body(
            {"city": ctx.target, "population_growth": 0.02, "source": "matrix test"})),
        ("GET", "/climate/activity"): Route(Perm.READ, reads()),
        ("POST", "/climate/activity"): Route(Perm.WRITE, writes("200"), body=activity),
        ("DELETE", "/climate/activity/{activity_id}"): Route(Perm.WRITE, writes("204"), prepare=fresh_row),
        ("GET", "/climate/factors"): Route(Perm.READ, (Case(None, OPEN_READ),) + reads((("city", "{city}"),))),
        ("POST", "/climate/factors"): Route(Perm.WRITE, writes("201"), body=lambda ctx: body(
            {"city": ctx.target, "kind": "grid", "value": 0.5, "year": 2024, "source": "matrix test"})),
        ("GET", "/climate/inventory"): Route(Perm.READ, reads((("year", "2024"),),
                                                              (("year", "2024"), ("format", "csv"))),
                                             prepare=activity_2024),
        ("GET", "/climate/inventory/runs"): Route(Perm.READ, reads()),
        ("POST", "/climate/inventory/runs"): Route(Perm.WRITE, writes("201"),
                                                   body=lambda ctx: body({"city": ctx.target, "year": 2024}),
                                                   prepare=activity_2024),
        ("GET", "/climate/renewable-share"): Route(Perm.READ, reads()),
        ("POST", "/climate/pathway"): Route(Perm.READ, reads(),
                                            body=lambda ctx: body({"city": ctx.target, "base_year": 2024}),
                                            prepare=activity_2024),
    }
