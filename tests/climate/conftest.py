from __future__ import annotations

import pytest

from nagar.store.climate_tables import ClimateTables
from nagar.store.duckdb import DuckDBStore

DHAKA = dict(id="dhaka", name="Dhaka", country="BD", timezone="Asia/Dhaka", lat=23.81, lon=90.41, standard="bd-doe")
HANOI = dict(id="hanoi", name="Hanoi", country="VN", timezone="Asia/Ho_Chi_Minh", lat=21.03, lon=105.85)


if issubclass(DuckDBStore, ClimateTables):
    ClimateStore = DuckDBStore
else:  # until ClimateTables is among DuckDBStore's bases
    class ClimateStore(ClimateTables, DuckDBStore):
        """DuckDBStore with the climate mixin."""


@pytest.fixture
def cstore(tmp_path):
    s = ClimateStore(tmp_path / "c.duckdb")
    s.upsert_city(DHAKA)
    s.upsert_city(HANOI)
    yield s
    s.close()
