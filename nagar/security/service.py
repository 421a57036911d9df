"""Accounts, sign-in with lock-out, tokens, API keys, roles and device keys. Every change is audited."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

from nagar.core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from nagar.core.settings import Settings
from nagar.store.base import Store

from . import audit, passwords, tokens
from .permissions import Principal, Role


def _now() -> datetime:
    return datetime.now(timezone.utc)


def create_user(store: Store, *, username: str, password: str, platform_admin: bool = False,
                actor: str = "system") -> dict:
    user = store.create_user(username=username, password_hash=passwords.hash_password(password),
                             platform_admin=platform_admin, now=_now())
    audit.record(store, actor=actor, action="user.create", target=f"user:{username}",
                 details={"platform_admin": platform_admin})
    return user


def user_view(store: Store, user: dict) -> dict:
    return {"id": user["id"], "username": user["username"], "platform_admin": bool(user["platform_admin"]),
            "disabled": bool(user["disabled"]), "roles": store.grants_of(user["id"])}


def authenticate(store: Store, *, settings: Settings, username: str, password: str, client: str = "",
                 now: datetime | None = None) -> dict:
    """Check a password, with lock-out: after ``login_max_failures`` consecutive failures the account is
    locked for ``login_lock_minutes``, doubling with each further failure. Unknown users cost the same
    hashing time as known ones."""
    now = now or _now()
    user = store.get_user(username=username)
    if user is not None and user["locked_until"] is not None and user["locked_until"] > now:
        audit.record(store, actor=f"user:{username}", action="login.locked", details={"client": client})
        wait = int((user["locked_until"] - now).total_seconds()) + 1
        raise Unauthorized(f"account locked after repeated failures; try again in {wait} s", field="username")
    ok = passwords.verify_password(user["password_hash"] if user else None, password)
    if not ok or user is None or user["disabled"]:
        if user is not None:
            failures = user["failed_logins"] + 1
            fields = {"failed_logins": failures}
            if failures >= settings.login_max_failures:
                lock = settings.login_lock_minutes * 2 ** (failures - settings.login_max_failures)
                fields["locked_until"] = now + timedelta(minutes=min(lock, 24 * 60))
            store.update_user(user["id"], **fields)
        audit.record(store, actor=f"user:{username}", action="login.failure", details={"client": client})
        raise Unauthorized("wrong username or password", field="password")
    fields = {"failed_logins": 0, "locked_until": None}
    if passwords.needs_rehash(user["password_hash"]):
        fields["password_hash"] = passwords.hash_password(password)
    store.update_user(user["id"], **fields)
    audit.record(store, actor=f"user:{username}", action="login.success", details={"client": client})
    return user


def issue_pair(secret: str, settings: Settings, user: dict) -> dict:
    access, _, _ = tokens.issue_token(secret, sub=str(user["id"]), typ="access",
                                      lifetime=timedelta(minutes=settings.access_token_minutes))
    refresh, _, _ = tokens.issue_token(secret, sub=str(user["id"]), typ="refresh",
                                       lifetime=timedelta(days=settings.refresh_token_days))
    return {"access_token": access, "token_type": "bearer", "expires_in": settings.access_token_minutes * 60,
            "refresh_token": refresh}


def refresh(store: Store, *, secret: str, settings: Settings, refresh_token: str) -> dict:
    """Trade a refresh token for a new pair; the old refresh token is revoked (rotation)."""
    claims = tokens.decode_token(secret, refresh_token, typ="refresh")
    if store.token_revoked(claims["jti"]):
        raise Unauthorized("refresh token already used or revoked", field="refresh_token")
    user = store.get_user(user_id=int(claims["sub"]))
    if user is None or user["disabled"]:
        raise Unauthorized("account disabled or unknown", field="refresh_token")
    store.revoke_token(jti=claims["jti"], expires_at=datetime.fromtimestamp(claims["exp"], timezone.utc), now=_now())
    return issue_pair(secret, settings, user)


def logout(store: Store, *, secret: str, principal: Principal, token: str | None, typ: str) -> None:
    """End the caller's token or session (its jti is refused until it would have expired)."""
    if token:
        claims = tokens.decode_token(secret, token, typ=typ)
        store.revoke_token(jti=claims["jti"], expires_at=datetime.fromtimestamp(claims["exp"], timezone.utc),
                           now=_now())
    audit.record(store, actor=principal.actor, action="logout")


