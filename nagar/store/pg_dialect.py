"""DuckDB SQL -> PostgreSQL SQL: the one place where the two dialects are reconciled.

Nagar's store SQL is written once, in DuckDB's dialect with ``?`` placeholders (``duckdb.py``, the
``*_tables.py`` mixins, the ``schema_*.py`` migrations). :func:`to_postgres` rewrites one statement for
psycopg 3, token by token (string literals, quoted identifiers and comments are never touched):

- ``?`` -> ``%s``, and every literal ``%`` doubled for psycopg; arguments that a rewrite moves keep
  their values (:attr:`Translated.order`);
- ``x IN (SELECT unnest(?))`` -> ``x = ANY(%s)``, ``NOT IN`` -> ``<> ALL``;
  ``list_contains(l, x)`` (``list_has``, ``array_contains``) -> ``(x = ANY(l))``;
- ``GROUP BY ALL`` -> ``GROUP BY 1, 2`` (the select items without an aggregate; dropped if none);
  ``ORDER BY ALL [DESC]`` -> ``ORDER BY 1, 2, ... [DESC]``;
- ``INTERVAL 7 HOUR`` -> ``INTERVAL '7 HOUR'``; ``INTERVAL ? HOUR`` -> ``(%s * INTERVAL '1 HOUR')``;
- ``time_bucket(w, ts[, origin])`` -> ``date_bin(w, ts, TIMESTAMP '2000-01-03')`` (DuckDB's origin);
  literal month/quarter/year widths by month arithmetic from 2000-01-01;
- ``strftime(ts, '%Y-%m')`` -> ``to_char(ts, 'YYYY"-"MM')`` (the format must be a literal);
  ``ifnull(a, b)`` -> ``coalesce(a, b)``;
- ``INSERT OR REPLACE INTO t ...`` -> ``INSERT INTO t ... ON CONFLICT (primary key) DO UPDATE SET
  c = excluded.c, ...`` (key and columns read from the catalog); ``INSERT OR IGNORE`` -> ``... ON
  CONFLICT DO NOTHING``;
- types after ``::``, in ``CAST(x AS t)`` and in ``CREATE TABLE`` / ``ALTER`` DDL: ``DOUBLE`` -> ``DOUBLE
  PRECISION``, ``FLOAT`` -> ``REAL`` (4 bytes in DuckDB, 8 in PostgreSQL), ``TINYINT``/``UTINYINT`` ->
  ``SMALLINT``, ``USMALLINT`` -> ``INTEGER``, ``UINTEGER`` -> ``BIGINT``, ``UBIGINT``/``HUGEINT`` ->
  ``NUMERIC``, ``BLOB`` -> ``BYTEA``, ``STRING`` -> ``VARCHAR`` (see :data:`TYPES`);
- text columns in DDL get ``COLLATE "C"``: PostgreSQL then sorts and compares bytewise as DuckDB does,
  whatever the database's locale.

What needs no rewriting (same meaning in both): ``timezone('UTC', ts)``, ``AT TIME ZONE``,
``date_trunc``, ``nextval('seq')``, ``CREATE SEQUENCE``, ``ON CONFLICT ... DO UPDATE``, ``RETURNING``,
``?::VARCHAR[]``, window ``RANGE BETWEEN INTERVAL ... PRECEDING``, ``count(*)``, ``avg``.
``any_value`` is created by the PostgreSQL store as an aggregate where the server lacks it (< 16).

Not translated (raise at run time on PostgreSQL; keep them out of shared SQL): ``ANTI JOIN`` /
``SEMI JOIN`` (write ``NOT EXISTS`` / ``EXISTS``), ``QUALIFY``, ``SELECT * EXCLUDE/REPLACE``,
``TRY_CAST``, list literals ``[1, 2]`` and list functions other than ``list_contains``, ``struct``/``map``
values, ``rowid``, ``$1``-style placeholders, ``epoch()``/``date_diff()``, DuckDB-only JSON helpers, and
a bare ``unnest(?)`` of an *empty* list of numbers (typed text[]).
Semantics that differ although the SQL runs: ``avg`` over integers and ``sum`` over BIGINT return
NUMERIC (Python ``Decimal``) on PostgreSQL — cast (``avg(x)::DOUBLE``) where it matters; float sums may
differ in the last bits (another summation order); ``lower``/``upper`` on "C"-collated text fold ASCII
letters only; a string compared with a string is fine, but a Python ``str`` bound where PostgreSQL
cannot infer a type (``SELECT ?``) arrives as ``unknown``/text, not DuckDB's VARCHAR-with-casts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

_TOKEN_RE = re.compile(
    r"""
      (?P<ws>\s+)
    | (?P<comment>--[^\n]*|/\*.*?\*/)
    | (?P<str>'(?:[^']|'')*')
    | (?P<qid>"(?:[^"]|"")*")
    | (?P<dollar>\$(?P<tag>[A-Za-z_][A-Za-z0-9_]*|)\$.*?\$(?P=tag)\$)
    | (?P<param>\?)
    | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
    | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
    | (?P<cast>::)
    | (?P<punct>[(),;])
    | (?P<op>.)
    """,
    re.S | re.X,
)

TYPES = {
    "DOUBLE": "DOUBLE PRECISION", "FLOAT": "REAL", "FLOAT4": "REAL", "FLOAT8": "DOUBLE PRECISION",
    "TINYINT": "SMALLINT", "INT1": "SMALLINT", "UTINYINT": "SMALLINT", "USMALLINT": "INTEGER",
    "UINTEGER": "BIGINT", "UBIGINT": "NUMERIC(20)", "HUGEINT": "NUMERIC(38)", "UHUGEINT": "NUMERIC(39)",
    "BLOB": "BYTEA", "STRING": "VARCHAR", "DATETIME": "TIMESTAMP", "TIMESTAMP_US": "TIMESTAMP",
    "TIMESTAMP_MS": "TIMESTAMP(3)", "TIMESTAMP_S": "TIMESTAMP(0)", "TIMESTAMP_NS": "TIMESTAMP",
}
"""DuckDB type names PostgreSQL lacks or reads differently (DuckDB FLOAT is 4 bytes, PostgreSQL's 8)."""
_TEXT_TYPES = {"VARCHAR", "TEXT", "STRING", "CHAR", "BPCHAR"}
_DDL_KEYWORDS = frozenset(
    """ADD ALTER AS BY CHECK COLLATE COLUMN CONSTRAINT DEFAULT DROP EXISTS INDEX KEY NOT NULL ON PRIMARY
    REFERENCES RENAME SCHEMA SEQUENCE SET TABLE TO UNIQUE VIEW""".split()
)
"""Words after which a type name is an identifier (a column being named), not a column's type."""

AGGREGATES = frozenset(
    """avg sum count min max any_value arbitrary first last string_agg group_concat listagg array_agg list
    bool_and bool_or every bit_and bit_or bit_xor stddev stddev_pop stddev_samp variance var_pop var_samp
    median mode quantile quantile_cont quantile_disc percentile_cont percentile_disc count_if countif
    corr covar_pop covar_samp regr_avgx regr_avgy regr_count regr_intercept regr_r2 regr_slope regr_sxx
    regr_sxy regr_syy fsum sumkahan kahan_sum favg product geomean geometric_mean arg_min arg_max argmin
    argmax min_by max_by approx_count_distinct approx_quantile entropy kurtosis skewness histogram
    json_group_array json_group_object json_agg jsonb_agg json_object_agg xmlagg bitstring_agg""".split()
)
"""Functions that make a select item an aggregate (for GROUP BY ALL)."""

_INTERVAL_UNITS = frozenset(
    """microsecond microseconds millisecond milliseconds second seconds minute minutes hour hours day days
    week weeks month months quarter quarters year years decade decades century centuries""".split()
)

_STRFTIME = {
    "Y": "YYYY", "y": "YY", "m": "MM", "-m": "FMMM", "d": "DD", "-d": "FMDD", "H": "HH24", "-H": "FMHH24",
    "I": "HH12", "M": "MI", "S": "SS", "f": "US", "p": "AM", "j": "DDD", "b": "Mon", "h": "Mon",
    "B": "FMMonth", "a": "Dy", "A": "FMDay", "u": "ID", "G": "IYYY", "V": "IW", "Z": "TZ", "z": "OF",
}


class TranslationError(ValueError):
    """Shared SQL uses a DuckDB construct this translator cannot express on PostgreSQL."""


@dataclass(frozen=True)
class Translated:
    """One statement for psycopg: ``sql`` with ``%s`` placeholders, ``order`` the index into the
    caller's DuckDB parameters of each ``%s`` (rewrites may move arguments), ``text_arrays`` the
    indexes of parameters used as a bare ``unnest(?)`` (sent as ``text[]`` when they hold strings)."""

    sql: str
    order: tuple[int, ...]
    nparams: int
    text_arrays: frozenset[int] = frozenset()

    def bind(self, params) -> list:
        params = list(params or ())
        if len(params) != self.nparams:
            raise TranslationError(f"statement takes {self.nparams} parameters, got {len(params)}")
        return [params[i] for i in self.order]


Catalog = Callable[[str], tuple[list[str], list[str]]]
"""table name -> (conflict key columns, all columns); for INSERT OR REPLACE."""


def to_postgres(sql: str, catalog: Catalog | None = None) -> Translated:
    """Translate one DuckDB statement (see the module docstring). ``catalog`` is only consulted for
    ``INSERT OR REPLACE``; everything else is cached by statement text."""
    if re.search(r"\bINSERT\s+OR\s+REPLACE\b", sql, re.I):
        if catalog is None:
            raise TranslationError("INSERT OR REPLACE needs the table's key: pass a catalog")
        return _Translator(sql, catalog).run()
    return _cached(sql)


@lru_cache(maxsize=4096)
def _cached(sql: str) -> Translated:
    return _Translator(sql, None).run()


_MARK = "\x00{}\x00"
_MARK_RE = re.compile("\x00(\\d+)\x00")


class _Translator:
    def __init__(self, sql: str, catalog: Catalog | None):
        self.sql = sql
        self.catalog = catalog
        self.toks: list[tuple[str, str]] = []
        pos = 0
        for m in _TOKEN_RE.finditer(sql):
            if m.start() != pos:  # pragma: no cover - the pattern matches any character
                raise TranslationError(f"cannot read SQL at {sql[pos:pos + 20]!r}")
            kind = m.lastgroup if m.lastgroup != "tag" else "dollar"
            text = m.group()
            if kind == "op" and text in "'\"":
                raise TranslationError(f"unterminated quote in SQL: {sql[m.start():m.start() + 40]!r}")
            self.toks.append((kind, text))
            pos = m.end()
        self.n = len(self.toks)
        self.match = self._match_parens()
        self.nparams = 0
        self.text_arrays: set[int] = set()
        words = [t.upper() for k, t in self.toks if k == "word"][:4]
        self.ddl = bool(words) and (words[0] == "ALTER" or (words[0] == "CREATE" and "TABLE" in words))

    # structure --------------------------------------------------------------------------------
    def _match_parens(self) -> dict[int, int]:
        stack, match = [], {}
        for i, (k, t) in enumerate(self.toks):
            if k == "punct" and t == "(":
                stack.append(i)
            elif k == "punct" and t == ")":
                if not stack:
                    raise TranslationError("unbalanced ')' in SQL")
                match[stack.pop()] = i
        if stack:
            raise TranslationError("unbalanced '(' in SQL")
        return match

    def _sig(self, i: int, hi: int | None = None) -> int:
        """Index of the first significant token at or after ``i`` (``hi`` if none)."""
        hi = self.n if hi is None else hi
        while i < hi and self.toks[i][0] in ("ws", "comment"):
            i += 1
        return i

    def _is(self, i: int, kind: str, text: str | None = None, hi: int | None = None) -> bool:
        hi = self.n if hi is None else hi
        if i >= hi:
            return False
        k, t = self.toks[i]
        return k == kind and (text is None or t.upper() == text.upper())

    def _items(self, lo: int, hi: int) -> list[tuple[int, int]]:
        """Split [lo, hi) at top-level commas into (start, end) spans."""
        out, start, i = [], lo, lo
        while i < hi:
            k, t = self.toks[i]
            if k == "punct" and t == "(":
                i = self.match[i] + 1
                continue
            if k == "punct" and t == ",":
                out.append((start, i))
                start = i + 1
            i += 1
        if self._sig(start, hi) < hi or out:
            out.append((start, hi))
        return out

    def _has_aggregate(self, lo: int, hi: int) -> bool:
        for i in range(lo, hi):
            k, t = self.toks[i]
            if k == "word" and t.lower() in AGGREGATES and self._is(self._sig(i + 1, hi), "punct", "(", hi):
                return True
        return False

    def _select_items(self, lo: int, at: int) -> list[tuple[int, int]]:
        """Select items of the SELECT (same nesting level, in [lo, at)) that a GROUP/ORDER BY ALL at
        ``at`` belongs to."""
        sel, i = None, lo
        while i < at:
            k, t = self.toks[i]
            if k == "punct" and t == "(":
                i = self.match[i] + 1
                continue
            if k == "word" and t.upper() == "SELECT":
                sel = i
            i += 1
        if sel is None:
            raise TranslationError("GROUP BY ALL / ORDER BY ALL without a SELECT")
        i = self._sig(sel + 1, at)
        if self._is(i, "word", "DISTINCT", at) or self._is(i, "word", "ALL", at):
            distinct = self._is(i, "word", "DISTINCT", at)
            i = self._sig(i + 1, at)
            if distinct and self._is(i, "word", "ON", at):
                j = self._sig(i + 1, at)
                i = self._sig(self.match[j] + 1, at)
        end, j = at, i
        while j < at:
            k, t = self.toks[j]
            if k == "punct" and t == "(":
                j = self.match[j] + 1
                continue
            if k == "word" and t.upper() in ("FROM", "WHERE", "GROUP", "HAVING", "WINDOW", "ORDER", "LIMIT"):
                end = j
                break
            j += 1
        return self._items(i, end)

    # rendering --------------------------------------------------------------------------------
    def run(self) -> Translated:
        lo, hi = 0, self.n
        suffix = ""
        head = self._sig(0)
        if self._is(head, "word", "INSERT"):
            nxt = self._sig(head + 1)
            if self._is(nxt, "word", "OR"):
                mode_i = self._sig(nxt + 1)
                mode = self.toks[mode_i][1].upper() if mode_i < self.n else ""
                if mode not in ("REPLACE", "IGNORE"):
                    raise TranslationError(f"INSERT OR {mode} is not supported")
                into = self._sig(mode_i + 1)
                suffix, hi = self._conflict_clause(mode, into)
                out = self._render(lo, head + 1) + " " + self._render(into, hi)
                return self._finish(out + suffix + self._render(hi, self.n))
        return self._finish(self._render(lo, hi))

    def _conflict_clause(self, mode: str, into: int) -> tuple[str, int]:
        """(ON CONFLICT clause, index before which it goes: top-level RETURNING or the trailing ';')."""
        hi = self.n
        i = into
        while i < self.n:
            k, t = self.toks[i]
            if k == "punct" and t == "(":
                i = self.match[i] + 1
                continue
            if (k == "word" and t.upper() == "RETURNING") or (k == "punct" and t == ";"):
                hi = i
                break
            i += 1
        if mode == "IGNORE":
            return " ON CONFLICT DO NOTHING ", hi
        name_i = self._sig(into + 1)
        name, j = self.toks[name_i][1], name_i + 1
        while self._is(j, "op", ".") and j + 1 < self.n:
            name += "." + self.toks[j + 1][1]
            j += 2
        key, all_cols = self.catalog(name.replace('"', ""))  # type: ignore[misc]
        if not key:
            raise TranslationError(f"INSERT OR REPLACE into {name}: the table has no primary key or unique key")
        cols = all_cols
        p = self._sig(j)
        if self._is(p, "punct", "("):
            first = self._sig(p + 1)
            if not (self._is(first, "word", "SELECT") or self._is(first, "word", "WITH")):
                cols = [self.toks[self._sig(a, b)][1].strip('"') for a, b in self._items(p + 1, self.match[p])]
        update = [c for c in cols if c.lower() not in {k.lower() for k in key}]
        target = ", ".join(key)
        if not update:
            return f" ON CONFLICT ({target}) DO NOTHING ", hi
        sets = ", ".join(f"{c} = excluded.{c}" for c in update)
        return f" ON CONFLICT ({target}) DO UPDATE SET {sets} ", hi

    def _finish(self, out: str) -> Translated:
        order = tuple(int(m) for m in _MARK_RE.findall(out))
        sql = _MARK_RE.sub("%s", out)
        arrays = frozenset(k for k, i in enumerate(order) if i in self.text_arrays)
        return Translated(sql=sql, order=order, nparams=self.nparams, text_arrays=arrays)

    def _param(self) -> str:
        idx = self.nparams
        self.nparams += 1
        return _MARK.format(idx)

    def _render(self, lo: int, hi: int, *, in_cast: bool = False) -> str:
        out: list[str] = []
        i = lo
        while i < hi:
            k, t = self.toks[i]
            up = t.upper()
            if k == "param":
                out.append(self._param())
                i += 1
                continue
            if k in ("ws", "comment", "str", "qid", "dollar", "num", "op", "cast"):
                if k == "cast":
                    out.append(t)
                    j = self._sig(i + 1, hi)
                    if self._is(j, "word", None, hi) and self.toks[j][1].upper() in TYPES:
                        out.append(self._type(j, hi))
                        i = j + 1
                        continue
                    i += 1
                    continue
                out.append(t.replace("%", "%%"))
                i += 1
                continue
            if k == "punct":
                if t == "(":
                    j = self.match[i]
                    out.append("(" + self._render(i + 1, j) + ")")
                    i = j + 1
                    continue
                out.append(t)
                i += 1
                continue
            # words ---------------------------------------------------------------------------
            nxt = self._sig(i + 1, hi)
            if up in ("IN", "NOT"):
                r = self._in_unnest(i, hi)
                if r is not None:
                    out.append(r[0])
                    i = r[1]
                    continue
            if up in ("GROUP", "ORDER") and self._is(nxt, "word", "BY", hi):
                a = self._sig(nxt + 1, hi)
                if self._is(a, "word", "ALL", hi):
                    out.append(self._by_all(up, lo, i, a, hi, out))
                    i = a + 1
                    if up == "ORDER":
                        d = self._sig(i, hi)
                        if self._is(d, "word", "ASC", hi) or self._is(d, "word", "DESC", hi):
                            i = d + 1
                    continue
            if up == "INTERVAL":
                r = self._interval(i, nxt, hi)
                if r is not None:
                    out.append(r[0])
                    i = r[1]
                    continue
            if self._is(nxt, "punct", "(", hi):
                r = self._function(i, nxt)
                if r is not None:
                    out.append(r)
                    i = self.match[nxt] + 1
                    continue
            if in_cast and up == "AS" and self._is(nxt, "word", None, hi) and self.toks[nxt][1].upper() in TYPES:
                out.append(t + " " + self._type(nxt, hi))
                i = nxt + 1
                continue
            if self.ddl and up in TYPES and self._column_type_position(i):
                out.append(self._type(i, hi))
                i += 1
                if up in _TEXT_TYPES or TYPES[up] == "VARCHAR":
                    i = self._collate(i, hi, out)
                continue
            if self.ddl and up in _TEXT_TYPES and self._column_type_position(i):
                out.append(t)
                i = self._collate(i + 1, hi, out)
                continue
            out.append(t)
            i += 1
        return "".join(out)

    def _type(self, j: int, hi: int) -> str:
        up = self.toks[j][1].upper()
        if up == "DOUBLE" and self._is(self._sig(j + 1, hi), "word", "PRECISION", hi):
            return self.toks[j][1]
        return TYPES[up]

    def _column_type_position(self, i: int) -> bool:
        """A type word in DDL that follows a column name (or ``ALTER ... TYPE``), not a column that is
        merely named like a type (``CREATE TABLE t (text VARCHAR)``, ``RENAME COLUMN text TO body``)."""
        j = i - 1
        while j >= 0 and self.toks[j][0] in ("ws", "comment"):
            j -= 1
        if j < 0 or self.toks[j][0] not in ("word", "qid"):
            return False
        return self.toks[j][0] == "qid" or self.toks[j][1].upper() not in _DDL_KEYWORDS

    def _collate(self, i: int, hi: int, out: list[str]) -> int:
        """After a text type in DDL: copy a ``(n)`` length, then add COLLATE "C" unless the column is an
        array or names a collation itself."""
        j = self._sig(i, hi)
        if self._is(j, "punct", "(", hi):
            out.append(self._render(i, self.match[j] + 1))
            i = self.match[j] + 1
            j = self._sig(i, hi)
        if self._is(j, "op", "[", hi) or self._is(j, "word", "COLLATE", hi):
            return i
        out.append(' COLLATE "C"')
        return i

    def _in_unnest(self, i: int, hi: int) -> tuple[str, int] | None:
        """``[NOT] IN (SELECT unnest(X))`` -> ``= ANY(X)`` / ``<> ALL(X)``."""
        neg = self.toks[i][1].upper() == "NOT"
        j = i
        if neg:
            j = self._sig(i + 1, hi)
            if not self._is(j, "word", "IN", hi):
                return None
        p = self._sig(j + 1, hi)
        if not self._is(p, "punct", "(", hi):
            return None
        close = self.match[p]
        s = self._sig(p + 1, close)
        u = self._sig(s + 1, close)
        q = self._sig(u + 1, close)
        if not (self._is(s, "word", "SELECT", close) and self._is(u, "word", "unnest", close)
                and self._is(q, "punct", "(", close)):
            return None
        if self._sig(self.match[q] + 1, close) != close:
            return None
        arg = self._render(q + 1, self.match[q])
        return (f"<> ALL({arg})" if neg else f"= ANY({arg})"), close + 1

    def _by_all(self, kw: str, lo: int, at: int, all_i: int, hi: int, out: list[str]) -> str:
        items = self._select_items(lo, at)
        if kw == "GROUP":
            keys = [str(n + 1) for n, (a, b) in enumerate(items) if not self._has_aggregate(a, b)]
            if not keys:  # only aggregates: one group over everything, as DuckDB does
                while out and out[-1].isspace():
                    out.pop()
                return " "
            return "GROUP BY " + ", ".join(keys)
        d = self._sig(all_i + 1, hi)
        direction = ""
        if self._is(d, "word", "ASC", hi) or self._is(d, "word", "DESC", hi):
            direction = " " + self.toks[d][1].upper()
        return "ORDER BY " + ", ".join(f"{n + 1}{direction}" for n in range(len(items)))

    def _interval(self, i: int, nxt: int, hi: int) -> tuple[str, int] | None:
        """``INTERVAL 7 HOUR`` / ``INTERVAL ? HOUR`` / ``INTERVAL (expr) HOUR``."""
        if nxt >= hi:
            return None
        k, t = self.toks[nxt]
        unit_i = self._sig((self.match[nxt] if (k, t) == ("punct", "(") else nxt) + 1, hi)
        if not (self._is(unit_i, "word", None, hi) and self.toks[unit_i][1].lower() in _INTERVAL_UNITS):
            return None
        unit = self.toks[unit_i][1].upper()
        if k == "num":
            return f"INTERVAL '{t} {unit}'", unit_i + 1
        if k == "param":
            return f"({self._param()} * INTERVAL '1 {unit}')", unit_i + 1
        if (k, t) == ("punct", "("):
            return f"(({self._render(nxt + 1, self.match[nxt])}) * INTERVAL '1 {unit}')", unit_i + 1
        return None

    def _function(self, i: int, p: int) -> str | None:
        name = self.toks[i][1].lower()
        close = self.match[p]
        if name in ("cast", "try_cast"):
            if name == "try_cast":
                raise TranslationError("TRY_CAST has no PostgreSQL equivalent")
            return f"{self.toks[i][1]}({self._render(p + 1, close, in_cast=True)})"
        if name == "unnest":
            a = self._sig(p + 1, close)
            if self._is(a, "param", None, close) and self._sig(a + 1, close) == close:
                self.text_arrays.add(self.nparams)
            return None
        if name not in ("list_contains", "list_has", "array_contains", "ifnull", "strftime", "time_bucket"):
            return None
        spans = self._items(p + 1, close)
        if name == "strftime":
            if len(spans) != 2:
                raise TranslationError("strftime takes (timestamp, format)")
            lits = [self._literal(a, b) for a, b in spans]
            if lits[1] is not None:
                ts, fmt = spans[0], lits[1]
            elif lits[0] is not None:
                ts, fmt = spans[1], lits[0]
            else:
                raise TranslationError("strftime on PostgreSQL needs a literal format string")
            return f"to_char({self._render(*ts)}, '{_to_char_format(fmt)}')"
        args = [self._render(a, b) for a, b in spans]
        if name in ("list_contains", "list_has", "array_contains"):
            if len(args) != 2:
                raise TranslationError(f"{name} takes (list, element)")
            return f"({args[1].strip()} = ANY({args[0].strip()}))"
        if name == "ifnull":
            return f"coalesce({', '.join(args)})"
        # time_bucket(width, ts[, origin or offset])
        if len(args) not in (2, 3):
            raise TranslationError("time_bucket takes (width, timestamp[, origin])")
        width, ts = args[0].strip(), args[1].strip()
        months = _literal_months(width)
        if months:
            if len(args) == 3:
                raise TranslationError("time_bucket with a month width and an origin is not supported")
            return (f"(TIMESTAMP '2000-01-01' + floor(((extract(year FROM {ts}) - 2000) * 12 "
                    f"+ extract(month FROM {ts}) - 1) / {months}) * {months} * INTERVAL '1 month')")
        origin = "TIMESTAMP '2000-01-03'"
        if len(args) == 3:  # an INTERVAL shifts DuckDB's default origin; anything else is the origin
            third = args[2].strip()
            origin = f"({origin} + {third})" if "INTERVAL" in third.upper() else third
        return f"date_bin({width}, {ts}, {origin})"

    def _literal(self, a: int, b: int) -> str | None:
        s = self._sig(a, b)
        if self._is(s, "str", None, b) and self._sig(s + 1, b) == b:
            return self.toks[s][1][1:-1].replace("''", "'")
        return None


def _literal_months(width: str) -> int:
    m = re.fullmatch(r"INTERVAL\s+'(\d+)\s*(MONTHS?|YEARS?|QUARTERS?)'", width, re.I)
    if not m:
        return 0
    n, unit = int(m.group(1)), m.group(2).upper()
    return n * (12 if unit.startswith("YEAR") else 3 if unit.startswith("QUARTER") else 1)


def _to_char_format(fmt: str) -> str:
    """A strftime format as a to_char pattern (literal text double-quoted); SQL-quoted, ``%`` doubled."""
    out, lit, i = [], [], 0

    def flush():
        if lit:
            out.append('"' + "".join(lit).replace("\\", "\\\\").replace('"', '\\"') + '"')
            lit.clear()

    while i < len(fmt):
        c = fmt[i]
        if c == "%" and i + 1 < len(fmt):
            code = fmt[i + 1]
            if code == "-" and i + 2 < len(fmt):
                code, i = "-" + fmt[i + 2], i + 1
            if code == "%":
                lit.append("%")
            elif code in _STRFTIME:
                flush()
                out.append(_STRFTIME[code])
            else:
                raise TranslationError(f"strftime code %{code} has no PostgreSQL to_char equivalent here")
            i += 2
            continue
        lit.append(c)
        i += 1
    flush()
    return "".join(out).replace("'", "''").replace("%", "%%")


# DDL that only PostgreSQL gets, run right after the DuckDB migration of the same number ----------
EXTRA_DDL: dict[int, list[str]] = {
    1: [
        # DuckDB keeps (station, parameter, time) unique through its one write path (an ART index made
        # bulk upserts ~7x slower there); PostgreSQL enforces it and upserts with ON CONFLICT against it.
        "ALTER TABLE observations ADD PRIMARY KEY (station_key, parameter, time)",
        # rows arrive roughly in time order: a BRIN index prunes time ranges for almost no write cost
        "CREATE INDEX observations_time_brin ON observations USING brin (time)",
    ],
    101: [
        # the NGSI-LD temporal API reads one entity's attributes over a time range (schema_ngsild 101
        # drops the index DuckDB cannot use)
        "CREATE INDEX ngsild_history_entity ON ngsild_history (tenant, entity_id, attr, time)",
    ],
}

COMPAT_DDL: list[str] = [
    # any_value(x): the first non-NULL x (built in from PostgreSQL 16; created only where missing)
    "CREATE OR REPLACE FUNCTION nagar_any_value_step(anyelement, anyelement) RETURNS anyelement "
    "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS 'SELECT $1'",
    "CREATE OR REPLACE AGGREGATE any_value(anyelement) (SFUNC = nagar_any_value_step, STYPE = anyelement, "
    "PARALLEL = SAFE)",
]
