from __future__ import annotations

import pytest

from nagar.store.duckdb import DuckDBStore
from nagar.store.funding_tables import FundingTables

if issubclass(DuckDBStore, FundingTables):  # wired by the lead
    FStore = DuckDBStore
else:
    class FStore(FundingTables, DuckDBStore):
        pass


DHAKA = dict(id="dhaka", name="Dhaka", country="BD", timezone="Asia/Dhaka", lat=23.81, lon=90.41,
             standard="us-epa-2024", open_data=False)
CTG = dict(id="chattogram", name="Chattogram", country="BD", timezone="Asia/Dhaka", lat=22.36, lon=91.78,
           standard="us-epa-2024", open_data=True)


@pytest.fixture
def fstore(tmp_path):
    s = FStore(tmp_path / "f.duckdb")
    s.upsert_city(DHAKA)
    s.upsert_city(CTG)
    yield s
    s.close()


def funding_app(settings, store):
    """The app with the funding router (included here until the lead mounts it in create_app)."""
    from fastapi.routing import APIRoute, iter_route_contexts

    from nagar.api.app import create_app
    from nagar.funding import views

    app = create_app(settings, store=store)
    paths = {c.path for c in iter_route_contexts(app.routes) if isinstance(c.route, APIRoute)}
    if "/api/v1/funding/funds" not in paths:
        app.include_router(views.router)
    return app
