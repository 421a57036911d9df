"""Routes for sign-in, tokens, accounts, roles, API keys, device keys, device pushes and the audit log."""

from __future__ import annotations

import json

from fastapi import APIRouter, Form, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from nagar.core.errors import InvalidInput, NotFound
from nagar.ingest.models import IngestResult, ObservationIn
from nagar.ingest.service import ingest_rows
from nagar.store.deps import SettingsDep, StoreDep

from . import devices, service
from .models import (ApiKeyCreate, ApiKeyCreated, ApiKeyRead, DeviceKeyCreated, DeviceKeyRead, PasswordChange,
                     RefreshIn, RoleGrant, TokenPair, UserCreate, UserRead)
from .permissions import Perm, PrincipalDep, check_city, require

router = APIRouter(prefix="/api/v1", tags=["security"])


def _client(request: Request) -> str:
    return request.client.host if request.client else ""


@router.post("/auth/token", summary="Sign in: OAuth2 password grant, returns bearer and refresh tokens",
             description="Send `username` and `password` as form fields (`application/x-www-form-urlencoded`, "
                         "not JSON), e.g. `curl -d username=alice -d password=...`. The answer's `access_token` "
                         "goes in `Authorization: Bearer <token>` for 15 minutes (`expires_in` seconds); trade "
                         "`refresh_token` at `POST /api/v1/auth/refresh` for a new pair. In /docs, *Authorize* "
                         "does this for you. Repeated failures lock the account for a while (401 says so). "
                         "For a machine, create an API key with `POST /api/v1/keys` instead.",
             **require(Perm.PUBLIC))
def login(request: Request, store: StoreDep, settings: SettingsDep,
          username: str = Form(...), password: str = Form(...)) -> TokenPair:
    user = service.authenticate(store, settings=settings, username=username, password=password,
                                client=_client(request))
    return TokenPair(**service.issue_pair(request.app.state.secret, settings, user))


@router.post("/auth/refresh", summary="Trade a refresh token for a new token pair",
             description="JSON body `{\"refresh_token\": ...}`. Refresh tokens rotate: the one sent is spent "
                         "(a second use answers 401) and the answer carries the next one.",
             **require(Perm.PUBLIC))
def refresh(body: RefreshIn, request: Request, store: StoreDep, settings: SettingsDep) -> TokenPair:
    return TokenPair(**service.refresh(store, secret=request.app.state.secret, settings=settings,
                                       refresh_token=body.refresh_token))


@router.post("/auth/logout", status_code=204, summary="End this token or session",
             description="Revokes the bearer token this request carries (or the dashboard session of its cookie). "
                         "An API key is not ended this way: revoke it with `DELETE /api/v1/keys/{key_id}`.",
             **require(Perm.SELF))
def logout(request: Request, store: StoreDep, principal: PrincipalDep) -> Response:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        service.logout(store, secret=request.app.state.secret, principal=principal, token=auth[7:].strip(),
                       typ="access")
    elif principal.kind == "session":
        from .permissions import SESSION_COOKIE

        service.logout(store, secret=request.app.state.secret, principal=principal,
                       token=request.cookies.get(SESSION_COOKIE), typ="session")
    else:
        service.logout(store, secret=request.app.state.secret, principal=principal, token=None, typ="access")
    return Response(status_code=204)


@router.post("/auth/password", status_code=204, summary="Change your password",
             description="Needs the old password; not allowed with an API key (sign in with the password).",
             **require(Perm.SELF))
def change_password(body: PasswordChange, store: StoreDep, principal: PrincipalDep) -> Response:
    if principal.kind == "api_key":
        from nagar.core.errors import Forbidden

        raise Forbidden("an API key cannot change a password; sign in with the password", field="authorization")
    service.change_password(store, principal=principal, old_password=body.old_password,
                            new_password=body.new_password)
    return Response(status_code=204)


@router.get("/me", summary="Who am I, and my roles per city", **require(Perm.SELF))
def me(store: StoreDep, principal: PrincipalDep) -> UserRead:
    return UserRead(**service.user_view(store, store.get_user(user_id=principal.user_id)))


@router.get("/users", summary="All accounts", **require(Perm.PLATFORM))
def list_users(store: StoreDep) -> dict[str, list[UserRead]]:
    return {"items": [UserRead(**service.user_view(store, u)) for u in store.list_users()]}


