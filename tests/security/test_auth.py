"""Accounts, tokens, API keys, roles and city tenancy, device signatures and the dashboard session."""

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from nagar.api.app import create_app
from nagar.core.settings import Settings
from nagar.security import audit
from nagar.security.devices import sign
from nagar.security.tokens import device_secret
from nagar.store.duckdb import DuckDBStore
from tests.conftest import _PASSWORD, DHAKA, bearer, make_user, obs_table, utc

CTG = dict(id="ctg", name="Chattogram", country="BD", timezone="Asia/Dhaka", lat=22.36, lon=91.78,
           standard="us-epa-2024", open_data=True)


@pytest.fixture
def env(tmp_path):
    store = DuckDBStore(tmp_path / "s.duckdb")
    store.upsert_city(DHAKA)  # private
    store.upsert_city(CTG)  # open data
    store.upsert_station(dict(id="dh1", city="dhaka", name="D1", lat=23.7, lon=90.4, parameters=["pm25"]))
    store.upsert_station(dict(id="ct1", city="ctg", name="C1", lat=22.3, lon=91.8, parameters=["pm25"]))
    t = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    store.write_observations(obs_table([("dh1", "pm25", t, 50.0), ("ct1", "pm25", t, 20.0)]))
    settings = Settings(db=tmp_path / "unused.duckdb", secret_key="k" * 40, login_max_failures=3,
                        login_lock_minutes=1)
    app = create_app(settings, store=store)
    users = {
        "admin": make_user(store, "admin", platform_admin=True),
        "dh_admin": make_user(store, "dh_admin", roles={"dhaka": "city_admin"}),
        "dh_op": make_user(store, "dh_op", roles={"dhaka": "operator"}),
        "dh_an": make_user(store, "dh_an", roles={"dhaka": "analyst"}),
        "ct_an": make_user(store, "ct_an", roles={"ctg": "analyst"}),
    }
    with TestClient(app, base_url="https://testserver") as client:  # Secure cookies need https
        yield app, store, client, users, t
    store.close()


def hdr(app, users, name):
    return bearer(app, users[name])


def login(client, username, password=_PASSWORD):
    return client.post("/api/v1/auth/token", data={"username": username, "password": password})


def test_login_refresh_logout(env):
    app, store, client, users, _ = env
    r = login(client, "dh_an")
    assert r.status_code == 200, r.text
    pair = r.json()
    h = {"Authorization": f"Bearer {pair['access_token']}"}
    me = client.get("/api/v1/me", headers=h).json()
    assert me["username"] == "dh_an" and me["roles"] == {"dhaka": "analyst"}
    # refresh rotates: the old refresh token is spent
    r2 = client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert r2.status_code == 200
    again = client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert again.status_code == 401 and "already used" in again.json()["message"]
    # an access token is not a refresh token, and vice versa
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": pair["access_token"]}).status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {pair['refresh_token']}"}).status_code == 401
    # logout revokes the access token
    assert client.post("/api/v1/auth/logout", headers=h).status_code == 204
    assert client.get("/api/v1/me", headers=h).status_code == 401
    actions = [e["action"] for e in store.audit_entries()]
    assert "login.success" in actions and "logout" in actions


def test_wrong_password_and_lockout_with_back_off(env):
    app, store, client, users, _ = env
    for _ in range(3):
        r = login(client, "dh_op", "not the password!")
        assert r.status_code == 401 and r.json()["message"] == "wrong username or password"
    # locked now: even the right password is refused, and the answer says for how long
    r = login(client, "dh_op")
    assert r.status_code == 401 and "locked" in r.json()["message"]
    u = store.get_user(username="dh_op")
    first_lock = u["locked_until"]
    assert timedelta(seconds=50) < first_lock - datetime.now(timezone.utc) <= timedelta(minutes=1)
    # once the lock has passed, another failure doubles it (2 minutes)
    store.update_user(u["id"], locked_until=datetime.now(timezone.utc) - timedelta(seconds=1))
    assert login(client, "dh_op", "still wrong pw!!").status_code == 401
    u = store.get_user(username="dh_op")
    assert timedelta(minutes=1, seconds=50) < u["locked_until"] - datetime.now(timezone.utc) <= timedelta(minutes=2)
    # unknown users get the same answer as a wrong password
    assert login(client, "nobody", "whatever-password").json()["message"] == "wrong username or password"
    assert [e["action"] for e in store.audit_entries()].count("login.failure") >= 5


