"""Funding rows for the permission matrix of ``tests/security/test_matrix.py``, kept beside the funding
tests so that the matrix file needs one line once the funding router is mounted::

    from tests.funding.matrix_rows import funding_rows
    TABLE.update(funding_rows(globals()))      # after TABLE is defined

and its world's store needs the funding tables (``FundingTables`` among ``DuckDBStore``'s bases).
tests/funding/test_permissions.py runs these rows against an app with the router included.

Funds, instruments and plans are platform-level (reads of fund terms are open); projects are city data
(city admins write them, reads are scoped); MRV is written by the city's operators.
"""

from __future__ import annotations

import json

FUND = "mfund"
#              anon padmin a_admin a_oper a_analyst b_admin a_key device
WRITE_PRIV = "401  {ok}    {ok}     {ok}    403       404     {ok}   401"
WRITE_OPEN = "401  {ok}    403     403    403       {ok}     403   401"


def _body(obj):
    return json.dumps(obj).encode(), "application/json"


def ensure_fund(store) -> None:
    """The matrix's fund with a grant and a loan (created once)."""
    if store.get_fund(FUND) is None:
        store.put_fund({"id": FUND, "name": "Matrix fund", "base_currency": "JPY", "fx": {"USD": 150.0}})
        store.put_instrument({"id": "mgrant", "fund_id": FUND, "name": "Grant", "kind": "grant", "currency": "JPY",
                              "cap": 1e9, "max_share": 1.0})
        store.put_instrument({"id": "mloan", "fund_id": FUND, "name": "Loan", "kind": "loan", "currency": "USD",
                              "cap": 1e6, "interest_rate": 0.05, "tenor_years": 10, "grace_years": 1,
                              "max_share": 0.7})


def project_fields(city: str) -> dict:
    return {"city": city, "name": "Matrix solar", "sector": "solar_pv", "capital_cost": 1e6, "currency": "USD",
            "annual_saving": 1e5, "lifetime_years": 20, "start_year": 2025, "annual_abatement": 800.0}


