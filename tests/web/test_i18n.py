"""The translation catalogues: every word of the dashboard has a Bengali translation."""

from __future__ import annotations

import re

import pytest
from babel.messages.pofile import read_po

from nagar.web import i18n

CATEGORY_NAMES = [
    "Good", "Moderate", "Unhealthy for Sensitive Groups", "Unhealthy", "Very Unhealthy", "Hazardous",
    "Caution", "Extremely Unhealthy", "Satisfactory", "Poor", "Very Poor", "Severe",
]
POLLUTANT_NAMES = [
    "Fine particulate matter (PM2.5)", "Coarse particulate matter (PM10)", "Ozone (O₃)",
    "Nitrogen dioxide (NO₂)", "Sulphur dioxide (SO₂)", "Carbon monoxide (CO)",
]
BENGALI = re.compile(r"[\u0980-\u09FF]")


@pytest.fixture(scope="module")
def used() -> dict[str, list[str]]:
    found = i18n.extract_messages()
    assert len(found) > 40  # templates, script and data words were all found
    return found


def test_every_msgid_used_has_a_bengali_translation(used):
    assert i18n.missing("bn", used) == []
    assert i18n.missing("en", used) == []


def test_bengali_translations_are_bengali(used):
    latin_only = [m for m in used if not BENGALI.search(i18n.gettext("bn", m))]
    assert latin_only == []


@pytest.mark.parametrize("msgid", CATEGORY_NAMES + POLLUTANT_NAMES)
def test_category_and_pollutant_names_are_translated(used, msgid):
    assert msgid in used
    assert BENGALI.search(i18n.gettext("bn", msgid))


def test_category_names_of_every_shipped_standard_are_translated(used):
    import json
    from pathlib import Path

    import nagar

    tables = sorted((Path(nagar.__file__).parent / "air" / "standards").glob("*.json"))
    if not tables:
        pytest.skip("no AQI standard tables shipped yet")
    for table in tables:
        for category in json.loads(table.read_text(encoding="utf-8")).get("categories", []):
            assert category["name"] in used, f"{table.name}: add N_({category['name']!r}) to nagar/web/i18n.py"
            assert BENGALI.search(i18n.gettext("bn", category["name"])), (table.name, category["name"])


def test_script_and_template_words_are_extracted(used):
    where = {loc.split(":")[0] for locs in used.values() for loc in locs}
    assert {"templates/dashboard.html", "static/js/dashboard.js", "i18n.py"} <= where
    assert "Select a station on the map" in used  # a t("...") of the script
    assert "Monitoring stations" in used  # a _("...") of the template


def test_catalogues_are_in_step_with_the_code(used):
    for lang in i18n.LANGUAGES:
        with i18n.po_path(lang).open("rb") as f:
            catalog = read_po(f, locale=lang)
        ids = {m.id for m in catalog if m.id}
        assert ids == set(used), f"{lang}: run `python -m nagar.web.i18n` to update the catalogue"
        assert not [m.id for m in catalog if m.id and m.fuzzy]


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_placeholders_survive_translation(used, lang):
    for msgid in used:
        text = i18n.gettext(lang, msgid)
        assert set(re.findall(r"\{\w+\}", text)) == set(re.findall(r"\{\w+\}", msgid)), (lang, msgid)


def test_gettext_falls_back_to_english():
    assert i18n.gettext("bn", "Unhealthy") == "অস্বাস্থ্যকর"
    assert i18n.gettext("ja", "Good") == "良好"
    assert i18n.gettext("ja", "no such message") == "no such message"
    assert i18n.gettext("xx", "Good") == "Good"


@pytest.mark.parametrize(
    "kw, expected",
    [
        ({"requested": "bn"}, "bn"),
        ({"requested": "bn-BD"}, "bn"),
        ({"requested": "xx", "cookie": "ja"}, "ja"),
        ({"cookie": "bn", "accept": "ja"}, "bn"),
        ({"accept": "fr-FR,bn;q=0.8,en;q=0.5"}, "bn"),
        ({"accept": "ja-JP"}, "ja"),
        ({"accept": "fr"}, "en"),
        ({"accept": "bn;q=0, ja;q=0.5"}, "ja"),
        ({}, "en"),
    ],
)
def test_negotiate(kw, expected):
    assert i18n.negotiate(**kw) == expected


def test_language_names_are_their_own():
    assert i18n.language_name("bn") == "বাংলা"
    assert i18n.language_name("ja") == "日本語"


def test_data_messages_match_the_words_the_api_sends():
    """The page translates these API strings with t(): the catalogue must hold them verbatim."""
    from nagar.climate.demo import DEMO_DRIVERS
    from nagar.water.objectives import shipped_sets
    from nagar.water.parameters import PARAMETERS

    data = set(i18n.DATA_MESSAGES)
    assert {p.name for p in PARAMETERS.values()} <= data
    assert {o.name for o in shipped_sets()} <= data
    assert DEMO_DRIVERS["source"] in data
    for lang in ("bn", "ja"):
        assert i18n.gettext(lang, "Dissolved oxygen") != "Dissolved oxygen"
