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
