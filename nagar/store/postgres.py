"""PostgreSQL backend: the same :class:`~nagar.store.base.Store` over psycopg 3 and a connection pool.

For deployments where several processes (API workers, ingest daemons) share one database, or where the
database must live on another machine. Selected by ``NAGAR_DATABASE_URL`` (see :func:`nagar.store.open_store`).

Sharing SQL with DuckDB
    Store SQL is written once, in DuckDB's dialect with ``?`` placeholders. On PostgreSQL every statement
    goes through :class:`PgConnection`, a DuckDB-connection-shaped adapter (``execute(sql, params)`` with
    ``.fetchone()/.fetchall()/.to_arrow_table()``, ``sql()``, ``register()``/``unregister()`` of Arrow
    tables) that translates the statement with :func:`nagar.store.pg_dialect.to_postgres` (cached). So:

    - the registry and read methods of :class:`~nagar.store.duckdb.DuckDBStore` are *reused as they are*
      (assigned below, not copied): the same SQL answers on both backends, which is what makes results
      identical (tests/store/test_backends.py holds both to the same assertions);
    - the mixins (``SecurityTables``; ``ClimateTables``, ``FundingTables``, ``MqttTables`` when mixed in:
      ``class S(ClimateTables, PostgresStore)``) run unchanged — they only need ``self._tx()`` and
      ``self._rows()``, which this class provides with the same contracts (``LakeTables`` is DuckDB-only:
      it writes Parquet with DuckDB's COPY and fingerprints with its ``hash``);
    - migrations come from the same list (``nagar.store.migrations.MIGRATIONS``), translated, plus the
      few PostgreSQL-only statements of ``pg_dialect.EXTRA_DDL`` (a real primary key on observations).

    Only the bulk write path is PostgreSQL's own: binary COPY of the integer-coded batch into a temporary
    table, then one ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING (xmax = 0)`` that upserts and counts
    new rows vs. replaced ones.

Ownership and transactions
    One :class:`PostgresStore` owns one ``psycopg_pool.ConnectionPool``. Pooled connections are in
    autocommit mode (a read is one statement) with the session time zone set to UTC. ``_tx()`` checks out
    one connection, opens a transaction, and always commits or rolls back; it is re-entrant per thread
    (a nested ``_tx()`` or a ``_rows()`` inside it joins the open transaction, as a DuckDB cursor would
    see it). Write transactions take a transaction-scoped advisory lock by default, so read-modify-write
    methods written for DuckDB's single writer (audit chain sequence, nonce check-then-insert, "exists?
    then insert") stay correct with several processes; observation upserts skip it (ON CONFLICT is
    concurrency-safe).

Errors
    psycopg and pool errors become :class:`~nagar.core.errors.StoreError`; ``transient`` for
    connection loss, server shutdown, pool exhaustion, serialization failures, deadlocks and lock or
    statement timeouts (psycopg's OperationalError family), terminal otherwise.

Writing store SQL that runs on both
    Use only ``self._tx()`` (its ``execute``/``fetch*``/``register``) and ``self._rows()``; never a
    DuckDB connection attribute (``self._con``, ``.pl()``, ``.df()``, relations). Keep to what
    ``nagar.store.pg_dialect`` translates (its docstring lists what it does not: ``ANTI``/``SEMI JOIN``,
    ``QUALIFY``, ``EXCLUDE``, ``TRY_CAST``, list literals, ``rowid``, ``hash()``, ``read_parquet``/``COPY
    TO``, ...), give every table a primary or unique key if it is upserted, bind values (no SQL string
    formatting of data), keep times naive UTC, and cast integer averages (``avg(x)::DOUBLE``) where a
    float must come back. tests/store/test_backends.py runs each mixin on both backends.

Durability
    Every commit waits for its WAL to be flushed (``synchronous_commit`` is the server's setting, raised
    to ``on`` for Nagar's sessions where the server has it ``off``): an acknowledged write survives a
    kill of this process or of the server (tests/store/test_backends.py kills both).
"""

from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql as pgsql
from psycopg.types.array import ListDumper
from psycopg_pool import ConnectionPool, PoolTimeout

from nagar.core.errors import InvalidInput, StoreError
from nagar.core.tenancy import Scope
from nagar.core.units import PARAMETERS

