import json
from importlib import resources

from fastapi.testclient import TestClient

from nagar.api.app import create_app
from nagar.core.settings import Settings
from tests.conftest import bearer, make_user


def test_a_city_loads_its_own_standard_table(store, tmp_path):
    table = json.loads(resources.files("nagar.air").joinpath("standards/us-epa-2024.json").read_text())
    table["id"] = "dhaka-local"
    table["name"] = "Dhaka local index"
    # a stricter first PM2.5 segment: 0-5.0 -> 0-50 (the rest unchanged would leave a gap, so shift it too)
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "dhaka-local.json").write_text(json.dumps(table))
    app = create_app(Settings(standards_dir=tmp_path / "tables", secret_key="t" * 32), store=store)
    with TestClient(app, headers=bearer(app, make_user(store, "root", platform_admin=True))) as c:
        ids = [s["id"] for s in c.get("/api/v1/standards").json()["items"]]
        assert "dhaka-local" in ids and "us-epa-2024" in ids
        got = c.get("/api/v1/standards/dhaka-local").json()
        assert got["name"] == "Dhaka local index"
        assert c.get("/api/v1/aqi/latest", params={"city": "dhaka", "standard": "dhaka-local"}).status_code == 200


def test_a_path_is_never_accepted_as_a_standard_from_a_request(store, tmp_path):
    table = json.loads(resources.files("nagar.air").joinpath("standards/us-epa-2024.json").read_text())
    table["id"] = "sneaky"
    p = tmp_path / "sneaky.json"
    p.write_text(json.dumps(table))
    app = create_app(Settings(secret_key="t" * 32), store=store)
    with TestClient(app, headers=bearer(app, make_user(store, "root", platform_admin=True))) as c:
        r = c.get("/api/v1/aqi/latest", params={"city": "dhaka", "standard": str(p)})
        assert r.status_code == 404 and r.json()["field"] == "standard"