def test_invalid_credentials_are_401_not_anonymous(env):
    app, store, client, users, _ = env
    assert client.get("/api/v1/cities", headers={"Authorization": "Bearer nonsense"}).status_code == 401
    assert client.get("/api/v1/cities", headers={"X-API-Key": "nagar_abc.def"}).status_code == 401
    assert client.get("/api/v1/cities", headers={"X-API-Key": "garbage"}).status_code == 401
    forged = bearer(app, users["admin"])["Authorization"][:-3] + "abc"
    assert client.get("/api/v1/cities", headers={"Authorization": forged}).status_code == 401


def test_tenancy_reads(env):
    app, store, client, users, _ = env
    anon = [c["id"] for c in client.get("/api/v1/cities").json()["items"]]
    assert anon == ["ctg"]  # only the open city
    assert client.get("/api/v1/cities/dhaka").status_code == 404
    assert client.get("/api/v1/stations/dh1").status_code == 404
    assert client.get("/api/v1/observations", params={"station": "dh1"}).status_code == 404
    assert client.get("/api/v1/aqi/latest", params={"city": "dhaka"}).status_code == 404
    # no leak through unfiltered listings either
    assert {r["station"] for r in client.get("/api/v1/observations").json()["items"]} == {"ct1"}
    dh = hdr(app, users, "dh_an")
    assert [c["id"] for c in client.get("/api/v1/cities", headers=dh).json()["items"]] == ["ctg", "dhaka"]
    assert client.get("/api/v1/observations", params={"station": "dh1"}, headers=dh).json()["count"] == 1
    ct = hdr(app, users, "ct_an")
    assert client.get("/api/v1/stations/dh1", headers=ct).status_code == 404


def test_tenancy_writes(env):
    app, store, client, users, t = env
    t2 = (t + timedelta(minutes=30)).isoformat()
    rows = [{"station": "dh1", "parameter": "pm25", "time": t2, "value": 60.0, "unit": "µg/m³"},
            {"station": "ct1", "parameter": "pm25", "time": t2, "value": 70.0, "unit": "µg/m³"}]
    assert client.post("/api/v1/observations", json=rows).status_code == 401
    assert client.post("/api/v1/observations", json=rows, headers=hdr(app, users, "dh_an")).status_code == 403
    r = client.post("/api/v1/observations", json=rows, headers=hdr(app, users, "dh_op")).json()
    assert r["inserted"] == 1 and r["rejected"] == 1
    assert r["errors"][0] == {"index": 1, "field": "station", "reason": "unknown station 'ct1'"}
    assert store.stats().observations == 3
    # stations: only a city admin of that city; another city's admin learns nothing about private cities
    st = {"id": "dh2", "city": "dhaka", "name": "D2", "lat": 23.7, "lon": 90.4}
    assert client.post("/api/v1/stations", json=st, headers=hdr(app, users, "dh_op")).status_code == 403
    assert client.post("/api/v1/stations", json=st, headers=hdr(app, users, "ct_an")).status_code == 403
    assert client.post("/api/v1/stations", json=st, headers=hdr(app, users, "dh_admin")).status_code == 201
    ct_admin = make_user(store, "ct_admin", roles={"ctg": "city_admin"})
    assert client.post("/api/v1/stations", json=st, headers=bearer(app, ct_admin)).status_code == 404
    assert client.post("/api/v1/cities", json={"id": "x", "name": "X", "country": "BD", "timezone": "UTC",
                                                "lat": 0, "lon": 0}, headers=hdr(app, users, "dh_admin")).status_code == 403