from .base import FLAGS, OBSERVATION_SCHEMA, WriteCounts, WriteListeners
from .duckdb import DuckDBStore
from .domains import DOMAIN_TABLES
from .migrations import MIGRATIONS
from .pg_dialect import COMPAT_DDL, EXTRA_DDL, Translated, TranslationError, to_postgres

ARROW_TZ = "Etc/UTC"
"""Session time zone, and the zone Arrow results carry (what DuckDB reports for ``SET TimeZone = 'UTC'``)."""
WRITE_LOCK = 0x6E61676172
"""Advisory lock key taken by every exclusive write transaction (per database)."""
MIN_SERVER = 140000
"""PostgreSQL 14 (``date_bin``, ``CREATE OR REPLACE AGGREGATE``, ``DROP DATABASE ... FORCE``)."""

_PARAM_KEYS = pa.array([p.key for p in PARAMETERS.values()], pa.string())
_PARAM_CODES = pa.array([p.code for p in PARAMETERS.values()], pa.int16())
_FLAG_NAMES = pa.array(list(FLAGS), pa.string())
_PG_EPOCH_US = 946_684_800_000_000
"""2000-01-01 in microseconds since 1970: PostgreSQL's binary timestamps count from there."""

_STAGE_DDL = """CREATE TEMP TABLE IF NOT EXISTS _nagar_obs_stage (
    city_key INTEGER NOT NULL, station_key INTEGER NOT NULL, parameter SMALLINT NOT NULL,
    time TIMESTAMP NOT NULL, value DOUBLE PRECISION NOT NULL, flag SMALLINT NOT NULL, seq INTEGER NOT NULL
) ON COMMIT DELETE ROWS"""
_STAGE_COPY = ("COPY _nagar_obs_stage (city_key, station_key, parameter, time, value, flag, seq) "
               "FROM STDIN (FORMAT BINARY)")
# one binary COPY row: field count, then (length, value) per field, all big-endian, fixed width
_STAGE_ROW = np.dtype([
    ("nfields", ">i2"),
    ("l_city", ">i4"), ("city_key", ">i4"),
    ("l_station", ">i4"), ("station_key", ">i4"),
    ("l_parameter", ">i4"), ("parameter", ">i2"),
    ("l_time", ">i4"), ("time", ">i8"),
    ("l_value", ">i4"), ("value", ">f8"),
    ("l_flag", ">i4"), ("flag", ">i2"),
    ("l_seq", ">i4"), ("seq", ">i4"),
])
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_COPY_TRAILER = (-1).to_bytes(2, "big", signed=True)
# last row of the batch wins for a repeated key (seq is the batch position); xmax = 0 marks a new row
_UPSERT = """
    WITH staged AS (
        SELECT DISTINCT ON (station_key, parameter, time) city_key, station_key, parameter, time, value, flag
        FROM _nagar_obs_stage ORDER BY station_key, parameter, time, seq DESC
    ), up AS (
        INSERT INTO observations AS o (city_key, station_key, parameter, time, value, flag)
        SELECT city_key, station_key, parameter, time, value, flag FROM staged
        ON CONFLICT (station_key, parameter, time) DO UPDATE SET value = excluded.value, flag = excluded.flag
        RETURNING (o.xmax = 0) AS inserted
    )
    SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up"""

# PostgreSQL type oid -> Arrow type of a result column (others are inferred from the values)
_ARROW_TYPES = {
    16: pa.bool_(), 20: pa.int64(), 21: pa.int16(), 23: pa.int32(), 26: pa.int64(),
    700: pa.float32(), 701: pa.float64(), 25: pa.string(), 1043: pa.string(), 1042: pa.string(),
    19: pa.string(), 114: pa.string(), 3802: pa.string(), 17: pa.binary(), 1082: pa.date32(),
    1114: pa.timestamp("us"), 1184: pa.timestamp("us", tz=ARROW_TZ), 1083: pa.time64("us"),
    1009: pa.list_(pa.string()), 1015: pa.list_(pa.string()), 1007: pa.list_(pa.int32()),
    1016: pa.list_(pa.int64()), 1022: pa.list_(pa.float64()),
}


def translate_error(exc: BaseException) -> StoreError:
    """A psycopg / pool error as the project's StoreError (transient: a retry may succeed)."""
    if isinstance(exc, StoreError):
        return exc
    transient = isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout))
    return StoreError(f"database error: {exc}".strip(), transient=transient)