@router.post("/users", status_code=201, summary="Create an account", **require(Perm.PLATFORM))
def create_user(body: UserCreate, store: StoreDep, principal: PrincipalDep) -> UserRead:
    u = service.create_user(store, username=body.username, password=body.password,
                            platform_admin=body.platform_admin, actor=principal.actor)
    return UserRead(**service.user_view(store, u))


def _admin_city(store, principal, city: str) -> None:
    check_city(store, principal, city, Perm.ADMIN)


@router.get("/cities/{city}/roles", summary="Who holds which role in a city", **require(Perm.ADMIN))
def list_roles(store: StoreDep, principal: PrincipalDep, city: str = Path(...)) -> dict:
    _admin_city(store, principal, city)
    return {"city": city, "items": store.grants_in(city)}


@router.put("/cities/{city}/roles/{username}", summary="Grant, change or remove a user's role in a city",
            **require(Perm.ADMIN))
def set_role(body: RoleGrant, store: StoreDep, principal: PrincipalDep, city: str = Path(...),
             username: str = Path(...)) -> UserRead:
    _admin_city(store, principal, city)
    user = service.set_role(store, principal=principal, city=city, username=username, role=body.role)
    visible = principal.scope(Perm.READ)  # never show the user's roles in cities the caller cannot see
    user["roles"] = {c: r for c, r in user["roles"].items() if visible is None or c in visible}
    return UserRead(**user)


@router.get("/keys", summary="Your API keys",
            description="Their ids, names, expiry and last use; never their secrets.", **require(Perm.SELF))
def list_keys(store: StoreDep, principal: PrincipalDep) -> dict[str, list[ApiKeyRead]]:
    return {"items": [ApiKeyRead(**k) for k in store.list_api_keys(principal.user_id)]}


@router.post("/keys", status_code=201, summary="Create an API key (shown once)",
             description="JSON body `{\"name\": \"logger\", \"expires_days\": 90}` (`expires_days` optional). "
                         "The answer's `key` (`nagar_<id>.<secret>`) is shown only now: send it as `X-API-Key` "
                         "(or *Authorize* in /docs). It acts with your rights, whatever they are when it is used; "
                         "revoke it with `DELETE /api/v1/keys/{key_id}`. Sign in first (bearer token).",
             **require(Perm.SELF))
def create_key(body: ApiKeyCreate, store: StoreDep, principal: PrincipalDep) -> ApiKeyCreated:
    return ApiKeyCreated(**service.create_api_key(store, principal=principal, name=body.name,
                                                  expires_days=body.expires_days))


@router.delete("/keys/{key_id}", status_code=204, summary="Revoke an API key", **require(Perm.SELF))
def revoke_key(store: StoreDep, principal: PrincipalDep, key_id: str = Path(...)) -> Response:
    service.revoke_api_key(store, principal=principal, key_id=key_id)
    return Response(status_code=204)


def _admin_station(store, principal, station_id: str) -> dict:
    st = store.get_station(station_id, scope=principal.scope(Perm.READ))
    if st is None:
        raise NotFound(f"no station {station_id!r}", field="station")
    _admin_city(store, principal, st["city"])
    return st


@router.get("/stations/{station_id}/device-keys", summary="A station's device keys", **require(Perm.ADMIN))
def list_device_keys(store: StoreDep, principal: PrincipalDep, station_id: str = Path(...)) -> dict:
    st = _admin_station(store, principal, station_id)
    return {"items": [DeviceKeyRead(**k) for k in store.list_device_keys(st["id"])]}


@router.post("/stations/{station_id}/device-keys", status_code=201,
             summary="Create a device key for a station (secret shown once)", **require(Perm.ADMIN))
def create_device_key(request: Request, store: StoreDep, principal: PrincipalDep,
                      station_id: str = Path(...)) -> DeviceKeyCreated:
    st = _admin_station(store, principal, station_id)
    return DeviceKeyCreated(**service.create_device_key(store, secret=request.app.state.secret,
                                                        principal=principal, station=st))


@router.delete("/stations/{station_id}/device-keys/{key_id}", status_code=204, summary="Revoke a device key",
               **require(Perm.ADMIN))
def revoke_device_key(store: StoreDep, principal: PrincipalDep, station_id: str = Path(...),
                      key_id: str = Path(...)) -> Response:
    st = _admin_station(store, principal, station_id)
    service.revoke_device_key(store, principal=principal, station=st, key_id=key_id)
    return Response(status_code=204)