def test_roles_are_granted_by_city_admins_and_audited(env):
    app, store, client, users, _ = env
    h = hdr(app, users, "dh_admin")
    r = client.put("/api/v1/cities/dhaka/roles/ct_an", json={"role": "operator"}, headers=h)
    assert r.status_code == 200 and r.json()["roles"] == {"ctg": "analyst", "dhaka": "operator"}
    assert client.put("/api/v1/cities/ctg/roles/dh_an", json={"role": "operator"}, headers=h).status_code == 403
    assert client.put("/api/v1/cities/dhaka/roles/dh_admin", json={"role": None}, headers=h).status_code == 403
    assert client.put("/api/v1/cities/dhaka/roles/ct_an", json={"role": "emperor"}, headers=h).status_code == 422
    entries = client.get("/api/v1/audit", params={"city": "dhaka"}, headers=h).json()["items"]
    grant = [e for e in entries if e["action"] == "role.grant"][-1]
    assert grant["target"] == "user:ct_an" and grant["details"] == {"role": "operator"}
    assert client.get("/api/v1/audit", params={"city": "ctg"}, headers=h).status_code == 403
    assert client.get("/api/v1/audit", headers=h).status_code == 422
    assert client.get("/api/v1/audit", params={"city": "dhaka"}, headers=hdr(app, users, "dh_op")).status_code == 403
    assert audit.verify_store(store).ok


def test_api_keys_shown_once_revocable_and_expiring(env):
    app, store, client, users, _ = env
    h = hdr(app, users, "dh_op")
    r = client.post("/api/v1/keys", json={"name": "logger", "expires_days": 30}, headers=h)
    assert r.status_code == 201
    key = r.json()["key"]
    assert "key" not in client.get("/api/v1/keys", headers=h).json()["items"][0]
    assert key.split(".")[1] not in json.dumps([dict(r) for r in store._rows("SELECT * FROM api_keys")], default=str)
    kh = {"X-API-Key": key}
    assert client.get("/api/v1/me", headers=kh).json()["username"] == "dh_op"
    assert client.post("/api/v1/keys", json={"name": "k2"}, headers=kh).status_code == 403  # keys can't mint keys
    key_id = r.json()["id"]
    store.update_api_key(key_id, expires_at=datetime.now(timezone.utc) - timedelta(seconds=1))
    assert client.get("/api/v1/me", headers=kh).json()["message"] == "API key expired"
    store.update_api_key(key_id, expires_at=None)
    assert client.delete(f"/api/v1/keys/{key_id}", headers=h).status_code == 204
    assert client.get("/api/v1/me", headers=kh).json()["message"] == "API key revoked"
    assert client.delete(f"/api/v1/keys/{key_id}", headers=hdr(app, users, "dh_an")).status_code == 404


def test_password_change(env):
    app, store, client, users, _ = env
    h = hdr(app, users, "dh_an")
    bad = client.post("/api/v1/auth/password", json={"old_password": "wrong-old-pass", "new_password": "n" * 4 + "ew-pass-1"}, headers=h)
    assert bad.status_code == 403
    weak = client.post("/api/v1/auth/password", json={"old_password": _PASSWORD, "new_password": "short"}, headers=h)
    assert weak.status_code == 422
    ok = client.post("/api/v1/auth/password", json={"old_password": _PASSWORD, "new_password": "brand new passphrase"}, headers=h)
    assert ok.status_code == 204
    assert login(client, "dh_an").status_code == 401
    assert login(client, "dh_an", "brand new passphrase").status_code == 200


# devices --------------------------------------------------------------------------------------------
def device_key(client, app, users, station="dh1"):
    r = client.post(f"/api/v1/stations/{station}/device-keys", headers=hdr(app, users, "dh_admin"))
    assert r.status_code == 201, r.text
    return r.json()


