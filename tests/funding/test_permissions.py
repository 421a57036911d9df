"""The funding rows of the permission matrix (tests/funding/matrix_rows.py) against an app with the
funding router, with the matrix's own world, callers and request builder (tests/security/test_matrix.py)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

import tests.security.test_matrix as M
from tests.funding.conftest import FStore, funding_app
from tests.funding.matrix_rows import funding_rows

ROWS = funding_rows(vars(M))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from datetime import datetime, timedelta, timezone

    from nagar.core.settings import Settings
    from nagar.security import service as security
    from nagar.security.permissions import Principal
    from tests.conftest import make_user, obs_table

    tmp = tmp_path_factory.mktemp("fmatrix")
    store = FStore(tmp / "matrix.duckdb")
    settings = Settings(secret_key="x" * 32, db=tmp / "unused.duckdb", ip_rate_per_s=1e6, ip_burst=10**6,
                        key_rate_per_s=1e6, key_burst=10**6)
    for city, fields in M.CITY_FIELDS.items():
        store.upsert_city(dict(id=city, **fields))
    for st, fields in M.STATION_FIELDS.items():
        store.upsert_station(dict(id=st, **fields))
    now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    store.write_observations(obs_table([(M.PRIV_ST, "pm25", now - timedelta(hours=1), 20.0)]))
    users = {
        "padmin": make_user(store, "padmin", platform_admin=True),
        "a_admin": make_user(store, "a_admin", roles={M.PRIV: "city_admin"}),
        "a_oper": make_user(store, "a_oper", roles={M.PRIV: "operator"}),
        "a_analyst": make_user(store, "a_analyst", roles={M.PRIV: "analyst"}),
        "b_admin": make_user(store, "b_admin", roles={M.OPEN: "city_admin"}),
    }
    app = funding_app(settings, store)
    u = users["a_oper"]
    key = security.create_api_key(store, principal=Principal(kind="user", user_id=u["id"], username=u["username"]),
                                  name="matrix", expires_days=None)["key"]
    system = Principal(kind="user", user_id=users["padmin"]["id"], username="padmin", platform_admin=True)
    dev = {}
    for city, st in ((M.PRIV, M.PRIV_ST), (M.OPEN, M.OPEN_ST)):
        row = security.create_device_key(store, secret=app.state.secret, principal=system,
                                         station=store.get_station(st))
        dev[city] = (row["id"], row["secret"])
    with TestClient(app) as client:
        w = M.World(app=app, store=store, client=client, users=users, api_key=key, device_keys=dev, system=system)
        w.doc = app.openapi()
        yield w
    store.close()


def _params():
    for (method, path), route in ROWS.items():
        for case in route.cases:
            for principal, code in case.expected().items():
                yield pytest.param(method, path, case, principal, code,
                                   id=f"{method} {path} [{case.target or '-'}] {principal}")


@pytest.mark.parametrize("method, path, case, principal, expected", list(_params()))
def test_funding_matrix(world, monkeypatch, method, path, case, principal, expected):
    monkeypatch.setitem(M.TABLE, (method, path), ROWS[(method, path)])
    ctx, r = M.send(world, method, path, case, principal)
    what = f"{principal} {method} {r.request.url}: got {r.status_code} {r.text[:300]}"
    assert r.status_code == int(expected), f"{what}; expected {expected}"
    if 200 <= r.status_code < 300 and principal in M.CANNOT_SEE_PRIV:
        assert M.PRIV not in r.text, f"{what}; leaks the private city"
    elif r.status_code >= 400:
        assert r.json().get("error") and r.json().get("message"), what


def test_rows_cover_the_funding_routes(world):
    ops = {(m.upper(), p[len(M.API):]): op for p, ops in world.doc["paths"].items() for m, op in ops.items()
           if p.startswith(M.API + "/funding")}
    assert set(ops) == set(ROWS)
    assert {k: op[M.PERMISSION_KEY] for k, op in ops.items()} == {k: r.perm.value for k, r in ROWS.items()}
