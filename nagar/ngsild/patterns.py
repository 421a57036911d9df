"""Client-supplied regular expressions (``idPattern``, the ``q`` operators ``~=`` / ``!~=``), compiled by RE2.

**What the specification asks.** ETSI GS CIM 009 clause 4.9 ("NGSI-LD Query Language"): "RegExp shall be a
regular expression as mandated by IEEE 1003.2" (POSIX), and for ``~=`` "the target value shall be in the
L(R) of the regular pattern" (``!~=``: shall not be), a target value that is not a String not matching.
``idPattern`` (EntityInfo, clause 5.2.8; EntitySelector, 5.2.33) denotes Entity ids "as a regular
expression pattern mandated by IEEE 1003.2". Sources: for V1.6.1, ETSI's OpenAPI document
``ngsi-ld-api.yaml`` (``info.version: 1.6.1``; EntityInfo 5.2.8 and EntitySelector 5.2.33 descriptions, the
``idPattern`` parameter "Regular expression that shall be matched by entity ids", ``q`` "Query as per
clause 4.9") as vendored in ``giros-dit/python-ngsi-ld-client`` ``schemas/ngsi-ld-api.yaml`` (commit
02d4db67568b64027dff801125c78a8c2ec116c6); the two clause 4.9 sentences quoted are from V1.9.1's text (the
V1.6.1 PDF was not available offline, so they are not checked against V1.6.1 itself).
POSIX has no lookaround, and backreferences only in its basic (BRE) form, not the extended one (ERE):
refusing them departs from IEEE 1003.2 only for BRE backreferences, the one construct that cannot be
matched in linear time.

**Why RE2.** Python's ``re`` backtracks: one request with ``idPattern=^(a+)+$`` against an id of many a's and
a final b, or ``q=name~="(x+x+)+y"``, takes time exponential in the text and holds a CPU core (and the GIL)
for minutes: a denial of service on a public API. RE2 (``google-re2``, module ``re2``) matches in time linear
in the text (and in the pattern's size) and bounds each compiled pattern's memory (2 MiB here, see ``_OPTIONS.max_mem``).
Patterns are further limited to :data:`MAX_PATTERN` characters (longer: 400 BadRequestData naming the
parameter). Patterns RE2 cannot compile - backreferences ``\\1`` / ``(?P=name)``, lookaround ``(?=`` ``(?!``
``(?<=`` ``(?<!``, possessive or atomic forms, repetition counts above 1000 - answer 400 BadRequestData
naming the parameter and the reason.

**Where matching happens, per backend.** No regular expression is sent to SQL: the store selects candidate
entities by tenant, id and type (``ngsild_query``: ``IN`` and ``LIKE`` only, the same SQL on DuckDB and
PostgreSQL) and ``idPattern`` / ``q`` are evaluated here, in Python, with RE2. So the syntax accepted and the
results are the same on both backends (DuckDB's ``regexp_matches`` is RE2 too; PostgreSQL's ``~`` is a
different, backtracking dialect - neither is used, and any future push-down must keep this module's
syntax and the 400s, e.g. by pushing only to DuckDB).

**Matching semantics kept from before.** ``idPattern`` must match the whole id (``fullmatch``); ``~=`` /
``!~=`` search the value (a match anywhere, as POSIX ``regexec`` and other brokers do; anchor with ``^...$``
for the clause's whole-value L(R) reading).

**Differences from Python ``re`` that a client may notice** (RE2 syntax:
https://github.com/google/re2/wiki/Syntax):

* ``\\d``, ``\\w``, ``\\s``, ``\\b`` are ASCII in RE2 (Python's are Unicode): use ``\\p{Nd}``, ``[\\p{L}\\p{N}_]``,
  ``\\p{Z}`` for Unicode (the clause's own grammar names ``\\p{L}`` and ``\\p{N}``). POSIX classes
  ``[[:alpha:]]`` are ASCII too.
* ``\\Z`` is spelled ``\\z``; ``$`` (without ``(?m)``) matches only at the very end, not before a final newline.
* No backreferences, lookaround, conditionals ``(?(1)...)``, possessive ``a++`` / atomic ``(?>...)``
  groups, verbose ``(?x)`` or ASCII ``(?a)`` flags; flags ``(?i)``, ``(?m)``, ``(?s)``, ``(?U)`` work.
* Repetition counts ``{n,m}`` are at most 1000 (and a pattern whose compiled form exceeds RE2's memory
  bound, 2 MiB here, e.g. nested large counts or ``\\p{L}{200}``, is refused).
"""