def describe_url(url: str) -> str:
    """``user@host:port/dbname`` of a connection string, without its password."""
    try:
        d = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "(unparsable connection string)"
    return f"{d.get('user', '')}@{d.get('host', 'localhost')}:{d.get('port', 5432)}/{d.get('dbname', '')}"


class _TextArray(list):
    """A list of strings to send as ``text[]`` (psycopg sends them as an untyped array by default)."""


class _TextArrayDumper(ListDumper):
    oid = 1009  # text[]


def _arrow_pg_type(t: pa.DataType) -> str:
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t):
        return "text"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_int8(t) or pa.types.is_int16(t) or pa.types.is_uint8(t):
        return "smallint"
    if pa.types.is_int32(t) or pa.types.is_uint16(t):
        return "integer"
    if pa.types.is_integer(t):
        return "bigint"
    if pa.types.is_float32(t):
        return "real"
    if pa.types.is_floating(t):
        return "double precision"
    if pa.types.is_timestamp(t):
        return "timestamptz" if t.tz else "timestamp"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return "bytea"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return _arrow_pg_type(t.value_type) + "[]"
    if pa.types.is_decimal(t):
        return "numeric"
    raise TranslationError(f"cannot register an Arrow column of type {t} on PostgreSQL")


class PgResult:
    """The result of one statement, shaped like DuckDB's: a statement without a result set (INSERT,
    UPDATE, DELETE without RETURNING) reads as one row holding the affected row count."""

    def __init__(self, cur: psycopg.Cursor):
        self._cur = cur
        self._count: int | None = None if cur.description is not None else max(cur.rowcount, 0)

    @property
    def description(self):
        return self._cur.description if self._count is None else [("Count",)]

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount

    def fetchone(self):
        if self._count is None:
            return self._cur.fetchone()
        count, self._count = self._count, -1
        return (count,) if count >= 0 else None

    def fetchall(self) -> list:
        if self._count is None:
            return self._cur.fetchall()
        row = self.fetchone()
        return [row] if row is not None else []

    def fetchmany(self, size: int = 1) -> list:
        return self._cur.fetchmany(size) if self._count is None else self.fetchall()[:size]

    def __iter__(self):
        return iter(self.fetchall())

    def to_arrow_table(self) -> pa.Table:
        """The rows as an Arrow table, column types from the PostgreSQL types (timestamptz in UTC)."""
        if self._count is not None:
            return pa.table({"Count": pa.array([self._count], pa.int64())})
        desc = self._cur.description
        rows = self._cur.fetchall()
        cols = list(zip(*rows)) if rows else [()] * len(desc)
        arrays = []
        for d, values in zip(desc, cols):
            t = _ARROW_TYPES.get(d.type_code)
            arrays.append(pa.array(values, t) if t is not None or values else pa.array(values, pa.null()))
        return pa.Table.from_arrays(arrays, names=[d.name for d in desc])

    fetch_arrow_table = arrow = to_arrow_table

    def close(self) -> None:
        self._cur.close()


