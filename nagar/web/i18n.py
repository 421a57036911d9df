"""Translations of the dashboard (and of anything else that wants them): gettext catalogues read from
``nagar/web/translations/<lang>/LC_MESSAGES/messages.po`` with Babel when ``nagar.web.views`` is
imported (no compile step; a broken catalogue fails at start-up).

``en`` and ``bn`` are complete; ``ja`` may be partial. A msgid without a translation falls back to the
English msgid itself, so a partial catalogue never shows a blank.

>>> gettext("bn", "Unhealthy")
'অস্বাস্থ্যকর'
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import babel.support
from babel import Locale, negotiate_locale
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

TRANSLATIONS_DIR = Path(__file__).parent / "translations"
LANGUAGES: tuple[str, ...] = ("en", "bn", "ja")
"""Languages the dashboard offers, in the order of the language switch."""
DEFAULT_LANGUAGE = "en"
INTL_LOCALES = {"en": "en-GB", "bn": "bn-BD", "ja": "ja-JP"}
"""BCP 47 tag handed to the browser's ``Intl`` for number and date formatting per language."""


def N_(msgid: str) -> str:
    """Mark a msgid for extraction without translating it (the text is translated where it is shown)."""
    return msgid


# Words that reach the page as data from the API (AQI category names of every standard Nagar ships,
# the names of Bangladesh's cities) rather than as literals in a template or script. Listed here so that extraction finds
# them and the catalogue test holds every language to translating them. The script shows a data word
# through the catalogue and falls back to the stored text (station names stay as stored).
DATA_MESSAGES: tuple[str, ...] = (
    N_("Good"),
    N_("Moderate"),
    N_("Moderately Polluted"),
    N_("Satisfactory"),
    N_("Caution"),
    N_("Unhealthy for Sensitive Groups"),
    N_("Unhealthy"),
    N_("Poor"),
    N_("Very Unhealthy"),
    N_("Very Poor"),
    N_("Extremely Unhealthy"),
    N_("Hazardous"),
    N_("Severe"),
    # City names. The cities of Bangladesh, Nagar's first users, are written in the page's script: their
    # own Bengali names on Bengali pages, and the katakana Japanese partners use on Japanese pages (ダッカ,
    # チッタゴン, ...). Every other city keeps its stored name (Latin script) in every language, so that the
    # fund's list of ASEAN cities never mixes translated and untranslated names (most have no Bengali or
    # Japanese form in a source we could cite).
    N_("Dhaka"),
    N_("Chattogram"),
    N_("Khulna"),
    N_("Rajshahi"),
    N_("Sylhet"),
    N_("Barishal"),
    N_("Rangpur"),
    N_("Mymensingh"),
    N_("Narayanganj"),
    N_("Gazipur"),
    N_("Cumilla"),
    # water-quality parameters (nagar.water.parameters), named by the API in English
    N_("pH"),
    N_("Dissolved oxygen"),
    N_("Biochemical oxygen demand (5 d, 20 °C)"),
    N_("Chemical oxygen demand"),
    N_("Total dissolved solids"),
    N_("Turbidity"),
    N_("Ammonia"),
    N_("Nitrate"),
    N_("E. coli / coliforms"),
    N_("Arsenic"),
    N_("Lead"),
    # water-quality objective sets shipped in nagar/water/objectives/
    N_("Bangladesh drinking water (ECR 1997)"),
    N_("Bangladesh inland surface water usable by fisheries (ECR 1997)"),
    N_("Bangladesh industrial effluent discharged into inland surface water (ECR 1997)"),
    N_("Bangladesh inland surface water usable for irrigation (ECR 1997)"),
    # the demo city's business-as-usual drivers source (nagar.climate.demo.DEMO_DRIVERS["source"])
    N_("population: UN DESA World Urbanization Prospects 2018, Dhaka urban agglomeration 21,006 "
       "thousand (2020) to 28,076 thousand (2030), 2.94 %/yr; GDP +6 %/yr, emission intensity of GDP "
       "-2 %/yr and grid factor -1 %/yr are illustrative assumptions of the demo, not forecasts"),
)


class Translations(babel.support.Translations):
    """gettext translations of one language (usable by Jinja2's i18n extension), built from a .po
    catalogue compiled in memory; fuzzy and empty entries fall back to the English msgid."""

    def __init__(self, lang: str, catalog: Catalog | None):
        self.lang = lang
        self.messages: dict[str, str] = {}
        if catalog is None:
            super().__init__(None)
            return
        buffer = io.BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        buffer.seek(0)
        super().__init__(buffer)
        for message in catalog:
            if message.id and not message.fuzzy and isinstance(message.id, str) and message.string:
                self.messages[message.id] = message.string

    def as_dict(self) -> dict[str, str]:
        """Every translated singular msgid of this language (what the page's script receives)."""
        return dict(self.messages)


def po_path(lang: str) -> Path:
    return TRANSLATIONS_DIR / lang / "LC_MESSAGES" / "messages.po"


def read_catalog(lang: str) -> Catalog | None:
    """The Babel catalogue of ``lang``, or None if there is no .po file for it."""
    path = po_path(lang)
    if not path.is_file():
        return None
    with path.open("rb") as f:
        return read_po(f, locale=lang)


@lru_cache(maxsize=None)
def translations(lang: str) -> Translations:
    """The translations of ``lang`` (an unknown language gets the English fallback)."""
    if lang not in LANGUAGES:
        lang = DEFAULT_LANGUAGE
    return Translations(lang, read_catalog(lang))


