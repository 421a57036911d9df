"""``nagar forecast`` commands on a file-backed store."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from nagar.cli import app
from tests.quality.test_cli import db  # noqa: F401 (the fixture: 16 days of a diurnal PM2.5 series)

runner = CliRunner()


def test_forecast_train_show_skill(db):
    r = runner.invoke(app, ["forecast", "train", "--city", "dhaka", "--days", "30", "--folds", "1",
                            "--fold-days", "2", "--db", str(db)])
    assert r.exit_code == 0, r.output
    assert "st1" in r.output
    r = runner.invoke(app, ["forecast", "show", "--city", "dhaka", "--json", "--db", str(db)])
    out = json.loads(r.stdout)
    assert len(out["items"][0]["items"]) == 24 and out["items"][0]["standard"] == "us-epa-2024"
    r = runner.invoke(app, ["forecast", "skill", "--city", "dhaka", "--json", "--db", str(db)])
    rep = json.loads(r.stdout)
    assert rep["items"][0]["mae"]["model"] < rep["items"][0]["mae"]["persistence"]