class PgConnection:
    """A DuckDB-connection-shaped view of one pooled psycopg connection.

    What shared SQL code may use: ``execute(sql, params)`` (-> :class:`PgResult`), ``executemany``,
    ``sql(query, params=...)``, ``cursor()``, ``register(name, arrow_table)`` / ``unregister(name)`` and
    ``close()``. ``raw`` is the psycopg connection, for PostgreSQL-only code in this module.
    """

    def __init__(self, conn: psycopg.Connection, store: "PostgresStore", release=None):
        self.raw = conn
        self._store = store
        self._release = release
        self._pending: dict[str, pa.Table] = {}
        self._temps: set[str] = set()
        self.written: list | None = None  # observation batches of an open transaction (PostgresStore._tx)
        self._last: PgResult | None = None

    # statements -------------------------------------------------------------------------------
    def _prepare(self, sql: str, params) -> tuple[str, list]:
        try:
            t = self._store._translate(sql)
            values = t.bind([list(v) if isinstance(v, tuple) else v for v in (params or ())])
        except TranslationError as exc:
            raise StoreError(f"SQL not supported on PostgreSQL: {exc}") from exc
        for k in t.text_arrays:
            v = values[k]
            if isinstance(v, list) and all(x is None or isinstance(x, str) for x in v):
                values[k] = _TextArray(v)
        if self._pending:
            self._materialize(sql)
        return t.sql, values

    def execute(self, sql: str, params=None) -> PgResult:
        q, values = self._prepare(sql, params)
        try:
            self._last = PgResult(self.raw.execute(q, values))
        except psycopg.Error as exc:
            raise translate_error(exc) from exc
        return self._last

    # DuckDB also lets the connection itself be read after ``con.execute(...)``
    def fetchone(self):
        return self._result().fetchone()

    def fetchall(self) -> list:
        return self._result().fetchall()

    def fetchmany(self, size: int = 1) -> list:
        return self._result().fetchmany(size)

    @property
    def description(self):
        return self._result().description

    def _result(self) -> PgResult:
        if self._last is None:
            raise StoreError("no statement has been executed on this connection")
        return self._last

    def executemany(self, sql: str, seq) -> None:
        prepared = [self._prepare(sql, params) for params in seq]
        if not prepared:
            return
        try:
            with self.raw.cursor() as cur:
                cur.executemany(prepared[0][0], [values for _, values in prepared])
        except psycopg.Error as exc:
            raise translate_error(exc) from exc

    def sql(self, query: str, *, params=None, alias: str | None = None) -> PgResult:
        """DuckDB's ``con.sql(...)`` as far as store code uses it: run now, read with ``to_arrow_table()``."""
        return self.execute(query, params)

    def rows(self, sql: str, params=None) -> list[dict]:
        res = self.execute(sql, params)
        names = [d[0] for d in res.description]
        return [dict(zip(names, r)) for r in res.fetchall()]

    def cursor(self) -> "PgConnection":
        return self

    # Arrow tables as relations ------------------------------------------------------------------
    def register(self, name: str, table: pa.Table) -> None:
        """Make ``table`` queryable as ``name`` (a temporary table, created when a statement first names
        it so that an ``INSERT INTO target ... FROM name`` can take the target's column types — an
        all-NULL Arrow column has no type of its own)."""
        if isinstance(table, pa.RecordBatch):
            table = pa.Table.from_batches([table])
        self.unregister(name)  # as in DuckDB, a name registered again names the new table
        self._pending[name.lower()] = table

    def unregister(self, name: str) -> None:
        name = name.lower()
        self._pending.pop(name, None)
        if name in self._temps:
            self._temps.discard(name)
            try:
                self.raw.execute(pgsql.SQL("DROP TABLE IF EXISTS pg_temp.{}").format(pgsql.Identifier(name)))
            except psycopg.Error as exc:
                raise translate_error(exc) from exc

    def _materialize(self, sql: str) -> None:
        named = {m.lower() for m in re.findall(r"[A-Za-z_][A-Za-z0-9_$]*", sql)}
        for name in [n for n in self._pending if n in named]:
            table = self._pending.pop(name)
            target = re.match(r"\s*INSERT\s+(?:OR\s+\w+\s+)?INTO\s+([\w.\"]+)", sql, re.I)
            types = self._store._column_types(self.raw, target.group(1)) if target else {}
            # unquoted names in SQL fold to lower case, as DuckDB's are case-insensitive
            cols = pgsql.SQL(", ").join(
                pgsql.SQL("{} {}").format(pgsql.Identifier(f.name.lower()),
                                          pgsql.SQL(types.get(f.name.lower()) or _arrow_pg_type(f.type)))
                for f in table.schema)
            try:
                self.raw.execute(pgsql.SQL("CREATE TEMP TABLE {} ({})").format(pgsql.Identifier(name), cols))
                self._temps.add(name)
                with self.raw.cursor() as cur, cur.copy(
                    pgsql.SQL("COPY {} FROM STDIN").format(pgsql.Identifier(name))
                ) as cp:
                    for row in zip(*(c.to_pylist() for c in table.columns)):
                        cp.write_row(row)
            except psycopg.Error as exc:
                raise translate_error(exc) from exc

    def _drop_temps(self) -> None:
        for name in list(self._temps):
            self.unregister(name)
        self._pending.clear()

    def close(self) -> None:
        """Give a read connection back to the pool (a no-op for the view of an open transaction)."""
        if self._release is not None:
            release, self._release = self._release, None
            try:
                if self._temps and not self.raw.closed:
                    self._drop_temps()
            finally:
                release()


