"""``nagar ngsild`` CLI: load a file (batch upsert, ETSI GS CIM 009 V1.6.1 clause 5.6.8), get, query."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from nagar.cli import app
from nagar.store.duckdb import DuckDBStore
from tests.ngsild.conftest import DHAKA


def test_load_get_query_and_errors(tmp_path):
    db = tmp_path / "c.duckdb"
    s = DuckDBStore(db)
    s.upsert_city(DHAKA)
    s.close()
    f = tmp_path / "e.json"
    f.write_text(json.dumps([
        {"id": "urn:ngsi-ld:AirQualityObserved:dhaka-cli", "type": "AirQualityObserved",
         "dateObserved": "2024-01-01T00:00:00Z", "pm25": 12.0,
         "location": {"type": "Point", "coordinates": [90.4, 23.8]}},
        {"id": "urn:ngsi-ld:WasteContainer:1", "type": "WasteContainer", "fillingLevel": 0.7},
        {"id": "bad", "type": "WasteContainer"}]))
    r = CliRunner().invoke(app, ["ngsild", "load", str(f), "--tenant", "dhaka", "--db", str(db)])
    assert r.exit_code == 1, r.output  # one entity refused
    assert "2 entities written, 1 refused" in r.output
    r = CliRunner().invoke(app, ["ngsild", "get", "urn:ngsi-ld:WasteContainer:1", "--tenant", "dhaka", "--db",
                                 str(db), "--key-values"])
    assert r.exit_code == 0 and json.loads(r.output)["fillingLevel"] == 0.7
    r = CliRunner().invoke(app, ["ngsild", "query", "--tenant", "dhaka", "--type", "AirQualityObserved",
                                 "--q", "pm25>10", "--key-values", "--db", str(db)])
    assert r.exit_code == 0 and [e["pm25"] for e in json.loads(r.output)] == [12.0]
    r = CliRunner().invoke(app, ["ngsild", "get", "urn:x:none", "--tenant", "dhaka", "--db", str(db)])
    assert r.exit_code == 2 and "no entity" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(app, ["ngsild", "query", "--tenant", "atlantis", "--type", "T", "--db", str(db)])
    assert r.exit_code == 2 and "no city" in r.output
    s = DuckDBStore(db)
    assert s.get_station("dhaka-cli")["city"] == "dhaka"
    assert s.observations(stations=["dhaka-cli"]).column("value").to_pylist() == [12.0]
    s.close()
