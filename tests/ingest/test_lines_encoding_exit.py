"""File lines survive blank lines; a file that is not UTF-8 names its line and how to save as UTF-8 (every
CSV loader); the CLI loaders' exit status tells "some rows rejected" (3) from "all stored" (0)."""

from __future__ import annotations

from datetime import datetime, timezone
from importlib.metadata import version

import pytest
from typer.testing import CliRunner

from nagar.cli import app
from nagar.core.errors import InvalidInput
from nagar.core.settings import Settings
from nagar.ingest.files import read_text
from nagar.ingest.report import exit_status
from nagar.ingest.service import ingest_file
from nagar.store.duckdb import DuckDBStore
from tests.conftest import DHAKA

NOW = datetime(2025, 6, 1, tzinfo=timezone.utc)
HEADER = "station,parameter,time,value,unit\n"
GOOD = "st1,pm25,2025-01-01T{h:02d}:00:00Z,12,µg/m³\n"
runner = CliRunner()


def test_blank_lines_do_not_shift_the_reported_lines(store, tmp_path):
    p = tmp_path / "b.csv"
    # line 1 header, 2 good, 3 blank, 4 bad value, 5 two values, 6 blank, 7 bad unit
    p.write_text(HEADER + GOOD.format(h=0) + "\n" + "st1,pm25,2025-01-01T01:00:00Z,x,µg/m³\n" + "st1,pm25\n\n"
                 + "st1,pm25,2025-01-01T02:00:00Z,3,furlongs\n", encoding="utf-8")
    res = ingest_file(store, path=p, settings=Settings(), now=NOW)
    assert [(e.index, e.field) for e in res.errors] == [(4, "value"), (5, "line"), (7, "unit")]
    assert (res.received, res.inserted, res.rejected) == (4, 1, 3)  # blank lines are not rows


@pytest.mark.parametrize("good_lines, line", [(1, 3), (3000, 3002)])  # in the header's block / found by Arrow
def test_a_file_that_is_not_utf8_names_its_line(store, tmp_path, good_lines, line):
    p = tmp_path / "excel.csv"
    body = HEADER + "".join(GOOD.format(h=i % 24).replace("2025-01-01", f"2025-01-{1 + i // 24:02d}")
                            for i in range(good_lines))
    p.write_bytes(body.encode("utf-8") + "st1,pm25,2025-03-01T00:00:00Z,12,µg/m³\n".encode("cp1252"))
    with pytest.raises(InvalidInput) as e:
        ingest_file(store, path=p, settings=Settings(), now=NOW)
    # "st1,pm25,2025-03-01T00:00:00Z,12," is 33 bytes: the 34th is cp1252's µ, 0xb5
    assert e.value.message.startswith(f"excel.csv, line {line}: byte 0xb5 at byte 34 of the line is not UTF-8 "
                                      "(in Windows-1252 that byte is 'µ'); save the file as UTF-8")
    assert "CSV UTF-8 (Comma delimited)" in e.value.message


def test_read_text_names_line_and_strips_a_bom(tmp_path):
    p = tmp_path / "t.csv"
    p.write_bytes(b"\xef\xbb\xbfa,b\n1,2\n")
    assert read_text(p) == "a,b\n1,2\n"
    p.write_bytes(b"\xef\xbb\xbfa,b\n1,2\n3,caf\xe9\n")  # "3,caf" is 5 bytes: 0xe9 is the 6th
    with pytest.raises(InvalidInput, match=r"t.csv, line 3: byte 0xe9 at byte 6 of the line .*'é'"):
        read_text(p)
    with pytest.raises(InvalidInput, match="no such file"):
        read_text(tmp_path / "none.csv")


def test_exit_status_rule():
    assert [exit_status(received=n, rejected=r) for n, r in ((0, 0), (5, 0), (5, 2), (5, 5))] == [0, 0, 3, 1]


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "c.duckdb"
    s = DuckDBStore(path)
    s.upsert_city(DHAKA)
    s.upsert_station(dict(id="st1", city="dhaka", name="Station 1", lat=23.78, lon=90.38, parameters=["pm25"]))
    s.close()
    return path


def test_ingest_cli_exit_status(db, tmp_path):
    files = {"good": HEADER + GOOD.format(h=1) + GOOD.format(h=2),
             "some": HEADER + GOOD.format(h=3) + "st1,pm25,2025-01-01T04:00:00Z,-5,µg/m³\n",
             "all": HEADER + "ghost,pm25,2025-01-01T05:00:00Z,5,µg/m³\n"}
    codes = {}
    for name, text in files.items():
        f = tmp_path / f"{name}.csv"
        f.write_text(text, encoding="utf-8")
        for extra in ([], ["--json"]):
            r = runner.invoke(app, ["ingest", str(f), "--db", str(db), *extra])
            codes.setdefault(name, set()).add(r.exit_code)
            if name == "some" and not extra:
                assert "Rejected rows (1)" in r.output and "impossible value" in r.output
    assert codes == {"good": {0}, "some": {3}, "all": {1}}
    r = runner.invoke(app, ["ingest", str(tmp_path / "missing.csv"), "--db", str(db)])
    assert r.exit_code == 2
    assert "Exit status: 0 every row stored; 3 some rows rejected" in " ".join(
        runner.invoke(app, ["ingest", "--help"]).output.split())


def test_version_comes_from_the_package_metadata():
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.output.strip() == f"nagar {version('nagar')}"


def test_ewaste_and_climate_files_that_are_not_utf8_name_the_line(tmp_path):
    pom = tmp_path / "pom.csv"
    # "2021,0306,2," is 12 bytes: the 13th is cp1252's Ü, 0xdc
    pom.write_bytes("year,unu_key,kg,source\n2020,0306,1,BTRC\n2021,0306,2,Übersicht\n".encode("cp1252"))
    r = runner.invoke(app, ["ewaste", "estimate", "--pom", str(pom)])
    out = " ".join(r.output.split())
    assert r.exit_code == 2 and "pom.csv, line 3: byte 0xdc at byte 13 of the line is not UTF-8" in out, out
    from nagar.climate.service import load_activity_file

    act = tmp_path / "activity.csv"
    act.write_bytes("year,kind,sector,item,location,quantity,unit\n2024,fuel,commercial,diesel,in,1,kt\n"
                    "2024,fuel,commercial,diesel,in,1,m³\n".encode("cp1252"))
    with pytest.raises(InvalidInput, match=r"activity.csv, line 3: byte 0xb3 .*'³'"):
        load_activity_file(None, path=act, city="dhaka", actor="t")