def change_password(store: Store, *, principal: Principal, old_password: str, new_password: str) -> None:
    user = store.get_user(user_id=principal.user_id)
    if not passwords.verify_password(user["password_hash"], old_password):
        audit.record(store, actor=principal.actor, action="password.change_failed")
        raise Forbidden("old password is wrong", field="old_password")
    store.update_user(user["id"], password_hash=passwords.hash_password(new_password), password_changed_at=_now())
    audit.record(store, actor=principal.actor, action="password.change", target=f"user:{user['username']}")


def set_role(store: Store, *, principal: Principal, city: str, username: str, role: Role | None) -> dict:
    user = store.get_user(username=username)
    if user is None:
        raise NotFound(f"no user {username!r}", field="username")
    if user["id"] == principal.user_id and not principal.platform_admin:
        raise Forbidden("you cannot change your own role", field="username")
    store.set_grant(user_id=user["id"], city=city, role=role.value if role else None)
    audit.record(store, actor=principal.actor, action="role.grant" if role else "role.revoke", city=city,
                 target=f"user:{username}", details={"role": role.value if role else None})
    return user_view(store, store.get_user(user_id=user["id"]))


def create_api_key(store: Store, *, principal: Principal, name: str, expires_days: int | None) -> dict:
    if principal.kind == "api_key":
        raise Forbidden("an API key cannot create API keys; sign in", field="authorization")
    key_id, full, digest = tokens.new_api_key()
    now = _now()
    row = {"id": key_id, "user_id": principal.user_id, "name": name, "secret_hash": digest, "created_at": now,
           "expires_at": now + timedelta(days=expires_days) if expires_days else None, "revoked_at": None,
           "last_used_at": None}
    store.create_api_key(row)
    audit.record(store, actor=principal.actor, action="api_key.create", target=f"key:{key_id}",
                 details={"name": name, "expires_days": expires_days})
    return {**store.get_api_key(key_id), "key": full}


def revoke_api_key(store: Store, *, principal: Principal, key_id: str) -> None:
    row = store.get_api_key(key_id)
    if row is None or (row["user_id"] != principal.user_id and not principal.platform_admin):
        raise NotFound(f"no API key {key_id!r}", field="key_id")
    if row["revoked_at"] is not None:
        raise Conflict("API key already revoked", field="key_id")
    store.update_api_key(key_id, revoked_at=_now())
    audit.record(store, actor=principal.actor, action="api_key.revoke", target=f"key:{key_id}")


def create_device_key(store: Store, *, secret: str, principal: Principal, station: dict) -> dict:
    key_id = "dev_" + secrets.token_hex(8)
    store.create_device_key({"id": key_id, "station": station["id"], "created_by": principal.user_id,
                             "created_at": _now(), "revoked_at": None})
    audit.record(store, actor=principal.actor, action="device_key.create", city=station["city"],
                 target=f"station:{station['id']}", details={"key_id": key_id})
    return {**store.get_device_key(key_id), "secret": tokens.device_secret(secret, key_id)}


def revoke_device_key(store: Store, *, principal: Principal, station: dict, key_id: str) -> None:
    row = store.get_device_key(key_id)
    if row is None or row["station"] != station["id"]:
        raise NotFound(f"no device key {key_id!r} on this station", field="key_id")
    store.revoke_device_key(key_id, now=_now())
    audit.record(store, actor=principal.actor, action="device_key.revoke", city=station["city"],
                 target=f"station:{station['id']}", details={"key_id": key_id})


def check_username(username: str) -> None:
    import re

    if not re.match(r"^[a-zA-Z0-9_.@-]{3,64}$", username or ""):
        raise InvalidInput("username must be 3-64 characters of letters, digits, _ . @ -", field="username")
