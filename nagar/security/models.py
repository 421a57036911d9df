"""Request and response shapes of accounts, roles and keys."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from .permissions import Role


class TokenPair(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(..., description="Seconds until the access token expires")
    refresh_token: str


class RefreshIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: str


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    old_password: str
    new_password: str = Field(..., min_length=10)


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(..., min_length=3, max_length=64, pattern=r"^[a-zA-Z0-9_.@-]+$")
    password: str = Field(..., min_length=10)
    platform_admin: bool = False


class UserRead(BaseModel):
    id: int
    username: str
    platform_admin: bool
    disabled: bool
    roles: dict[str, Role] = Field(default_factory=dict, description="city id -> role")


class RoleGrant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role | None = Field(..., description="The role in this city, or null to remove it")


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., min_length=1, max_length=100)
    expires_days: int | None = Field(90, ge=1, le=3650, description="Days until it expires; null: never")


class ApiKeyRead(BaseModel):
    id: str
    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None = None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(..., description="The key itself: shown only now, store it safely")


class DeviceKeyRead(BaseModel):
    id: str
    station: str
    created_at: datetime
    revoked_at: datetime | None


class DeviceKeyCreated(DeviceKeyRead):
    secret: str = Field(..., description="The device's signing secret: shown only now")