def push(client, key_id, secret, rows, *, ts=None, nonce=None, signature=None):
    body = json.dumps(rows).encode()
    ts = str(int(time.time()) if ts is None else ts)
    nonce = nonce or f"n{time.time_ns()}"
    sig = signature or sign(secret, timestamp=ts, nonce=nonce, body=body)
    return client.post("/api/v1/devices/observations", content=body, headers={
        "content-type": "application/json", "X-Nagar-Key": key_id, "X-Nagar-Timestamp": ts,
        "X-Nagar-Nonce": nonce, "X-Nagar-Signature": sig})


def test_device_push_replay_expiry_forgery_and_other_stations(env):
    app, store, client, users, t = env
    k = device_key(client, app, users)
    assert k["secret"] == device_secret("k" * 40, k["id"])
    t2 = (t + timedelta(minutes=10)).isoformat()
    rows = [{"station": "dh1", "parameter": "pm25", "time": t2, "value": 33.0, "unit": "µg/m³"},
            {"station": "ct1", "parameter": "pm25", "time": t2, "value": 1.0, "unit": "µg/m³"}]
    r = push(client, k["id"], k["secret"], rows, nonce="fixed-nonce-0001")
    assert r.status_code == 200, r.text
    assert r.json()["inserted"] == 1
    assert r.json()["errors"] == [{"index": 1, "field": "station", "reason": "this device may only write station 'dh1'"}]
    # replay of the very same request
    again = push(client, k["id"], k["secret"], rows, nonce="fixed-nonce-0001")
    assert again.status_code == 401 and "replayed" in again.json()["message"]
    # stale and future timestamps
    assert "timestamp" in push(client, k["id"], k["secret"], rows, ts=int(time.time()) - 301).json()["message"]
    assert push(client, k["id"], k["secret"], rows, ts=int(time.time()) + 400).status_code == 401
    # forged: signed with a wrong secret, or the body changed after signing
    assert push(client, k["id"], "not-the-secret", rows).json()["message"] == "bad signature"
    body_sig = sign(k["secret"], timestamp=str(int(time.time())), nonce="n-tampered-1", body=b"[]")
    assert push(client, k["id"], k["secret"], rows, nonce="n-tampered-1", signature=body_sig).status_code == 401
    # a forged request does not burn the device's nonce
    assert push(client, k["id"], k["secret"], [], nonce="n-tampered-1").status_code == 200
    # revoked
    assert client.delete(f"/api/v1/stations/dh1/device-keys/{k['id']}", headers=hdr(app, users, "dh_admin")).status_code == 204
    assert "revoked" in push(client, k["id"], k["secret"], rows).json()["message"]
    assert store.stats().observations == 3
    assert any(e["actor"] == f"device:{k['id']}" for e in store.audit_entries())


def test_only_the_city_admin_manages_device_keys(env):
    app, store, client, users, _ = env
    assert client.post("/api/v1/stations/dh1/device-keys", headers=hdr(app, users, "dh_op")).status_code == 403
    assert client.post("/api/v1/stations/dh1/device-keys", headers=hdr(app, users, "ct_an")).status_code == 403
    ct_admin = make_user(store, "ct_admin", roles={"ctg": "city_admin"})
    assert client.post("/api/v1/stations/dh1/device-keys", headers=bearer(app, ct_admin)).status_code == 404


