"""A new user's first commands: no silent empty database, `nagar init`, `nagar cities add`, `nagar stations add`."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from nagar.cli import app

runner = CliRunner()

DHAKA_NORTH = ["cities", "add", "dhaka-north", "--name", "Dhaka North", "--country", "BD", "--timezone", "Asia/Dhaka",
               "--lat", "23.8223", "--lon", "90.3654"]
MIRPUR = ["stations", "add", "dn-mirpur-10", "--city", "dhaka-north", "--name", "Mirpur 10", "--lat", "23.8069",
          "--lon", "90.3687", "--parameters", "pm25, PM10"]


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """A folder that is not the project's: no data/nagar.duckdb, no NAGAR_DB."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NAGAR_DB", raising=False)
    monkeypatch.delenv("NAGAR_DATABASE_URL", raising=False)
    return tmp_path


def _one_line(output: str) -> str:
    return " ".join(output.split())  # rich wraps long messages


@pytest.mark.parametrize("args", [
    ["cities"], ["stations"], ["cities", "add", "x", "--name", "X", "--country", "BD", "--timezone", "Asia/Dhaka",
                               "--lat", "1", "--lon", "1"],
    ["ingest", "obs.csv", "--city", "dhaka-north"], ["admin", "create-user", "alice"], ["audit", "verify"],
    ["water", "wqi", "--city", "dhaka-north"], ["quality", "faults", "--city", "dhaka-north"],
])
def test_commands_refuse_a_missing_database_instead_of_creating_one(elsewhere, args):
    r = runner.invoke(app, args, input="a-password-long-enough\n")
    out = _one_line(r.output)
    assert r.exit_code == 2, r.output
    assert f"no Nagar database at {elsewhere / 'data' / 'nagar.duckdb'}" in out
    assert "relative to the current folder" in out and "--db" in out and "NAGAR_DB" in out and "nagar init" in out
    assert "Traceback" not in r.output and "Password" not in r.output  # refused before asking anything
    assert not (elsewhere / "data").exists()


def test_an_explicit_path_is_named_without_the_default_hint(elsewhere):
    r = runner.invoke(app, ["cities", "--db", "other/city.duckdb"])
    assert r.exit_code == 2 and "relative to the current folder" not in _one_line(r.output)
    assert str(elsewhere / "other" / "city.duckdb") in _one_line(r.output)
    r = runner.invoke(app, ["stations", "add", "--db", "other/city.duckdb", "s1", "--city", "c", "--name", "S",
                            "--lat", "1", "--lon", "1"])
    assert r.exit_code == 2 and str(elsewhere / "other" / "city.duckdb") in _one_line(r.output)
    assert not (elsewhere / "other").exists()


def test_help_and_commands_without_a_database_still_work(elsewhere):
    assert runner.invoke(app, ["ingest", "--help"]).exit_code == 0
    assert runner.invoke(app, ["cities", "add", "--help"]).exit_code == 0
    assert runner.invoke(app, ["standards"]).exit_code == 0
    assert not (elsewhere / "data").exists()


def test_a_bad_setting_is_a_message_not_a_traceback(elsewhere, monkeypatch):
    monkeypatch.setenv("NAGAR_COOKIE_SECURE", "sometimes")
    r = runner.invoke(app, ["cities"])
    assert r.exit_code == 2 and "NAGAR_COOKIE_SECURE" in r.output and "Traceback" not in r.output


def test_init_creates_the_database_once(elsewhere):
    r = runner.invoke(app, ["init"])
    assert r.exit_code == 0, r.output
    db = elsewhere / "data" / "nagar.duckdb"
    assert db.exists() and "Created an empty Nagar database" in _one_line(r.output) and str(db) in _one_line(r.output)
    assert "nagar admin create-user" in r.output
    r = runner.invoke(app, ["init"])
    assert r.exit_code == 0 and "it existed" in r.output
    assert runner.invoke(app, ["cities"]).exit_code == 0  # the refusal is gone


