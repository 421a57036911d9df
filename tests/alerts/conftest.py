from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from nagar.core.settings import Settings
from nagar.store.duckdb import DuckDBStore
from tests.conftest import obs_table

DHAKA = dict(id="dhaka", name="Dhaka", country="BD", timezone="Asia/Dhaka", lat=23.81, lon=90.41,
             standard="us-epa-2024", open_data=True)
T0 = datetime(2025, 1, 10, 0, 0, tzinfo=timezone.utc)  # 06:00 in Dhaka


def at(h: float) -> datetime:
    return T0 + timedelta(hours=h)


def pm(station: str, hours_values: list[tuple[float, float]], flag: str = "valid"):
    return obs_table([(station, "pm25", at(h), v, "µg/m³", flag) for h, v in hours_values])


@pytest.fixture
def astore(tmp_path):
    s = DuckDBStore(tmp_path / "a.duckdb")
    s.upsert_city(DHAKA)
    s.upsert_station(dict(id="st1", city="dhaka", name="S1", lat=23.78, lon=90.38, parameters=["pm25"]))
    s.upsert_station(dict(id="st2", city="dhaka", name="S2", lat=23.76, lon=90.39, parameters=["pm25"]))
    yield s
    s.close()


@pytest.fixture
def settings(tmp_path):
    return Settings.from_env(db=tmp_path / "a.duckdb")
