import pytest

from nagar.core.errors import Conflict, InvalidInput, NotFound
from nagar.funding import service
from nagar.funding.models import FundCreate, InstrumentCreate, MrvRecord, PlanRequest, ProjectBase, ProjectCreate


def _setup(store):
    service.create_fund(store, fund=FundCreate(id="f", name="F", base_currency="JPY", fx={"USD": 150, "BDT": 1.25}))
    service.create_instrument(store, instrument=InstrumentCreate(
        id="grant", fund_id="f", name="Grant", kind="grant", currency="JPY", cap=3e9))
    loan = service.create_instrument(store, instrument=InstrumentCreate(
        id="loan", fund_id="f", name="Loan", kind="loan", currency="USD", cap=20e6, interest_rate=0.05,
        tenor_years=15, grace_years=3, max_share=0.7))
    return loan


def _project(pid, city="dhaka", **kw):
    base = dict(id=pid, city=city, name=pid, sector="solar_pv", capital_cost=10e6, currency="USD",
                annual_saving=1.2e6, lifetime_years=25, start_year=2024, annual_abatement=9000.0)
    return ProjectCreate(**{**base, **kw})


def test_fund_instrument_project_roundtrip(fstore):
    loan = _setup(fstore)
    assert loan["cap_base"] == 3e9  # 20 M USD at 150
    assert loan["annual_debt_service_per_unit"] == pytest.approx(0.112825, rel=1e-5)  # CRF(5 %, 12)
    with pytest.raises(Conflict):
        service.create_fund(fstore, fund=FundCreate(id="f", name="again"))
    with pytest.raises(InvalidInput, match="no exchange rate for EUR"):
        service.create_instrument(fstore, instrument=InstrumentCreate(
            id="eur", fund_id="f", name="E", kind="grant", currency="EUR", cap=1))
    service.put_projects(fstore, projects=[_project("a", requires=["b"]), _project("b", city="chattogram",
                                                                                   currency="BDT", capital_cost=1.2e9,
                                                                                   eligible_instruments=["grant"])])
    a = fstore.get_project("a")
    assert a["requires"] == ["b"] and a["status"] == "candidate" and a["updated_at"].tzinfo is not None
    assert [p["id"] for p in service.list_projects(fstore, scope=frozenset({"chattogram"}))] == ["b"]
    with pytest.raises(NotFound):
        service.list_projects(fstore, city="dhaka", scope=frozenset({"chattogram"}))
    with pytest.raises(InvalidInput, match="unknown project 'zz'"):
        service.create_project(fstore, project=_project("c", excludes=["zz"]))
    with pytest.raises(InvalidInput, match="unknown city"):
        service.create_project(fstore, project=_project("c", city="nowhere"))
    with pytest.raises(Conflict, match="belongs to city"):
        service.put_projects(fstore, projects=[_project("a", city="chattogram")])
    with pytest.raises(Conflict, match="link to 'b'"):
        service.delete_project(fstore, project_id="b")
    base = ProjectBase(**{k: v for k, v in _project("a").model_dump().items() if k != "id"})
    assert service.replace_project(fstore, project_id="a", project=base)["requires"] == []
    service.delete_project(fstore, project_id="b")
    assert fstore.get_project("b") is None