def test_serve_says_when_it_starts_on_a_new_empty_database(elsewhere, monkeypatch):
    from nagar.api import server as http_server

    monkeypatch.setattr(http_server, "run", lambda application, settings, **k: None)
    monkeypatch.setattr("nagar.cli._check_port", lambda host, port: None)
    r = runner.invoke(app, ["serve"])
    assert r.exit_code == 0, r.output
    assert "new and empty" in _one_line(r.output) and str(elsewhere / "data" / "nagar.duckdb") in _one_line(r.output)
    runner.invoke(app, ["init"])
    r = runner.invoke(app, ["serve"])
    assert r.exit_code == 0 and "new and empty" not in r.output


def test_first_steps_on_the_command_line(elsewhere):
    from nagar.store.duckdb import DuckDBStore

    assert runner.invoke(app, ["init"]).exit_code == 0
    r = runner.invoke(app, [*DHAKA_NORTH, "--standard", "bd-doe"])
    assert r.exit_code == 0 and "Created city dhaka-north" in r.output, r.output
    r = runner.invoke(app, MIRPUR)
    assert r.exit_code == 0 and "Created station dn-mirpur-10" in r.output, r.output
    (elsewhere / "obs.csv").write_text("station,parameter,time,value,unit\n"
                                       "dn-mirpur-10,pm25,2026-11-27T06:00:00+06:00,87.3,µg/m³\n", encoding="utf-8")
    r = runner.invoke(app, ["ingest", "obs.csv", "--city", "dhaka-north", "--json"])
    assert r.exit_code == 0 and '"inserted": 1' in r.output, r.output
    listing = runner.invoke(app, ["stations", "--city", "dhaka-north"])
    assert listing.exit_code == 0 and "dn-mirpur-10" in listing.output and "pm10, pm25" in listing.output
    store = DuckDBStore(elsewhere / "data" / "nagar.duckdb")
    try:
        city = store.get_city("dhaka-north")
        assert (city["name"], city["country"], city["standard"], city["open_data"]) == ("Dhaka North", "BD",
                                                                                         "bd-doe", False)
        st = store.get_station("dn-mirpur-10")
        assert (st["city"], st["lat"], st["lon"], st["parameters"]) == ("dhaka-north", 23.8069, 90.3687,
                                                                         ["pm10", "pm25"])
        actions = [(e["actor"], e["action"]) for e in store.audit_entries()]
        assert ("cli", "city.create") in actions and ("cli", "station.create") in actions
    finally:
        store.close()


@pytest.mark.parametrize("args, words", [
    (DHAKA_NORTH, "already exists"),
    ([*DHAKA_NORTH[:3], "--name", "X", "--country", "XX", "--timezone", "Asia/Dhaka", "--lat", "1", "--lon", "1"],
     "error (--country): unknown country code 'XX'"),
    ([*DHAKA_NORTH[:3], "--name", "X", "--country", "BD", "--timezone", "Asia/Nowhere", "--lat", "1", "--lon", "1"],
     "error (--timezone): unknown IANA time zone"),
    (["cities", "add", "x-city", "--name", "X", "--country", "BD", "--timezone", "Asia/Dhaka", "--lat", "1",
      "--lon", "1", "--standard", "nope"], "unknown AQI standard 'nope'"),
    (MIRPUR, "already in use"),
    ([*MIRPUR[:3], "--city", "nowhere", "--name", "X", "--lat", "1", "--lon", "1"],
     "no city 'nowhere': `nagar cities` lists them, `nagar cities add` creates one"),
    ([*MIRPUR[:3], "--city", "dhaka-north", "--name", "X", "--lat", "91", "--lon", "1"], "error (--lat):"),
    ([*MIRPUR[:3], "--city", "dhaka-north", "--name", "X", "--lat", "1", "--lon", "1", "--parameters", "pm25,smog"],
     "unknown parameter 'smog'"),
    (["stations", "add", "Bad Id!", "--city", "dhaka-north", "--name", "X", "--lat", "1", "--lon", "1"],
     "error (--id):"),
    (["ingest", "obs.csv", "--city", "nowhere"], "create it first with `nagar cities add nowhere"),
])
def test_registry_commands_give_clear_errors(elsewhere, args, words):
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert runner.invoke(app, DHAKA_NORTH).exit_code == 0
    assert runner.invoke(app, MIRPUR).exit_code == 0
    Path("obs.csv").write_text("station,parameter,time,value,unit\n", encoding="utf-8")
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    assert words in _one_line(r.output) and "Traceback" not in r.output