def load_all() -> None:
    """Read every catalogue now (called at start-up so that a broken .po fails early)."""
    for lang in LANGUAGES:
        translations(lang)


def gettext(lang: str, msgid: str) -> str:
    """``msgid`` translated into ``lang``; the msgid itself when there is no translation."""
    return translations(lang).gettext(msgid)


def ngettext(lang: str, singular: str, plural: str, n: int) -> str:
    return translations(lang).ngettext(singular, plural, n)


def language_name(lang: str) -> str:
    """The language's own name for itself ("বাংলা"), shown in the language switch."""
    return Locale.parse(lang).display_name or lang


def normalise(code: str | None) -> str | None:
    """``"bn-BD"`` -> ``"bn"`` when the dashboard offers that language, else None."""
    if not code:
        return None
    lang = code.strip().lower().replace("_", "-").split("-")[0]
    return lang if lang in LANGUAGES else None


def negotiate(*, requested: str | None = None, cookie: str | None = None, accept: str | None = None) -> str:
    """Pick the page language: ``?lang=``, then the cookie, then ``Accept-Language``, then English."""
    for candidate in (requested, cookie):
        code = normalise(candidate)
        if code:
            return code
    if accept:
        preferred: list[tuple[float, str]] = []
        for i, part in enumerate(accept.split(",")):
            tag, _, params = part.strip().partition(";")
            q = 1.0
            if params.strip().startswith("q="):
                try:
                    q = float(params.strip()[2:])
                except ValueError:
                    q = 0.0
            if tag.strip() and q > 0:
                preferred.append((-q + i * 1e-6, tag.strip()))
        tags = [tag for _, tag in sorted(preferred)]
        found = negotiate_locale(tags, list(LANGUAGES), sep="-")
        if found:
            return found
        for tag in tags:
            if normalise(tag):
                return normalise(tag)  # type: ignore[return-value]
    return DEFAULT_LANGUAGE


def missing(lang: str, msgids: Iterable[str]) -> list[str]:
    """The msgids among ``msgids`` that ``lang`` does not translate (empty or fuzzy)."""
    have = translations(lang).as_dict()
    return sorted({m for m in msgids if not have.get(m)})


# -------------------------------------------------------------------------- extraction (maintainers)

WEB_DIR = Path(__file__).parent
JS_KEYWORDS = {"t": None}
"""The page script translates with ``t("msgid")``."""


def extract_messages() -> dict[str, list[str]]:
    """Every msgid the dashboard uses, with where it is used: templates (``_()``/``gettext``),
    the page script (``t()``) and the Python modules of ``nagar.web`` (``N_()``/``gettext``)."""
    from babel.messages.extract import extract
    from jinja2.ext import babel_extract

    found: dict[str, list[str]] = {}

    def add(path: Path, messages) -> None:
        for lineno, msgid, _comments, _context in messages:
            key = msgid if isinstance(msgid, str) else msgid[0]
            if key:
                found.setdefault(key, []).append(f"{path.relative_to(WEB_DIR)}:{lineno}")

    for path in sorted((WEB_DIR / "templates").rglob("*.html")):
        with path.open("rb") as f:
            add(path, list(extract(babel_extract, f, options={"extensions": "jinja2.ext.i18n"})))
    for path in sorted((WEB_DIR / "static" / "js").rglob("*.js")):
        with path.open("rb") as f:
            add(path, list(extract("javascript", f, keywords=JS_KEYWORDS)))
    for path in sorted(WEB_DIR.glob("*.py")):
        with path.open("rb") as f:
            add(path, list(extract("python", f, keywords={"N_": None, "gettext": (2,)})))
    return found


def update_catalogues() -> None:
    """Rewrite every .po file with the msgids now in use (new ones empty, unused ones dropped);
    ``en`` is filled with the msgids themselves. Run ``python -m nagar.web.i18n``."""
    from babel.messages.pofile import write_po

    found = extract_messages()
    for lang in LANGUAGES:
        template = Catalog(project="Nagar", version="0.1")  # fresh per language: update() shares messages
        for msgid, locations in found.items():
            template.add(msgid, locations=[(loc.rsplit(":", 1)[0], int(loc.rsplit(":", 1)[1])) for loc in locations])
        catalog = read_catalog(lang) or Catalog(
            locale=lang,
            project="Nagar",
            version="0.1",
            fuzzy=False,
            header_comment=(
                f"# {Locale.parse(lang).english_name} messages of the Nagar dashboard (nagar/web).\n"
                "# Translate the msgstr lines; after changing a template or the page script, run\n"
                "# `python -m nagar.web.i18n` to add new msgids (empty) and drop unused ones."
            ),
        )
        created = catalog.creation_date
        catalog.update(template, no_fuzzy_matching=True)
        catalog.creation_date = created  # update() takes the template's: a run that changes no message
        # would rewrite every file for its date alone
        catalog.obsolete.clear()
        if lang == DEFAULT_LANGUAGE:
            for message in catalog:
                if message.id and not message.string:
                    message.string = message.id
        path = po_path(lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        old = path.read_bytes() if path.exists() else None
        buf = io.BytesIO()
        write_po(buf, catalog, width=100, sort_output=True, include_lineno=False)
        if buf.getvalue() != old:
            path.write_bytes(buf.getvalue())
    translations.cache_clear()


if __name__ == "__main__":
    update_catalogues()
    for lang in LANGUAGES:
        print(lang, "missing:", len(missing(lang, extract_messages())))
