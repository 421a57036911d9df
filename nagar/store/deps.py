"""FastAPI dependencies that hand a route the process's store and settings.

The app owns one store (opened in its lifespan, kept on ``app.state``); routes receive it through the
typed alias :data:`StoreDep`, never by opening their own.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from nagar.core.settings import Settings

from .base import Store


def get_store(request: Request) -> Store:
    return request.app.state.store


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