class PostgresStore(WriteListeners, *DOMAIN_TABLES):
    """The :class:`nagar.store.base.Store` protocol over PostgreSQL (14 or newer).

    ``url``: a libpq connection string or URI (``postgresql://user:password@host:5432/nagar``; a
    SQLAlchemy-style ``postgresql+psycopg://`` prefix is accepted). ``pool_size``: most connections this
    process opens. ``timeout``: seconds to wait for a pooled connection (and for the first one at start).
    Tables go into the connection's current schema (``public`` unless the URL sets ``search_path``):
    give Nagar its own database or schema.
    """

    def __init__(self, url: str, *, pool_size: int = 10, timeout: float = 30.0, migrate: bool = True):
        url = re.sub(r"^postgres(ql)?\+psycopg2?://", "postgresql://", url)
        self.url = describe_url(url)
        self._timeout = timeout
        self._local = threading.local()
        self._stations: dict[str, tuple[int, int]] = {}
        self._catalog: dict[str, tuple[list[str], list[str]]] = {}
        self._replace_sql: dict[str, Translated] = {}
        self._types: dict[str, dict[str, str]] = {}
        kwargs: dict = {"autocommit": True}
        try:
            if "application_name" not in psycopg.conninfo.conninfo_to_dict(url):
                kwargs["application_name"] = "nagar"
        except psycopg.Error as exc:
            raise StoreError(f"invalid PostgreSQL connection string: {exc}") from exc
        self._pool = ConnectionPool(
            url, min_size=1, max_size=max(1, pool_size), kwargs=kwargs, configure=self._configure,
            check=ConnectionPool.check_connection, timeout=timeout, name="nagar", open=False,
        )
        try:
            self._pool.open(wait=True, timeout=timeout)
        except PoolTimeout as exc:
            self._pool.close()
            raise StoreError(f"cannot connect to PostgreSQL at {self.url} within {timeout:g} s",
                             transient=True) from exc
        try:
            with self._pool.connection() as conn:
                version = conn.info.server_version
            if version < MIN_SERVER:
                raise StoreError(f"PostgreSQL {version // 10000} at {self.url} is too old: Nagar needs 14 or newer")
            if migrate:
                self._migrate()
        except BaseException:
            self._pool.close()
            raise

    # plumbing ---------------------------------------------------------------------------------
    @staticmethod
    def _configure(conn: psycopg.Connection) -> None:
        """Every new pooled connection: UTC session, commits that wait for the WAL flush (raised to ``on``
        if the server says ``off``: a write is durable when it returns), JSON read as text (as DuckDB gives
        it), the staging table of the observation write path, ``text[]`` for string lists where asked."""
        conn.execute("SET TimeZone = 'Etc/UTC'")
        if conn.execute("SHOW synchronous_commit").fetchone()[0] == "off":
            conn.execute("SET synchronous_commit = on")
        conn.execute(_STAGE_DDL)
        conn.adapters.register_dumper(_TextArray, _TextArrayDumper)
        for name in ("json", "jsonb"):
            conn.adapters.register_loader(name, psycopg.types.string.TextLoader)

    def _translate(self, sql: str) -> Translated:
        if "REPLACE" in sql.upper():
            t = self._replace_sql.get(sql)
            if t is None:
                t = self._replace_sql[sql] = to_postgres(sql, self._table_keys)
            return t
        return to_postgres(sql)

    def _table_keys(self, table: str) -> tuple[list[str], list[str]]:
        """(primary key, or else first unique key; all columns) of ``table``, for INSERT OR REPLACE."""
        if table not in self._catalog:
            rows = self._rows(
                """SELECT i.indisprimary AS pk, a.attname AS col, array_position(i.indkey::int2[], a.attnum) AS pos,
                          i.indexrelid AS idx
                   FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                   WHERE i.indrelid = to_regclass(?) AND (i.indisprimary OR i.indisunique)
                   ORDER BY i.indisprimary DESC, i.indexrelid, pos""", [table])
            key = [r["col"] for r in rows if r["idx"] == rows[0]["idx"]] if rows else []
            cols = [r["attname"] for r in self._rows(
                "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(?) AND attnum > 0 "
                "AND NOT attisdropped ORDER BY attnum", [table])]
            self._catalog[table] = (key, cols)
        return self._catalog[table]

    def _column_types(self, conn: psycopg.Connection, table: str) -> dict[str, str]:
        """Column name -> SQL type of ``table`` (for registering Arrow tables against an INSERT target)."""
        if table not in self._types:
            rows = conn.execute(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped", [table.replace('"', "")]
            ).fetchall()
            self._types[table] = {name.lower(): t for name, t in rows}
        return self._types[table]

    def _migrate(self) -> None:
        """Apply the shared migrations not yet recorded in ``schema_version``, translated, with the
        PostgreSQL-only extras, in one transaction under the write lock (concurrent starters wait)."""
        with self._tx() as con:
            raw = con.raw
            con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            applied = {r[0] for r in con.execute("SELECT version FROM schema_version").fetchall()}
            if raw.execute("SELECT to_regprocedure('any_value(anyelement)')").fetchone()[0] is None:
                for sql in COMPAT_DDL:
                    raw.execute(sql)
            for version, statements in MIGRATIONS:
                if version in applied:  # a set, not a high-water mark: domains number independently
                    continue
                try:
                    for sql in statements:
                        con.execute(sql)
                    for sql in EXTRA_DDL.get(version, []):
                        raw.execute(sql)
                except (StoreError, psycopg.Error) as exc:  # nothing of this start's migrations stays
                    raise StoreError(f"migration {version} failed on PostgreSQL: {exc}") from exc
                con.execute("INSERT INTO schema_version VALUES (?)", [version])
            for prm in PARAMETERS.values():
                con.execute("INSERT INTO parameters VALUES (?, ?, ?, ?) ON CONFLICT (code) DO UPDATE "
                            "SET key = excluded.key, name = excluded.name, unit = excluded.unit",
                            [prm.code, prm.key, prm.name, prm.unit])
            for code, name in enumerate(FLAGS):
                con.execute("INSERT INTO flags VALUES (?, ?) ON CONFLICT (code) DO UPDATE SET name = excluded.name",
                            [code, name])
        self._catalog.clear()
        self._types.clear()
        self._replace_sql.clear()

    @contextmanager
    def _tx(self, *, exclusive: bool = True) -> Iterator[PgConnection]:
        """One transaction on one pooled connection; commits or rolls back, always. ``exclusive`` takes
        the database-wide write lock first (DuckDB's one-writer semantics, across processes).
        Re-entrant: inside an open transaction of this thread it yields that transaction."""
        open_tx = getattr(self._local, "tx", None)
        if open_tx is not None:
            yield open_tx
            return
        written: list = []
        try:
            with self._pool.connection(timeout=self._timeout) as conn:
                with conn.transaction():
                    if exclusive:
                        conn.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])
                    con = PgConnection(conn, self)
                    con.written = written
                    self._local.tx = con
                    try:
                        yield con
                        con._drop_temps()
                    finally:
                        self._local.tx = None
        except BaseException as exc:
            self._stations = {}  # keys read inside the transaction may name rows it created
            if isinstance(exc, (psycopg.Error, PoolTimeout)):
                raise translate_error(exc) from exc
            raise
        for batch in written:  # listeners hear of the transaction's writes once they are durable
            self._notify_written(batch)

    def _held_writes(self) -> list | None:
        open_tx = getattr(self._local, "tx", None)
        return None if open_tx is None else open_tx.written

    def transaction(self):
        """Several store writes as one transaction: ``with store.transaction(): ...`` (re-entrant; the
        store's own write methods called inside join it, and nothing is committed until it ends)."""
        return self._tx()

    def _read(self) -> PgConnection:
        """A connection for reads (close it to give it back), or the view of this thread's open transaction."""
        open_tx = getattr(self._local, "tx", None)
        if open_tx is not None:
            return open_tx
        try:
            conn = self._pool.getconn(timeout=self._timeout)
        except (psycopg.Error, PoolTimeout) as exc:
            raise translate_error(exc) from exc
        return PgConnection(conn, self, release=lambda: self._pool.putconn(conn))

    def _rows(self, sql: str, params: list | None = None) -> list[dict]:
        con = self._read()
        try:
            return con.rows(sql, params)
        finally:
            con.close()

    def close(self) -> None:
        self._pool.close()

    # registry and reads: DuckDBStore's own methods, run through the dialect adapter -------------
    upsert_city = DuckDBStore.upsert_city
    get_city = DuckDBStore.get_city
    list_cities = DuckDBStore.list_cities
    upsert_station = DuckDBStore.upsert_station
    upsert_stations = DuckDBStore.upsert_stations
    _station_rows = DuckDBStore._station_rows
    get_station = DuckDBStore.get_station
    list_stations = DuckDBStore.list_stations
    existing_stations = DuckDBStore.existing_stations
    _obs_filter = DuckDBStore._obs_filter
    observations = DuckDBStore.observations
    hourly_windows = DuckDBStore.hourly_windows
    latest_time = DuckDBStore.latest_time
    stats = DuckDBStore.stats

    # observations: PostgreSQL's own write path --------------------------------------------------
    def _station_map(self, ids: list[str]) -> dict[str, tuple[int, int]]:
        """Station id -> (station key, city key), cached (a station never changes city)."""
        cache = self._stations  # replaced, not cleared, when a transaction rolls back
        missing = [i for i in ids if i not in cache]
        if missing:
            for r in self._rows("SELECT s.key, s.id, c.key AS city_key FROM stations s JOIN cities c ON c.id = s.city "
                                "WHERE list_contains(?, s.id)", [missing]):
                cache[r["id"]] = (r["key"], r["city_key"])
        return cache

    def write_observations(self, batch: pa.Table, *, scope: Scope = None) -> WriteCounts:
        """Upsert ``batch``: one row per (station, parameter, time), last write wins — as DuckDB.

        Duplicates inside the batch keep the last row and count as updates; rows matching stored ones
        replace them and count as updates; a station that is unknown or outside ``scope`` refuses the
        whole batch. The batch is coded to integers in Arrow, sent with one binary COPY into a temporary
        table and upserted with one ``INSERT ... ON CONFLICT DO UPDATE``, in one transaction.
        """
        n = batch.num_rows
        if n == 0:
            return WriteCounts()
        batch = batch.select(OBSERVATION_SCHEMA.names).cast(OBSERVATION_SCHEMA)
        ids = pc.unique(batch.column("station")).to_pylist()
        smap = self._station_map(ids)
        missing = [i for i in ids if i not in smap]
        if scope is not None and not missing:
            allowed = self.existing_stations(ids, scope=scope)
            missing = [i for i in ids if i not in allowed]
        if missing:
            raise InvalidInput(f"unknown station(s): {', '.join(sorted(missing)[:5])}", field="station")
        pos = pc.index_in(batch.column("station"), value_set=pa.array(ids, pa.string()))
        ppos = pc.index_in(batch.column("parameter"), value_set=_PARAM_KEYS)
        fcode = pc.index_in(batch.column("flag"), value_set=_FLAG_NAMES)
        if ppos.null_count or fcode.null_count:
            raise InvalidInput("batch holds an unknown parameter or flag; validate it first", field="parameter")
        if batch.column("time").null_count or batch.column("value").null_count:
            raise StoreError("database error: NOT NULL constraint failed: observations.time/value")
        keys = np.array([smap[i][0] for i in ids], np.int32)
        cities = np.array([smap[i][1] for i in ids], np.int32)
        at = pos.to_numpy()
        rec = np.empty(n, _STAGE_ROW)
        rec["nfields"] = 7
        for f, size in (("l_city", 4), ("l_station", 4), ("l_parameter", 2), ("l_time", 8), ("l_value", 8),
                        ("l_flag", 2), ("l_seq", 4)):
            rec[f] = size
        rec["city_key"] = cities[at]
        rec["station_key"] = keys[at]
        rec["parameter"] = _PARAM_CODES.to_numpy()[ppos.to_numpy()]
        rec["time"] = batch.column("time").cast(pa.int64()).to_numpy() - _PG_EPOCH_US
        rec["value"] = batch.column("value").to_numpy()
        rec["flag"] = fcode.to_numpy()
        rec["seq"] = np.arange(n, dtype=np.int32)
        with self._tx(exclusive=False) as con:
            try:
                with con.raw.cursor() as cur:
                    with cur.copy(_STAGE_COPY) as cp:
                        cp.write(_COPY_HEADER + rec.tobytes() + _COPY_TRAILER)
                    inserted, updated = cur.execute(_UPSERT).fetchone()
            except psycopg.Error as exc:
                raise translate_error(exc) from exc
        self._written(batch)
        # rows dropped by DISTINCT ON were superseded by a later row of the same batch: updates too
        return WriteCounts(inserted=int(inserted), updated=n - int(inserted))