from __future__ import annotations

import re2

from .errors import BadRequestData

MAX_PATTERN = 1000
"""Longest pattern accepted, in characters (idPattern; each ``~=`` / ``!~=`` value of ``q``)."""

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a refused pattern is the client's error (a 400), not a line on the server's stderr
_OPTIONS.never_capture = True  # only "does it match" is asked: no submatch bookkeeping
_OPTIONS.max_mem = 2 << 20
"""RE2's memory budget per compiled pattern (program plus its lazily built DFA; a DFA that fills it is flushed,
or matching falls back to RE2's NFA, still linear). The ``re2`` module caches the last 128 compiled patterns,
so distinct hostile patterns hold at most ~256 MiB; RE2's own default of 8 MiB would allow ~1 GiB. It still
admits e.g. ``\\p{L}{1,100}``; a pattern whose program does not fit is refused (400)."""

Regex = re2._Regexp

_HINTS = (  # (start of RE2's error text, what to tell the client)
    ("invalid escape sequence: \\Z", "write \\z for the end of the text"),
    ("invalid perl operator: (?=", "lookahead is not supported"),
    ("invalid perl operator: (?!", "lookahead is not supported"),
    ("invalid perl operator: (?<=", "lookbehind is not supported"),
    ("invalid perl operator: (?<!", "lookbehind is not supported"),
    ("invalid perl operator: (?>", "atomic groups are not supported"),
    ("bad repetition operator: ++", "possessive quantifiers are not supported"),
    ("bad repetition operator: *+", "possessive quantifiers are not supported"),
    ("bad repetition operator: ?+", "possessive quantifiers are not supported"),
    ("invalid repetition size", "repetition counts above 1000 are not supported"),
    ("pattern too large", "the pattern is too large once compiled"),
)


def compile_pattern(text: str, field: str) -> Regex:
    """``text`` compiled by RE2, or :class:`BadRequestData` (400) naming ``field`` and the reason."""
    if len(text) > MAX_PATTERN:
        raise BadRequestData(f"{field}: a regular expression of {len(text)} characters is longer than the "
                             f"{MAX_PATTERN} accepted", field=field)
    try:
        return re2.compile(text, _OPTIONS)  # re2 keeps an LRU cache of compiled patterns
    except re2.error as exc:
        raise BadRequestData(f"{field}: {text!r} is not a regular expression this broker accepts "
                             f"({_reason(exc, text)}; RE2 syntax, linear-time matching)", field=field) from None


def _reason(exc: Exception, text: str) -> str:
    msg = exc.args[0] if exc.args else ""
    msg = msg.decode("utf-8", "replace") if isinstance(msg, bytes) else str(msg)
    if (msg.startswith("invalid escape sequence: \\") and msg[26:27].isdigit()) or \
            (msg.startswith("invalid perl operator: (?P") and "(?P=" in text):
        return f"backreferences are not supported: {msg}"
    for head, hint in _HINTS:
        if msg.startswith(head):
            return f"{hint}: {msg}"
    return msg or "it does not compile"


def compile_any(texts: list[str], field: str) -> Regex:
    """One pattern matching what any of ``texts`` matches (each checked and limited on its own, so a
    client's several idPatterns are not refused for their total length)."""
    for t in texts:
        compile_pattern(t, field)
    if len(texts) == 1:
        return compile_pattern(texts[0], field)
    try:
        return re2.compile("|".join(f"(?:{t})" for t in texts), _OPTIONS)
    except re2.error as exc:
        raise BadRequestData(f"{field}: the patterns together do not compile ({_reason(exc, '')})",
                             field=field) from None