# dashboard session ------------------------------------------------------------------------------------
def test_dashboard_sign_in_session_and_csrf(env):
    app, store, client, users, _ = env
    page = client.get("/login")
    assert page.status_code == 200 and 'name="csrf_token"' in page.text
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    # a form without the matching token is refused
    r = client.post("/login", data={"username": "dh_an", "password": _PASSWORD, "csrf_token": "forged"},
                    follow_redirects=False)
    assert r.status_code == 403
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    r = client.post("/login", data={"username": "dh_an", "password": _PASSWORD, "csrf_token": token},
                    follow_redirects=False)
    assert r.status_code == 303
    cookie = r.headers.get_list("set-cookie")
    session = [c for c in cookie if c.startswith("nagar_session=")][0].lower()
    assert "httponly" in session and "samesite=strict" in session and "secure" in session
    sess = r.cookies["nagar_session"]
    csrf = r.cookies["nagar_csrf"]
    client.cookies.set("nagar_session", sess)
    # the session reads private city data
    assert [c["id"] for c in client.get("/api/v1/cities").json()["items"]] == ["ctg", "dhaka"]
    assert "Signed in as" in client.get("/").text
    # unsafe methods with a session need the CSRF header
    assert client.post("/api/v1/keys", json={"name": "x"}).status_code == 403
    assert client.post("/api/v1/keys", json={"name": "x"}, headers={"X-CSRF-Token": csrf}).status_code == 201
    # sign out: the form needs the token too; afterwards the cookie is dead even if replayed
    assert client.post("/logout", data={"csrf_token": "nope"}, follow_redirects=False).status_code == 403
    assert client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    client.cookies.set("nagar_session", sess)
    assert client.get("/api/v1/me").status_code == 401


def test_per_account_rate_limit_answers_429_with_retry_after(tmp_path):
    store = DuckDBStore(tmp_path / "r.duckdb")
    store.upsert_city(CTG)
    app = create_app(Settings(secret_key="r" * 40, key_rate_per_s=0.01, key_burst=2), store=store)
    h = bearer(app, make_user(store, "busy", roles={"ctg": "analyst"}))
    with TestClient(app) as client:
        assert [client.get("/api/v1/cities", headers=h).status_code for _ in range(2)] == [200, 200]
        r = client.get("/api/v1/cities", headers=h)
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        assert r.json()["error"] == "rate_limited"
        # anonymous callers are limited per IP, not by this account's bucket
        assert client.get("/api/v1/cities").status_code == 200
    store.close()


def test_login_with_a_json_body_says_form_fields_are_expected(env):
    app, store, client, users, _ = env
    r = client.post("/api/v1/auth/token", json={"username": "dh_an", "password": _PASSWORD})
    assert r.status_code == 422 and "username: Field required" not in r.json()["message"]
    assert "form fields (username, password)" in r.json()["message"] and "not a JSON body" in r.json()["message"]
    r = client.post("/api/v1/auth/token", data={"username": "dh_an"})  # form, but incomplete: the usual answer
    assert r.status_code == 422 and r.json()["message"] == "password: Field required"
    r = client.post("/api/v1/keys", json={"nam": "x"}, headers=hdr(app, users, "dh_an"))
    assert r.status_code == 422 and "form fields" not in r.json()["message"]  # JSON routes unchanged


def test_token_endpoint_reads_a_raw_utf8_password_like_its_escaped_form(env):
    """A form body is UTF-8 by the URL Standard (section 5.1, urlencoded parsing): ``curl -d
    'password=পাসওয়ার্ড'`` (raw bytes) and ``--data-urlencode`` (%XX escapes) send the same password.
    Starlette alone read raw bytes as Latin-1, so the raw form got a 401 and counted towards lock-out."""
    from nagar.security.passwords import hash_password

    app, store, client, users, _ = env
    password = "ঢাকা-বায়ু-২০৪১"
    user = store.create_user(username="bn_user", password_hash=hash_password(password),
                             now=datetime.now(timezone.utc))
    store.set_grant(user_id=user["id"], city="dhaka", role="analyst")
    raw = f"username=bn_user&password={password}".encode()
    r = client.post("/api/v1/auth/token", content=raw,
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200, r.text
    assert client.post("/api/v1/auth/token", data={"username": "bn_user", "password": password}).status_code == 200
    wrong = "username=bn_user&password=".encode() + password.encode("utf-16-le")
    assert client.post("/api/v1/auth/token", content=wrong,
                       headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 401