def test_plan_adopt_and_mrv(fstore):
    _setup(fstore)
    service.put_projects(fstore, projects=[_project("s1"), _project("s2", annual_abatement=8000.0),
                                           _project("w1", city="chattogram", sector="wastewater", currency="BDT",
                                                    capital_cost=1.2e9, annual_saving=-1e6, annual_abatement=5000.0,
                                                    lifetime_years=30, water=500.0)])
    # money: grant 3 bn JPY, loan 3 bn JPY (70 % of a project at most). s1, s2 cost 1.5 bn JPY each; the loan
    # carries 1.05 bn of each (saving 180 M JPY/yr covers 1.05 bn x 0.1128 = 118 M), the grant the rest;
    # w1 (1.5 bn JPY, no saving) only the grant: 0.45 x 2 + 1.5 = 2.4 bn of grant <= 3 bn -> all three
    plan = service.make_plan(fstore, request=PlanRequest(fund="f", mip_rel_gap=0), actor="t")
    assert plan["status"] == "optimal" and sorted(plan["portfolio"]["chosen"]) == ["s1", "s2", "w1"]
    items = {it["project"]: it for it in plan["portfolio"]["items"]}
    assert sum(x["amount_base"] for x in items["s1"]["split"]) == pytest.approx(1.5e9)
    loan_part = next(x for x in items["s1"]["split"] if x["instrument"] == "loan")
    assert loan_part["amount"] == pytest.approx(7e6) and loan_part["currency"] == "USD"
    assert items["s1"]["dscr"] == pytest.approx(180e6 / (1.05e9 * 0.1128254), rel=1e-4)
    assert plan["comparison"]["extra_abatement_t"] >= 0
    # the plan is kept; adopting it funds the projects and uses up the instruments
    assert fstore.get_plan(plan["id"])["status"] == "optimal"
    out = service.adopt_plan(fstore, plan_id=plan["id"], actor="t")
    assert out["projects"] == 3 and fstore.get_project("w1")["status"] == "funded"
    with pytest.raises(Conflict, match="was adopted"):
        service.adopt_plan(fstore, plan_id=plan["id"], actor="t")
    with pytest.raises(Conflict, match="is funded"):
        service.delete_project(fstore, project_id="s1")
    # MRV: metered generation of s1 on Bangladesh's default grid factor
    n = service.record_mrv(fstore, project_id="s1", actor="t", records=[
        MrvRecord(year=2024, metric="generation_kwh", value=12e6), MrvRecord(year=2025, metric="generation_kwh",
                                                                             value=14e6, grid_factor=0.5)])
    assert n == 2
    rep = service.mrv_report(fstore, project_id="s1")
    from nagar.funding.mrv import grid_factors

    assert rep["years"][0]["realised_t"] == pytest.approx(12e6 * grid_factors()["BD"] / 1000)
    assert rep["years"][1]["realised_t"] == pytest.approx(7000.0)  # 14 GWh x 0.5 t/MWh
    assert rep["planned_to_date_t"] == 18000.0
    # re-recording a year replaces it
    service.record_mrv(fstore, project_id="s1", actor="t",
                       records=[MrvRecord(year=2025, metric="generation_kwh", value=16e6, grid_factor=0.5)])
    assert service.mrv_report(fstore, project_id="s1")["years"][1]["realised_t"] == pytest.approx(8000.0)
    summary = service.mrv_summary(fstore)
    assert {i["project"] for i in summary["items"]} == {"s1", "s2", "w1"}
    # a new plan has nothing left to spend
    again = service.make_plan(fstore, request=PlanRequest(fund="f", save=False), actor="t")
    assert again["portfolio"]["chosen"] == [] and again["id"] is None


def test_infeasible_plan_is_a_clear_error(fstore):
    _setup(fstore)
    service.put_projects(fstore, projects=[_project("s1")])
    with pytest.raises(InvalidInput) as e:
        service.make_plan(fstore, request=PlanRequest(fund="f", city_floor=5e9), actor="t")
    assert "floor of dhaka" in e.value.message and e.value.field in ("city_floor", "budget")
    assert e.value.details["binding"]
    with pytest.raises(NotFound):
        service.make_plan(fstore, request=PlanRequest(fund="nope"), actor="t")


def test_mrv_refused_for_candidates(fstore):
    _setup(fstore)
    service.put_projects(fstore, projects=[_project("s1")])
    with pytest.raises(Conflict, match="not funded"):
        service.record_mrv(fstore, project_id="s1", actor="t",
                           records=[MrvRecord(year=2024, metric="generation_kwh", value=1.0)])


def test_demo_loader(fstore):
    from nagar.funding.demo import load_funding_demo

    out = load_funding_demo(fstore, seed=3, per_city=(3, 4))
    assert out["cities_created"] == 26 and 28 * 3 <= out["projects"] <= 28 * 4
    assert fstore.get_city("dhaka")["standard"] == "us-epa-2024"  # existing cities untouched
    new = fstore.get_city("ho-chi-minh-city")
    assert new["timezone"] == "Asia/Ho_Chi_Minh" and new["open_data"] is True
    assert out["plan"] and out["funded"] > 0 and out["mrv_records"] > 0
    assert sum(a["amount_base"] for a in fstore.list_allocations()) <= 60e9 * (1 + 1e-9)
    again = load_funding_demo(fstore, seed=3, per_city=(3, 4))
    assert again["plan"] is None and again["cities_created"] == 0  # idempotent: no second tranche
    ratio = service.mrv_summary(fstore)["ratio"]
    assert 0.7 < ratio < 1.1
