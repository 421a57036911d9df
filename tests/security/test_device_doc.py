"""/docs for the device push speaks to API users (no internal names), and its shell recipe signs right."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient

from nagar.api.app import create_app
from nagar.core.settings import Settings
from nagar.security.tokens import device_secret
from nagar.security.views import DEVICE_PUSH_DOC
from nagar.store.duckdb import DuckDBStore
from tests.conftest import DHAKA


def test_the_description_names_no_code(tmp_path):
    app = create_app(Settings(secret_key="k" * 40, db=tmp_path / "u.duckdb"), store=DuckDBStore(":memory:"))
    text = app.openapi()["paths"]["/api/v1/devices/observations"]["post"]["description"]
    assert "tokens.device_secret" not in text and "device_max_skew_s" not in text
    for words in ("X-Nagar-Key", "X-Nagar-Timestamp", "X-Nagar-Nonce", "X-Nagar-Signature",
                  "POST /api/v1/stations/{station_id}/device-keys"):
        assert words in text


@pytest.mark.skipif(not (shutil.which("bash") and shutil.which("openssl")), reason="needs bash and openssl")
def test_the_documented_shell_recipe_is_accepted(tmp_path):
    store = DuckDBStore(":memory:")
    store.upsert_city(DHAKA)
    store.upsert_station(dict(id="dhaka-agargaon", city="dhaka", name="Agargaon", lat=23.78, lon=90.38,
                              parameters=["pm25"]))
    store.create_device_key({"id": "dev_doc", "station": "dhaka-agargaon", "created_by": None,
                             "created_at": datetime.now(timezone.utc), "revoked_at": None})
    recipe = DEVICE_PUSH_DOC[DEVICE_PUSH_DOC.index("```\n") + 4:DEVICE_PUSH_DOC.index("curl ")]
    script = recipe + 'printf "%s %s %s\\n" "$ts" "$nonce" "$sig"\n'
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True,
                         env={"SECRET": device_secret("k" * 40, "dev_doc"), "PATH": "/usr/bin:/bin"}).stdout
    ts, nonce, sig = out.split()
    assert re.fullmatch(r"[0-9a-f]{64}", sig)
    body = re.search(r"body='(.*)'", recipe).group(1)
    app = create_app(Settings(secret_key="k" * 40, db=tmp_path / "u.duckdb"), store=store)
    with TestClient(app) as c:
        r = c.post("/api/v1/devices/observations", content=body.encode(), headers={
            "Content-Type": "application/json", "X-Nagar-Key": "dev_doc", "X-Nagar-Timestamp": ts,
            "X-Nagar-Nonce": nonce, "X-Nagar-Signature": sig})
    assert r.status_code == 200 and r.json()["inserted"] == 1, r.text
    assert json.loads(body)[0]["value"] == store.observations().to_pylist()[0]["value"]
