"""Load the generated demo cities, stations and observations into a store."""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa

from nagar.store.base import Store, WriteCounts

from .generator import generate

DEMO_CITY = "dhaka"


def has_demo(store: Store) -> bool:
    return store.get_city(DEMO_CITY) is not None and store.stats().observations > 0


def load_demo(store: Store, *, seed: int = 42, days: int = 90, end: datetime | None = None) -> WriteCounts:
    """Generate the demo (deterministic for a seed and end hour) and write it through the store's one write path."""
    data = generate(seed=seed, days=days, end=end)
    for c in data.cities:
        store.upsert_city({**c, "open_data": True})  # the demo cities publish their data
    store.upsert_stations([{**s, "source": s.get("source")} for s in data.stations])
    obs = data.observations
    if "flag" not in obs.column_names:
        obs = obs.append_column("flag", pa.array(["valid"] * obs.num_rows, pa.string()))
    counts = WriteCounts()
    step = 1_000_000
    for i in range(0, obs.num_rows, step):
        counts += store.write_observations(obs.slice(i, step))
    return counts


DEMO_ACCOUNTS = (
    # username, rights: platform admin, or {city: role}
    ("admin", True, {}),
    ("dhaka-admin", False, {"dhaka": "city_admin"}),
    ("dhaka-operator", False, {"dhaka": "operator"}),
    ("ctg-analyst", False, {"chattogram": "analyst"}),
)


def accounts_file(settings):
    """Where the demo accounts' passwords are kept: ``demo-accounts.txt`` beside the database."""
    from pathlib import Path

    return Path(str(settings.db)).parent / "demo-accounts.txt"


def ensure_demo_accounts(store: Store, *, settings) -> list[dict]:
    """Create the demo accounts once, with random passwords written to ``demo-accounts.txt`` (0600) beside
    the database; return them (with passwords) when they were just created, else an empty list."""
    import os
    import secrets

    from nagar.security import audit
    from nagar.security.service import create_user

    if store.get_user(username="admin") is not None:
        return []
    path = accounts_file(settings)
    out = []
    for username, platform_admin, roles in DEMO_ACCOUNTS:
        password = secrets.token_urlsafe(12)
        user = create_user(store, username=username, password=password, platform_admin=platform_admin, actor="demo")
        for city, role in roles.items():
            store.set_grant(user_id=user["id"], city=city, role=role)
            audit.record(store, actor="demo", action="role.grant", city=city, target=f"user:{username}",
                         details={"role": role})
        rights = "platform admin" if platform_admin else ", ".join(f"{r} in {c}" for c, r in roles.items())
        out.append({"username": username, "password": password, "rights": rights, "file": path})
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        for a in out:
            f.write(f"{a['username']}\t{a['password']}\t{a['rights']}\n")
    return out
