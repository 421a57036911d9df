import pytest, schemathesis, time, tempfile, pathlib
from hypothesis import settings, HealthCheck
from nagar.api.app import create_app
from nagar.core.settings import Settings
from nagar.store.duckdb import DuckDBStore
from tests.conftest import DHAKA, bearer, make_user
from schemathesis import checks as C

tmp = pathlib.Path(tempfile.mkdtemp())
s = DuckDBStore(tmp / "f.duckdb")
s.upsert_city(DHAKA)
app = create_app(Settings(secret_key="f"*32, db=tmp/"unused.duckdb"), store=s)
admin = make_user(s, "root", platform_admin=True)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api(case):
    h = bearer(app, admin)
    case.call_and_validate(headers=h, checks=[C.response_schema_conformance])