def funding_rows(ns: dict) -> dict:
    """The TABLE rows of the funding routes, built from the matrix module's namespace ``ns``."""
    Case, Route, Perm, reads = ns["Case"], ns["Route"], ns["Perm"], ns["reads"]
    PRIV, OPEN, OPEN_READ = ns["PRIV"], ns["OPEN"], ns["OPEN_READ"]
    platform_only, admin, every = ns["platform_only"], ns["admin"], ns["every"]

    def writes(ok: str) -> tuple:
        return (Case(PRIV, WRITE_PRIV.format(ok=ok)), Case(OPEN, WRITE_OPEN.format(ok=ok)))

    def fund(ctx) -> dict:
        ensure_fund(ctx.world.store)
        return {"fund_id": FUND}

    def instrument(ctx) -> dict:
        ensure_fund(ctx.world.store)
        return {"instrument_id": "mgrant"}

    def fresh_instrument(ctx) -> dict:
        ensure_fund(ctx.world.store)
        iid = f"minst-{ctx.n}"
        ctx.world.store.put_instrument({"id": iid, "fund_id": FUND, "name": "Spare", "kind": "equity",
                                        "currency": "JPY", "cap": 1.0, "max_share": 1.0})
        return {"instrument_id": iid}

    def fresh_project(ctx, *, status: str = "candidate") -> dict:
        pid = f"{ctx.target}-mproj-{ctx.n}"
        ctx.world.store.put_projects([{"id": pid, **project_fields(ctx.target), "status": status}])
        return {"project_id": pid}

    def fresh_plan(ctx) -> dict:
        from nagar.funding import service
        from nagar.funding.models import PlanRequest

        ensure_fund(ctx.world.store)
        plan = service.make_plan(ctx.world.store, request=PlanRequest(fund=FUND, budget=1.0), actor="matrix")
        return {"plan_id": plan["id"]}

    def fund_body(ctx):
        return _body({"id": f"mfund-{ctx.n}", "name": "New fund", "base_currency": "JPY", "fx": {"USD": 150}})

    def instrument_body(ctx):
        ensure_fund(ctx.world.store)
        return _body({"id": f"mnew-{ctx.n}", "fund_id": FUND, "name": "New grant", "kind": "grant",
                      "currency": "JPY", "cap": 1e6})

    return {
        ("GET", "/funding/funds"): Route(Perm.READ, (Case(None, OPEN_READ),)),
        ("POST", "/funding/funds"): Route(Perm.PLATFORM, (Case(None, platform_only("201")),), body=fund_body),
        ("GET", "/funding/funds/{fund_id}"): Route(Perm.READ, (Case(None, every("200")),), prepare=fund),
        ("PUT", "/funding/funds/{fund_id}"): Route(
            Perm.PLATFORM, (Case(None, platform_only("200")),), prepare=fund,
            body=lambda ctx: _body({"name": "Matrix fund", "base_currency": "JPY", "fx": {"USD": 150.0}})),
        ("GET", "/funding/funds/{fund_id}/instruments"): Route(Perm.READ, (Case(None, every("200")),),
                                                               prepare=fund),
        ("POST", "/funding/instruments"): Route(Perm.PLATFORM, (Case(None, platform_only("201")),),
                                                body=instrument_body),
        ("GET", "/funding/instruments/{instrument_id}"): Route(Perm.READ, (Case(None, every("200")),),
                                                               prepare=instrument),
        ("PUT", "/funding/instruments/{instrument_id}"): Route(
            Perm.PLATFORM, (Case(None, platform_only("200")),), prepare=instrument,
            body=lambda ctx: _body({"fund_id": FUND, "name": "Grant", "kind": "grant", "currency": "JPY",
                                    "cap": 1e9})),
        ("DELETE", "/funding/instruments/{instrument_id}"): Route(
            Perm.PLATFORM, (Case(None, platform_only("204")),), prepare=fresh_instrument),
        ("GET", "/funding/projects"): Route(Perm.READ, (Case(None, OPEN_READ),) + reads((("city", "{city}"),))),
        ("POST", "/funding/projects"): Route(
            Perm.ADMIN, admin("201"),
            body=lambda ctx: _body({"id": f"{ctx.target}-mnew-{ctx.n}", **project_fields(ctx.target)})),
        ("GET", "/funding/projects/{project_id}"): Route(Perm.READ, reads(), prepare=fresh_project),
        ("PUT", "/funding/projects/{project_id}"): Route(Perm.ADMIN, admin("200"), prepare=fresh_project,
                                                         body=lambda ctx: _body(project_fields(ctx.target))),
        ("DELETE", "/funding/projects/{project_id}"): Route(Perm.ADMIN, admin("204"), prepare=fresh_project),
        ("POST", "/funding/plan"): Route(Perm.PLATFORM, (Case(None, platform_only("200")),),
                                         body=lambda ctx: (ensure_fund(ctx.world.store),
                                                           _body({"fund": FUND, "budget": 1.0}))[1]),
        ("GET", "/funding/plans"): Route(Perm.PLATFORM, (Case(None, platform_only("200")),)),
        ("GET", "/funding/plans/{plan_id}"): Route(Perm.PLATFORM, (Case(None, platform_only("200")),),
                                                   prepare=fresh_plan),
        ("POST", "/funding/plans/{plan_id}/adopt"): Route(Perm.PLATFORM, (Case(None, platform_only("200")),),
                                                          prepare=fresh_plan),
        ("GET", "/funding/frontier"): Route(Perm.PLATFORM, (Case(None, platform_only("200"), (("fund", FUND),
                                                                                            ("points", "2"))),),
                                            prepare=lambda ctx: (ensure_fund(ctx.world.store), {})[1]),
        ("POST", "/funding/projects/{project_id}/mrv"): Route(
            Perm.WRITE, writes("200"), prepare=lambda ctx: fresh_project(ctx, status="funded"),
            body=lambda ctx: _body({"records": [{"year": 2025, "metric": "generation_kwh", "value": 1e6}]})),
        ("GET", "/funding/projects/{project_id}/mrv"): Route(
            Perm.READ, reads(), prepare=lambda ctx: fresh_project(ctx, status="funded")),
        ("GET", "/funding/mrv"): Route(Perm.READ, (Case(None, OPEN_READ),) + reads((("city", "{city}"),))),
    }
