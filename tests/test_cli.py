import json

from typer.testing import CliRunner

from nagar.cli import app

runner = CliRunner()


def test_aqi_command_json():
    # EPA 2024: PM2.5 35.9 -> (150-101)/(55.4-35.5) x (35.9-35.5) + 101 = 101.98 -> 102;
    # O3 8-h 0.070 ppm -> top of 0.055-0.070 -> 100. AQI 102, dominant PM2.5.
    r = runner.invoke(app, ["aqi", "--standard", "us-epa-2024", "pm25=35.9", "o3_8h=0.07", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["aqi"] == 102 and out["dominant"] == "pm25_24h"
    assert out["category"] == "Unhealthy for Sensitive Groups"
    assert out["sub_indices"] == {"pm25_24h": 102, "o3_8h": 100}


def test_aqi_command_table_output():
    r = runner.invoke(app, ["aqi", "pm25=9.0"])
    assert r.exit_code == 0 and "AQI 50" in r.stdout and "Good" in r.stdout


def test_aqi_command_errors_are_messages_not_tracebacks():
    for args, words in ((["aqi", "pm25=abc"], "not a number"), (["aqi", "--standard", "nope", "pm25=1"], "no AQI standard"),
                        (["aqi", "pm25"], "expected pollutant=value")):
        r = runner.invoke(app, args)
        assert r.exit_code == 2 and words in r.output and "Traceback" not in r.output


def test_ingest_command(tmp_path):
    from nagar.store.duckdb import DuckDBStore
    from tests.conftest import DHAKA

    db = tmp_path / "c.duckdb"
    s = DuckDBStore(db)
    s.upsert_city(DHAKA)
    s.close()
    f = tmp_path / "o.csv"
    f.write_text(
        "location_id,sensors_id,location,datetime,lat,lon,parameter,units,value\n"
        "8118,1,US Embassy,2024-01-01T01:00:00+06:00,23.796,90.424,pm25,µg/m³,190.5\n"
        "8118,1,US Embassy,2024-01-01T02:00:00+06:00,23.796,90.424,pm25,µg/m³,-1\n"
    )
    r = runner.invoke(app, ["ingest", str(f), "--db", str(db), "--json"])
    assert r.exit_code == 3, r.output  # one of two rows rejected: "some rows rejected"
    out = json.loads(r.stdout)
    assert (out["inserted"], out["rejected"], out["stations_created"]) == (1, 1, ["openaq-8118"])
    r = runner.invoke(app, ["ingest", str(tmp_path / "missing.csv"), "--db", str(db)])
    assert r.exit_code == 2 and "no such file" in r.output


def test_ingest_mqtt_forwards_to_the_subscriber(monkeypatch, tmp_path):
    """`nagar ingest mqtt ...` is the MQTT subscriber's `run` with the same options."""
    import nagar.ingest.mqtt_cli as mqtt_cli
    from nagar.store.duckdb import DuckDBStore

    seen = {}

    def fake(args, standalone_mode=True):
        seen["args"] = args

    monkeypatch.setattr(mqtt_cli, "app", fake)
    monkeypatch.chdir(tmp_path)
    DuckDBStore(tmp_path / "x.duckdb").close()  # a database that exists (a missing one is refused first)
    r = runner.invoke(app, ["ingest", "mqtt", "--host", "127.0.0.1", "--port", "1999", "--db", "x.duckdb"])
    assert r.exit_code == 0, r.output
    assert seen["args"] == ["run", "--host", "127.0.0.1", "--port", "1999", "--db", "x.duckdb"]


def test_ingest_refuses_stray_arguments(tmp_path):
    from nagar.store.duckdb import DuckDBStore

    DuckDBStore(tmp_path / "s.duckdb").close()
    r = runner.invoke(app, ["ingest", str(tmp_path / "a.csv"), "--bogus", "1", "--db", str(tmp_path / "s.duckdb")])
    assert r.exit_code == 2 and "unexpected argument" in r.output


def test_serve_and_demo_refuse_a_taken_port_with_one_message(tmp_path, monkeypatch):
    """Not "Nagar on http://...:PORT/" then uvicorn's Errno 98: one error naming --port, nothing served."""
    import socket

    from nagar.api import server as http_server

    served = []
    monkeypatch.setattr(http_server, "run", lambda application, settings, **k: served.append((settings, k)))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for args in (["serve", "--db", str(tmp_path / "s.duckdb"), "--port", str(port)],
                     ["demo", "--db", str(tmp_path / "d.duckdb"), "--port", str(port)]):
            r = runner.invoke(app, args)
            assert r.exit_code == 2, r.output
            assert f"port {port} on 127.0.0.1 is already in use" in r.output and "--port" in r.output
            assert "Nagar on" not in r.output and "Traceback" not in r.output
    assert served == [] and not (tmp_path / "d.duckdb").exists()  # the demo stops before generating data
    # a free port passes the check
    r = runner.invoke(app, ["serve", "--db", str(tmp_path / "s.duckdb"), "--port", str(port)])
    assert r.exit_code == 0 and "Nagar on" in r.output and served[0][0].port == port
    assert served[0][1] == {"server": "uvicorn", "access_log": True}  # the default server, logging requests
    r = runner.invoke(app, ["serve", "--db", str(tmp_path / "s.duckdb"), "--port", str(port), "--server", "granian",
                            "--no-access-log"])
    assert r.exit_code == 0 and served[1][1] == {"server": "granian", "access_log": False}
    r = runner.invoke(app, ["serve", "--db", str(tmp_path / "s.duckdb"), "--port", str(port), "--server", "gunicorn"])
    assert r.exit_code == 2 and "--server must be one of granian, uvicorn" in r.output and len(served) == 2


def test_demo_output_is_short_consistent_and_says_where_things_are(tmp_path, monkeypatch):
    """One quality table (not a paragraph per city); the observation counts add up and are explained; the
    CLI hints say the server must be stopped first; a rerun says where the demo accounts are."""
    import re

    db = tmp_path / "data" / "nagar.duckdb"
    r = runner.invoke(app, ["demo", "--db", str(db), "--days", "1", "--no-serve"], terminal_width=200)
    assert r.exit_code == 0, r.output
    assert r.output.count("Quality scan") == 1 and "Quality scan of" not in r.output
    generated = int(re.search(r"([\d,]+) generated sensor observations\.", r.output).group(1).replace(",", ""))
    m = re.search(r"([\d,]+) observations in the store \(([\d,]+) generated sensor observations \+ (\d+) "
                  r"rooftop-solar readings\)", r.output)
    total, again, solar = (int(g.replace(",", "")) for g in m.groups())
    assert again == generated and total == generated + solar and solar == 12  # 12 monthly meter readings
    assert "nagar inventory show --city dhaka" in r.output.split("CLI commands to try now:")[1]
    r = runner.invoke(app, ["demo", "--db", str(db), "--days", "1", "--no-serve"], terminal_width=200)
    assert r.exit_code == 0, r.output
    assert "Demo data already in" in r.output and f"Demo accounts and their passwords: {db.parent}" in r.output
    assert "demo-accounts.txt" in r.output and "generated" not in r.output
    # serving: the hints say to stop the server first (it holds the DuckDB file)
    import socket

    from nagar.api import server as http_server

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    monkeypatch.setattr(http_server, "run", lambda *a, **k: None)
    r = runner.invoke(app, ["demo", "--db", str(db), "--port", str(port)], terminal_width=200)
    assert r.exit_code == 0, r.output
    assert "CLI commands to try after stopping the server (Ctrl-C)" in r.output
    assert f"nagar water wqi --city dhaka --db {db}" in r.output


def test_create_user_reads_the_password_from_stdin_when_not_a_terminal(tmp_path):
    """No terminal: the first line of stdin is the password (no GetPassWarning, no bare 'Aborted.')."""
    from nagar.store.duckdb import DuckDBStore

    db = str(tmp_path / "u.duckdb")
    assert runner.invoke(app, ["init", "--db", db]).exit_code == 0  # create-user needs a database
    r = runner.invoke(app, ["admin", "create-user", "alice", "--db", db], input="correct-horse-battery-9\n")
    assert r.exit_code == 0 and "Created user alice" in r.output, r.output
    r = runner.invoke(app, ["admin", "create-user", "bob", "--password-stdin", "--db", db], input="")
    assert r.exit_code == 2 and "error (password): no password on standard input" in r.output
    assert "Aborted" not in r.output and "Warning" not in r.output
    s = DuckDBStore(db)
    from nagar.security.passwords import verify_password

    assert verify_password(s.get_user(username="alice")["password_hash"], "correct-horse-battery-9")
    assert s.get_user(username="bob") is None
    s.close()
