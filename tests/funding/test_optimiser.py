"""The optimiser against brute-force enumeration on small cases (every subset, each checked with an
independent LP for the split across instruments), plus named cases for every rule."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import linprog

from nagar.funding.optimiser import Constraints, Instrument, check_links, compare, frontier, greedy, solve

EXACT = dict(mip_rel_gap=0.0)


def P(pid, city="c1", sector="s", cost=1.0, abate=1.0, life=1.0, **kw):
    return {"id": pid, "city": city, "sector": sector, "cost": cost, "annual_abatement": abate,
            "lifetime_years": life, **kw}


# brute force ---------------------------------------------------------------------------------------
def _financeable(projects, instruments, cons, chosen) -> bool:
    """Independent check: an LP over y_pi (explicit split, caps, shares, joint loan coverage)."""
    if not chosen:
        return True
    pairs = []
    for k in chosen:
        p = projects[k]
        for j, ins in enumerate(instruments):
            if ins.sectors is not None and p["sector"] not in ins.sectors:
                continue
            if p.get("eligible") and ins.id not in p["eligible"]:
                continue
            if ins.cap <= 0:
                continue
            pairs.append((k, j))
    if not pairs:
        return False
    m = len(pairs)
    a_eq = np.zeros((len(chosen), m))
    b_eq = np.array([projects[k]["cost"] for k in chosen], dtype=float)
    for c, (k, j) in enumerate(pairs):
        a_eq[chosen.index(k), c] = 1
    a_ub, b_ub = [], []
    for j, ins in enumerate(instruments):
        a_ub.append([1.0 if jj == j else 0.0 for (_k, jj) in pairs])
        b_ub.append(ins.cap)
    for k in chosen:
        row = [instruments[j].debt_service_factor if (kk == k and instruments[j].kind == "loan") else 0.0
               for (kk, j) in pairs]
        if any(row):
            a_ub.append(row)
            b_ub.append(max(projects[k].get("annual_saving", 0.0), 0.0) / cons.min_dscr)
    bounds = [(0, instruments[j].max_share * projects[k]["cost"]) for (k, j) in pairs]
    res = linprog(np.zeros(m), A_ub=np.array(a_ub), b_ub=np.array(b_ub), A_eq=a_eq, b_eq=b_eq, bounds=bounds,
                  method="highs")
    return res.status == 0


def brute_force(projects, instruments, cons: Constraints):
    """(best objective, best set) over every subset satisfying every rule; (None, None) if none does."""
    n = len(projects)
    ids = [p["id"] for p in projects]
    caps = sum(i.cap for i in instruments)
    budget = caps if cons.budget is None else min(cons.budget, caps)
    life = [p["lifetime_years"] for p in projects]
    if cons.horizon_year is not None:
        life = [max(0, min(p["lifetime_years"], cons.horizon_year - p.get("start_year", 0) + 1)) for p in projects]
    w = [life[k] * (p["annual_abatement"] + cons.pm25_weight * p.get("pm25", 0) + cons.water_weight * p.get("water", 0))
         for k, p in enumerate(projects)]
    floor_cities = {projects[k]["city"] for k in _selectable(projects, instruments, cons, w)}
    best, best_set = None, None
    for r in range(n + 1):
        for subset in itertools.combinations(range(n), r):
            s = set(subset)
            if any(w[k] <= 0 for k in s):
                continue
            chosen_ids = {ids[k] for k in s}
            if any(q not in chosen_ids for k in s for q in projects[k].get("requires", [])):
                continue
            if any(q in chosen_ids for k in s for q in projects[k].get("excludes", [])):
                continue
            cost = sum(projects[k]["cost"] for k in s)
            if cost > budget + 1e-9:
                continue
            by_city, by_sector = {}, {}
            for k in s:
                by_city[projects[k]["city"]] = by_city.get(projects[k]["city"], 0) + projects[k]["cost"]
                by_sector[projects[k]["sector"]] = by_sector.get(projects[k]["sector"], 0) + projects[k]["cost"]
            if any(by_city.get(c, 0) < cons.city_floors.get(c, cons.city_floor) - 1e-9 for c in floor_cities):
                continue
            if cons.city_ceiling_share is not None and any(v > cons.city_ceiling_share * budget + 1e-9
                                                           for v in by_city.values()):
                continue
            lim = {s_: cons.sector_max_share[s_] * budget for s_ in cons.sector_max_share}
            for s_, v in cons.sector_max.items():
                lim[s_] = min(lim.get(s_, np.inf), v)
            if any(by_sector.get(s_, 0) > v + 1e-9 for s_, v in lim.items()):
                continue
            val = sum(w[k] for k in s)
            if best is not None and val <= best + 1e-9:
                continue
            if _financeable(projects, instruments, cons, sorted(s)):
                best, best_set = val, chosen_ids
    return best, best_set


def _closure(projects, k) -> set:
    ids = {p["id"]: p for p in projects}
    closure, stack = {projects[k]["id"]}, [projects[k]["id"]]
    while stack:
        for q in ids[stack.pop()].get("requires", []):
            if q not in closure:
                closure.add(q)
                stack.append(q)
    return closure


def _selectable(projects, instruments, cons, w) -> list[int]:
    """The rule for "a city with eligible projects": a project that could be chosen with what it
    requires, each member financeable on its own and with something to gain (abatement within the
    horizon, or weighted co-benefits), no two members excluding each other."""
    ids = [p["id"] for p in projects]
    alone = {ids[k] for k in range(len(projects))
             if _financeable(projects, instruments, cons, [k]) and w[k] > 0}
    out = []
    for k in range(len(projects)):
        c = _closure(projects, k)
        excl = {(p["id"], q) for p in projects for q in p.get("excludes", [])}
        if c <= alone and not any((a, b) in excl for a in c for b in c):
            out.append(k)
    return out


def _random_case(seed: int):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 8))
    cities = ["a", "b", "c"][: int(rng.integers(1, 4))]
    sectors = ["solar", "bus", "water"]
    projects = []
    for k in range(n):
        projects.append(P(f"p{k}", city=str(rng.choice(cities)), sector=str(rng.choice(sectors)),
                          cost=float(rng.integers(2, 12)), abate=float(rng.integers(1, 20)),
                          life=float(rng.integers(1, 4)), annual_saving=float(rng.integers(-2, 4)),
                          pm25=float(rng.integers(0, 3)), start_year=int(rng.integers(2024, 2028))))
    for k in range(n):
        if rng.random() < 0.25:
            projects[k]["requires"] = [f"p{int(rng.integers(0, n))}"]
        if rng.random() < 0.2:
            projects[k]["excludes"] = [f"p{int(rng.integers(0, n))}"]
        if rng.random() < 0.15:
            projects[k]["eligible"] = ["g"]
    two_loans = rng.random() < 0.4  # exercises the explicit formulation (joint coverage rows)
    instruments = [
        Instrument("g", "grant", float(rng.integers(5, 20)), sectors=frozenset({"bus", "water"}),
                   max_share=float(rng.choice([0.5, 1.0]))),
        Instrument("e", "equity", float(rng.integers(5, 20)), sectors=frozenset({"solar", "bus"}), max_share=0.6),
        Instrument("l", "loan", float(rng.integers(5, 20)), debt_service_factor=float(rng.choice([0.2, 0.5])),
                   max_share=0.8),
    ]
    if two_loans:
        instruments.append(Instrument("l2", "loan", float(rng.integers(3, 10)), debt_service_factor=0.3))
    cons = Constraints(
        budget=float(rng.integers(10, 40)) if rng.random() < 0.6 else None,
        city_floor=float(rng.choice([0, 0, 3, 6])),
        city_ceiling_share=float(rng.choice([0.5, 0.8])) if rng.random() < 0.4 else None,
        sector_max_share={"solar": 0.5} if rng.random() < 0.3 else {},
        sector_max={"bus": 10.0} if rng.random() < 0.3 else {},
        min_dscr=float(rng.choice([1.0, 1.5])),
        pm25_weight=float(rng.choice([0.0, 2.0])),
        horizon_year=2026 if rng.random() < 0.2 else None,
        **EXACT)
    return projects, instruments, cons


@pytest.mark.parametrize("seed", range(40))
def test_matches_brute_force(seed):
    projects, instruments, cons = _random_case(seed)
    best, best_set = brute_force(projects, instruments, cons)
    res = solve(projects, instruments, cons)
    if best is None:
        assert res.status == "infeasible", res.message
        assert res.binding and "binding" in res.message
        return
    assert res.status == "optimal", res.message
    assert res.objective == pytest.approx(best, rel=1e-9, abs=1e-9), (res.chosen, sorted(best_set))
    # the split reported is a real one: each chosen project fully financed, caps and shares kept
    alloc = res.allocations
    for pid in res.chosen:
        p = next(p for p in projects if p["id"] == pid)
        assert alloc.filter(alloc["project"] == pid)["amount"].sum() == pytest.approx(p["cost"], rel=1e-6)
    for ins in instruments:
        assert alloc.filter(alloc["instrument"] == ins.id)["amount"].sum() <= ins.cap * (1 + 1e-6)
    # greedy never beats the optimum when it meets the same rules
    g = greedy(projects, instruments, cons)
    if not g.violations:
        assert g.objective <= res.objective + 1e-9


def test_greedy_by_cost_per_tonne_is_provably_worse():
    # Budget 10 (one grant of 10). A costs 6 for 7 t (0.857 per t), B and C cost 5 for 5 t (1.0 per t).
    # Greedy takes A first (cheapest per tonne), then 4 is left and neither B nor C fits: 7 t.
    # The optimum is B + C: cost 10, 10 t. The exact portfolio buys 3 t (+42.9 %) more.
    projects = [P("A", cost=6, abate=7), P("B", cost=5, abate=5), P("C", cost=5, abate=5, city="c2")]
    inst = [Instrument("g", "grant", 10)]
    exact, g = solve(projects, inst, Constraints(**EXACT)), greedy(projects, inst)
    assert exact.chosen == ["B", "C"] and exact.objective == 10
    assert g.chosen == ["A"] and g.objective == 7
    cmp = compare(exact, g)
    assert cmp["extra_abatement_t"] == 3 and cmp["extra_pct"] == pytest.approx(300 / 7)
    assert brute_force(projects, inst, Constraints(**EXACT))[0] == 10


def test_greedy_by_mac_is_worse_too():
    # MAC ranking (levelised cost net of savings) puts X first: it saves money, so its MAC is negative,
    # but it costs 9 of the budget of 10 for 2 t. Y and Z (5 each, 6 t each, no savings) are left out.
    # MAC of X over 1 year at 6 %: (9 x 1.06 - 20) / 2 = -5.23 per t; Y, Z: 5 x 1.06 / 6 = 0.88 per t.
    projects = [P("X", cost=9, abate=2, annual_saving=20), P("Y", cost=5, abate=6), P("Z", cost=5, abate=6)]
    inst = [Instrument("g", "grant", 10)]
    g = greedy(projects, inst, rank_by="mac")
    assert g.chosen == ["X"] and g.objective == 2
    assert solve(projects, inst, Constraints(**EXACT)).objective == 12


def test_instrument_caps_and_shares():
    # grant covers at most half of any project; equity only the "solar" sector. Project B (bus, 10) needs
    # 5 from the grant and 5 from somewhere else: nothing else finances buses, so B is out.
    projects = [P("A", sector="solar", cost=10, abate=10), P("B", sector="bus", cost=10, abate=50)]
    inst = [Instrument("g", "grant", 100, max_share=0.5), Instrument("e", "equity", 6, sectors=frozenset({"solar"}))]
    res = solve(projects, inst, Constraints(**EXACT))
    assert res.chosen == ["A"] and "B" in res.excluded and "cannot be fully financed" in res.excluded["B"]
    split = {r["instrument"]: r["amount"] for r in res.allocations.to_dicts()}
    assert split == pytest.approx({"e": 6.0, "g": 4.0})  # equity before grant, the grant kept for later
    # the equity cap binds: two solar projects of 10 need 10 of equity together, only 6 are there
    projects = [P("A", sector="solar", cost=10, abate=10), P("A2", sector="solar", cost=10, abate=9)]
    assert solve(projects, inst, Constraints(**EXACT)).chosen == ["A"]


def test_city_floor_and_ceiling():
    # best by tonnes: X1, X2 in city x; the floor of 4 for city y forces Y (4 for 1 t) in
    projects = [P("X1", city="x", cost=5, abate=10), P("X2", city="x", cost=5, abate=9),
                P("Y", city="y", cost=4, abate=1)]
    inst = [Instrument("g", "grant", 10)]
    assert solve(projects, inst, Constraints(**EXACT)).chosen == ["X1", "X2"]
    res = solve(projects, inst, Constraints(city_floor=4, **EXACT))
    assert res.chosen == ["X1", "Y"] and res.by_city == {"x": 5.0, "y": 4.0}
    # ceiling: no city above 60 % of the budget of 10 -> x gets one project only
    res = solve(projects, inst, Constraints(city_ceiling_share=0.6, **EXACT))
    assert res.chosen == ["X1", "Y"]


def test_sector_limits():
    projects = [P("S1", sector="solar", cost=4, abate=10), P("S2", sector="solar", cost=4, abate=9),
                P("B", sector="bus", cost=4, abate=3)]
    inst = [Instrument("g", "grant", 12)]
    assert solve(projects, inst, Constraints(sector_max_share={"solar": 0.5}, **EXACT)).chosen == ["B", "S1"]
    assert solve(projects, inst, Constraints(sector_max={"solar": 8}, **EXACT)).chosen == ["B", "S1", "S2"]


def test_loan_coverage():
    # A loan at 10 %/yr debt service per unit (tenor 10, CRF ~0.163 -> use 0.2 for round numbers):
    # project L saves 1/yr, so it can borrow at most 1 / 0.2 = 5 of its cost 10. With DSCR 1.25: 4.
    projects = [P("L", cost=10, abate=5, annual_saving=1.0)]
    loan = Instrument("l", "loan", 100, debt_service_factor=0.2)
    grant = Instrument("g", "grant", 5)
    assert solve(projects, [loan], Constraints(**EXACT)).chosen == []  # 5 of 10 only: not financeable
    res = solve(projects, [loan, grant], Constraints(**EXACT))
    assert res.chosen == ["L"]
    assert {r["instrument"]: r["amount"] for r in res.allocations.to_dicts()} == pytest.approx({"l": 5.0, "g": 5.0})
    res = solve(projects, [loan, grant], Constraints(min_dscr=1.25, **EXACT))
    assert res.chosen == [] and "debt service coverage" in res.excluded["L"]
    # a project with a net operating cost can never borrow
    assert "cannot be fully financed" in solve([P("W", cost=1, annual_saving=-1)], [loan]).excluded["W"]
    assert "no eligible instrument" in solve([P("V", sector="x")], [Instrument("g", "grant", 5,
                                                                               sectors=frozenset({"y"}))]).excluded["V"]


def test_requires_excludes_and_cycles():
    projects = [P("A", cost=2, abate=1, requires=["B"]), P("B", cost=2, abate=1, requires=["A"]),  # cycle
                P("C", cost=3, abate=5), P("D", cost=3, abate=4, excludes=["C"])]
    inst = [Instrument("g", "grant", 6)]
    res = solve(projects, inst, Constraints(**EXACT))
    assert res.requires_cycles == [["A", "B"]]
    # all or none of the cycle: A + B (4, 2 t) + nothing else fits with C (3)... C alone 5 t, C + D excluded
    assert res.chosen == ["C"]
    res = solve(projects, [Instrument("g", "grant", 7)], Constraints(**EXACT))
    assert res.chosen == ["A", "B", "C"] and res.objective == 7
    # a project requiring (through a chain) something it excludes can never be chosen, and says why
    projects = [P("E", requires=["F"], excludes=["G"]), P("F", requires=["G"]), P("G"), P("H", requires=["E"])]
    links = check_links(projects)
    assert links.unselectable["E"] == "E requires G (E -> F -> G) but excludes it"
    assert "which exclude each other" in check_links(
        [P("J", requires=["K", "L"]), P("K", excludes=["L"]), P("L")]).unselectable["J"]
    res = solve(projects, [Instrument("g", "grant", 10)], Constraints(**EXACT))
    assert res.excluded["H"] == "H requires both E (H -> E) and G (H -> E -> F -> G), which exclude each other"
    assert res.chosen == ["F", "G"]


def test_unknown_links_are_refused():
    from nagar.core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="unknown project 'Z'"):
        solve([P("A", requires=["Z"])], [Instrument("g", "grant", 1)])


def test_infeasible_names_the_binding_constraint():
    projects = [P("A", city="a", cost=5), P("B", city="b", cost=5), P("C", city="b", cost=2, sector="bus")]
    inst = [Instrument("g", "grant", 8)]
    # floors total 12 > budget 8
    res = solve(projects, inst, Constraints(city_floor=6))
    assert res.status == "infeasible" and res.binding[0]["constraint"] == "budget"
    assert "city floors total 12" in res.message
    # a floor above the city's whole pipeline
    res = solve(projects, inst, Constraints(city_floors={"a": 6}))
    assert res.binding[0]["constraint"] == "floor of a" and "exceeds the whole of its fundable pipeline" in res.message
    # a floor above the ceiling
    res = solve(projects, inst, Constraints(city_floor=5, city_ceiling_share=0.5))
    assert any("above the city ceiling" in b["detail"] for b in res.binding)
    # needs the elastic model: b's floor of 7 needs B + C, but C excludes B
    projects[2]["excludes"] = ["B"]
    res = solve(projects, inst, Constraints(city_floors={"b": 7}))
    assert res.status == "infeasible" and res.binding[0]["constraint"] == "floor of b", res.binding
    assert "short by 2" in res.binding[0]["detail"]
    # ... or a cap: city b's floor of 8 needs both bus projects, 8 from the bus grant that has 5
    projects = [P("B1", city="b", cost=4, sector="bus"), P("B2", city="b", cost=4, sector="bus")]
    inst = [Instrument("g", "grant", 5, sectors=frozenset({"bus"})), Instrument("e", "equity", 10,
                                                                                 sectors=frozenset({"solar"}))]
    res = solve(projects, inst, Constraints(city_floor=8))
    assert res.status == "infeasible"
    assert {b["constraint"] for b in res.binding} & {"floor of b", "cap of g"}
    assert res.message.startswith("no portfolio meets every rule; binding: ")


def test_horizon_and_co_benefits():
    projects = [P("A", cost=5, abate=10, life=20, start_year=2030), P("B", cost=5, abate=8, life=20, start_year=2025,
                                                                      pm25=1.0)]
    inst = [Instrument("g", "grant", 5)]
    assert solve(projects, inst, Constraints(**EXACT)).chosen == ["A"]  # 200 t against 160 t
    # counted to 2035 only: A 6 years x 10 = 60, B 11 years x 8 = 88
    assert solve(projects, inst, Constraints(horizon_year=2035, **EXACT)).chosen == ["B"]
    # a PM2.5 weight of 3 t-eq per t: B = 20 x (8 + 3) = 220 > 200
    res = solve(projects, inst, Constraints(pm25_weight=3, **EXACT))
    assert res.chosen == ["B"] and res.objective == 220 and res.abatement_t == 160 and res.pm25_t == 20


def test_frontier_is_monotone_and_above_greedy():
    from nagar.funding.demo import DEMO_FUND, DEMO_INSTRUMENTS, demo_cities, generate_pipeline
    from nagar.funding.inputs import instruments_for, projects_frame

    rows = generate_pipeline(3, cities=demo_cities()[:6], per_city=8)
    frame = projects_frame(DEMO_FUND, rows)
    table = frontier(frame, instruments_for(DEMO_FUND, DEMO_INSTRUMENTS), Constraints(mip_rel_gap=1e-6), points=5)
    exact = table["exact_objective"].to_list()
    assert all(b >= a * (1 - 1e-6) for a, b in zip(exact, exact[1:]))
    assert all(e >= g * (1 - 1e-6) for e, g in zip(exact, table["greedy_objective"].to_list()))
    from nagar.funding.plot import frontier_svg

    svg = frontier_svg(table)
    assert svg.startswith("<svg") and svg.count("<polyline") == 2 and "<script" not in svg


def test_demo_pipeline_is_deterministic_and_plausible():
    from nagar.funding.demo import generate_pipeline

    a, b = generate_pipeline(5, per_city=(12, 20)), generate_pipeline(5, per_city=(12, 20))
    assert a == b and 28 * 12 <= len(a) <= 28 * 20
    assert {r["currency"] for r in a if r["city"] in ("dhaka", "chattogram")} == {"BDT"}
    solar = [r for r in a if r["sector"] == "solar_pv" and r["currency"] == "USD"]
    per_kw = [r["capital_cost"] / float(r["name"].rsplit("(", 1)[1].split(" ")[0].replace(",", "")) for r in solar]
    assert 590 <= min(per_kw) and max(per_kw) <= 1110  # the IRENA-based range, USD/kW
    ids = {r["id"] for r in a}
    assert all(q in ids for r in a for q in r["requires"] + r["excludes"])


def test_thread_count_can_change_between_solves():
    # HiGHS fixes its scheduler's thread count at the first run of the process; asking for another one
    # later used to make every run fail (status Notset) unless the scheduler is reset
    projects = [P("A", cost=6, abate=7), P("B", cost=5, abate=5), P("C", cost=5, abate=5, city="c2")]
    inst = [Instrument("g", "grant", 10)]
    for threads in (1, None, 2, 1):
        res = solve(projects, inst, Constraints(threads=threads, **EXACT))
        assert res.status == "optimal" and res.objective == 10, (threads, res.message)


def test_frontier_has_no_amount_where_there_is_no_portfolio():
    # floors x 5 + y 4 = 9. At a budget of 8 nothing meets them: exact and greedy are null, not 0 t.
    # At 9 the only portfolio meeting both floors is X2 + Y (5 + 1 = 6 t). Greedy serves x's floor with
    # its best project by cost per tonne, X1 (6 for 12 t), after which Y (4) no longer fits: it holds
    # 12 t by missing y's floor, so it is no answer to the plan and is not shown above the exact one.
    projects = [P("X1", city="x", cost=6, abate=12), P("X2", city="x", cost=5, abate=5),
                P("Y", city="y", cost=4, abate=1)]
    inst = [Instrument("g", "grant", 20)]
    cons = Constraints(city_floors={"x": 5, "y": 4}, **EXACT)
    assert greedy(projects, inst, Constraints(**{**cons.__dict__, "budget": 9.0})).abatement_t == 12
    rows = frontier(projects, inst, cons, budgets=[8.0, 9.0]).to_dicts()
    assert rows[0]["status"] == "infeasible" and rows[0]["exact_abatement_t"] is None
    assert rows[0]["exact_objective"] is None and rows[0]["committed"] is None
    assert rows[0]["greedy_abatement_t"] is None and rows[0]["greedy_violations"] >= 1
    assert rows[1]["status"] == "optimal" and rows[1]["exact_abatement_t"] == 6 and rows[1]["committed"] == 9
    assert rows[1]["greedy_abatement_t"] is None and rows[1]["greedy_violations"] == 1
    from nagar.funding.plot import frontier_svg

    assert frontier_svg(frontier(projects, inst, cons, budgets=[8.0, 9.0])).count("<circle") == 1
