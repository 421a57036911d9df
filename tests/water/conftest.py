from __future__ import annotations

import pytest

from nagar.store.duckdb import DuckDBStore

DHAKA = dict(id="dhaka", name="Dhaka", country="BD", timezone="Asia/Dhaka", lat=23.81, lon=90.41,
             standard="us-epa-2024", open_data=True)
CTG = dict(id="chattogram", name="Chattogram", country="BD", timezone="Asia/Dhaka", lat=22.36, lon=91.78,
           standard="us-epa-2024")


@pytest.fixture
def wstore(tmp_path):
    s = DuckDBStore(tmp_path / "w.duckdb")
    s.upsert_city(DHAKA)
    s.upsert_city(CTG)
    yield s
    s.close()