DEVICE_PUSH_DOC = """A sensor or data logger sends its station's readings, signed with a device key instead of a
user's credentials.

**Device key.** A city admin creates one for the station with `POST /api/v1/stations/{station_id}/device-keys`;
the answer holds the key `id` (e.g. `dev_3f2a...`) and its `secret`, shown only in that answer: store both on
the device. `DELETE /api/v1/stations/{station_id}/device-keys/{key_id}` revokes a key.

**Each request** carries four headers:

| header | value |
|---|---|
| `X-Nagar-Key` | the key `id` |
| `X-Nagar-Timestamp` | the current Unix time in seconds (refused when more than 300 s from the server's clock; the server's `NAGAR_DEVICE_MAX_SKEW_S`) |
| `X-Nagar-Nonce` | a new random string for every request, 8-128 characters of `A-Z a-z 0-9 _ -` (a nonce the key has used before is refused as a replay) |
| `X-Nagar-Signature` | HMAC-SHA256, in hex, keyed with the `secret`, over the timestamp, a newline (`\\n`), the nonce, a newline and the body's exact bytes |

For example, with a shell and OpenSSL:

```
body='[{"station": "dhaka-agargaon", "parameter": "pm25", "time": "2025-01-01T06:00:00Z", "value": 87.3, "unit": "µg/m³"}]'
ts=$(date +%s); nonce=$(openssl rand -hex 16)
sig=$(printf '%s\\n%s\\n%s' "$ts" "$nonce" "$body" | openssl dgst -sha256 -hmac "$SECRET" | sed 's/^.*= //')
curl -X POST https://<server>/api/v1/devices/observations -H 'Content-Type: application/json' \\
     -H "X-Nagar-Key: $KEY_ID" -H "X-Nagar-Timestamp: $ts" -H "X-Nagar-Nonce: $nonce" \\
     -H "X-Nagar-Signature: $sig" --data-binary "$body"
```

**Body**: a JSON list of observations (the schema below) or `{"observations": [...]}`, only for the key's own
station. **Answer**: the same report as `POST /api/v1/observations`: good rows are stored, every other row is
listed with its index and reason. A missing header, an unknown or revoked key, a stale timestamp, a wrong
signature or a reused nonce is a 401 naming the header.

The signature is HMAC (RFC 2104) with SHA-256 (FIPS 180-4)."""


@router.post(
    "/devices/observations",
    summary="A device pushes its station's observations (HMAC-signed)",
    description=DEVICE_PUSH_DOC,
    **require(Perm.DEVICE, openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"type": "array", "items": ObservationIn.model_json_schema()}}}}}),
)
async def device_observations(request: Request, store: StoreDep, settings: SettingsDep) -> IngestResult:
    body = await request.body()
    key = await run_in_threadpool(devices.verify, store, secret_key=request.app.state.secret,
                                  headers=request.headers, body=body, max_skew_s=settings.device_max_skew_s)
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"body is not valid JSON: {exc}", field="body") from None
    rows = payload.get("observations") if isinstance(payload, dict) else payload
    if rows is None:
        raise InvalidInput("expected a JSON list of observations or {\"observations\": [...]}", field="body")
    result = await run_in_threadpool(ingest_rows, store, rows=rows, settings=settings, only_station=key["station"])
    st = store.get_station(key["station"])
    await run_in_threadpool(
        service.audit.record, store, actor=f"device:{key['id']}", action="observations.write",
        city=st["city"] if st else None, target=f"station:{key['station']}",
        details={"inserted": result.inserted, "updated": result.updated, "rejected": result.rejected})
    return result


@router.get("/audit", summary="The audit log of a city (city admins) or of everything (platform admins)",
            **require(Perm.ADMIN))
def audit_log(store: StoreDep, principal: PrincipalDep, city: str | None = Query(None),
              after_seq: int = Query(0, ge=0), limit: int = Query(1000, ge=1, le=10_000)) -> dict:
    if city is None and not principal.platform_admin:
        raise InvalidInput("name the city whose log you want", field="city")
    if city is not None:
        _admin_city(store, principal, city)
    rows = store.audit_entries(city=city, after_seq=after_seq, limit=limit)
    for r in rows:
        r["details"] = json.loads(r["details"])
        r["time"] = r["time"].isoformat().replace("+00:00", "Z")
    return {"city": city, "items": rows}
