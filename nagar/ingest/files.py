"""Streaming readers for observation files: CSV (plain or gzip) and Parquet, in two layouts.

* Nagar's layout: ``station, parameter, time, value, unit[, flag]``.
* OpenAQ's open-data archive layout:
  ``location_id, sensors_id, location, datetime, lat, lon, parameter, units, value``; stations are
  named ``openaq-<location_id>`` and carry the file's name and coordinates.

Files are read in record batches of bounded size (memory does not grow with the file), and each batch
is turned into the raw validation columns of :mod:`nagar.ingest.validate`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from nagar.core.errors import InvalidInput

NAGAR_COLUMNS = {"station", "parameter", "time", "value", "unit"}
OPENAQ_COLUMNS = {"location_id", "location", "datetime", "lat", "lon", "parameter", "units", "value"}


@dataclass
class MalformedRow:
    line: int
    reason: str


@dataclass
class FileBatch:
    raw: pl.DataFrame
    """Raw validation columns with ``_row`` = the file line (CSV, header = line 1) or 1-based row (Parquet)."""
    stations: pl.DataFrame | None = None
    """For OpenAQ files: station id, name, lat, lon seen in this batch."""
    malformed: list[MalformedRow] = field(default_factory=list)
    progress: int = 0
    """Bytes (CSV) or rows (Parquet) consumed so far."""


class _Counting(io.RawIOBase):
    def __init__(self, f):
        self.f, self.n = f, 0

    def readable(self):
        return True

    def readinto(self, b):
        k = self.f.readinto(b)
        self.n += k or 0
        return k

    def close(self):
        self.f.close()
        super().close()


SAVE_AS_UTF8 = ("save the file as UTF-8: in Excel, File > Save As > \"CSV UTF-8 (Comma delimited) (*.csv)\" "
                "(plain \"CSV (Comma delimited)\" writes the computer's ANSI code page, e.g. Windows-1252); in "
                "LibreOffice, tick \"Edit filter settings\" and choose \"Unicode (UTF-8)\"")
"""The hint every CSV loader gives for a file that is not UTF-8."""


def not_utf8(name: str, line: int, data: bytes, start: int, *, field: str = "file") -> InvalidInput:
    """The error for a file whose ``line`` (1-based; ``data`` holds that line's bytes) is not UTF-8 at
    byte ``start`` of the line: says which byte, what it is in Windows-1252 (the usual culprit: Excel's
    plain "CSV" on a Western-language Windows; 0xb5 is its "µ") and how to save as UTF-8."""
    b = data[start]
    guess = bytes((b,)).decode("cp1252", errors="replace")
    seen = f" (in Windows-1252 that byte is {guess!r})" if guess != "\ufffd" else ""
    return InvalidInput(f"{name}, line {line}: byte 0x{b:02x} at byte {start + 1} of the line is not UTF-8{seen}; "
                        + SAVE_AS_UTF8, field=field)


def find_not_utf8(path: str | Path, *, field: str = "file") -> InvalidInput | None:
    """Scan a text file (``.gz`` too) line by line for the first line that is not UTF-8; ``None`` if all are.

    Lines are split on 0x0A, which never occurs inside a UTF-8 multi-byte sequence, so each line decodes
    on its own. Memory is one line."""
    import gzip

    path = Path(path)
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as f:
        for n, data in enumerate(f, start=1):
            if n == 1 and data.startswith(b"\xef\xbb\xbf"):
                data = data[3:]
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                return not_utf8(path.name, n, data, exc.start, field=field)
    return None


def read_text(path: str | Path, *, field: str = "file") -> str:
    """A whole (small) text file as UTF-8 without its BOM, for loaders that parse text: a missing file or
    a byte that is not UTF-8 is an :class:`InvalidInput` naming the line and how to fix it."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInput(f"no such file: {path}", field=field) from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}", field=field) from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        first = data.rfind(b"\n", 0, exc.start) + 1
        end = data.find(b"\n", exc.start)
        line = data[first:end if end >= 0 else len(data)]
        raise not_utf8(path.name, data.count(b"\n", 0, exc.start) + 1, line, exc.start - first,
                       field=field) from None


def detect_layout(columns: list[str]) -> str:
    cols = {c.strip().lower() for c in columns}
    if NAGAR_COLUMNS <= cols:
        return "nagar"
    if OPENAQ_COLUMNS <= cols:
        return "openaq"
    raise InvalidInput(
        "unrecognised file layout: expected the columns station, parameter, time, value, unit (Nagar) or "
        "location_id, sensors_id, location, datetime, lat, lon, parameter, units, value (OpenAQ); "
        f"found {', '.join(columns) or 'none'}",
        field="columns",
    )


def _to_raw(batch: pa.RecordBatch | pa.Table, layout: str, first_row: int) -> FileBatch:
    df = pl.from_arrow(batch)
    assert isinstance(df, pl.DataFrame)
    df = df.rename({c: c.strip().lower() for c in df.columns})
    df = df.with_row_index("_row", offset=first_row)
    if layout == "table":  # read_csv_table: every column as text, names stripped and lower-cased
        return FileBatch(raw=df)
    if layout == "nagar":
        raw = df.select("_row", "station", "parameter", "time", "value", "unit",
                        *(["flag"] if "flag" in df.columns else []))
        return FileBatch(raw=raw)
    sid = pl.concat_str(pl.lit("openaq-"), pl.col("location_id").cast(pl.String).str.strip_chars())
    raw = df.select("_row", sid.alias("station"), "parameter", pl.col("datetime").alias("time"), "value",
                    pl.col("units").alias("unit"))
    stations = (
        df.select(
            sid.alias("id"),
            pl.col("location").cast(pl.String).alias("name"),
            pl.col("lat").cast(pl.Float64, strict=False).alias("lat"),
            pl.col("lon").cast(pl.Float64, strict=False).alias("lon"),
            pl.col("parameter").cast(pl.String).str.to_lowercase().alias("parameter"),
        )
        .filter(pl.col("id").is_not_null())
        .group_by("id", maintain_order=True)
        .agg(pl.col("name").first(), pl.col("lat").first(), pl.col("lon").first(), pl.col("parameter").unique())
    )
    return FileBatch(raw=raw, stations=stations)


def read_file(path: str | Path, *, batch_rows: int = 1_000_000) -> tuple[int, Iterator[FileBatch]]:
    """Open ``path`` and return (total progress units, iterator of batches).

    Raises :class:`InvalidInput` for an unreadable or unrecognised file before yielding anything.
    """
    path = Path(path)
    if not path.exists():
        raise InvalidInput(f"no such file: {path}", field="file")
    name = path.name.lower()
    if name.endswith(".parquet") or name.endswith(".pq"):
        try:
            pf = pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InvalidInput(f"{path.name} is not a readable Parquet file: {exc}", field="file") from exc
        layout = detect_layout(pf.schema_arrow.names)
        return pf.metadata.num_rows, _parquet_batches(pf, layout, batch_rows)
    if name.endswith(".csv") or name.endswith(".csv.gz") or name.endswith(".txt"):
        return path.stat().st_size, _csv_batches(path, batch_rows)
    raise InvalidInput(f"{path.name}: expected a .csv, .csv.gz or .parquet file", field="file")


def read_csv_table(path: str | Path, *, required: set[str], batch_rows: int = 100_000) -> Iterator[FileBatch]:
    """Any CSV (plain or gzip) with at least the columns ``required`` (names stripped and lower-cased), read
    by the same streaming reader as observation files: ``raw`` holds every column as text (empty cells
    null) and ``_row`` = the file line (the header is line 1); lines with the wrong number of values come
    as ``malformed``; a file that is not UTF-8 is an error naming its first bad line. For loaders of other
    tables (e.g. water samples) that report rejected rows the way ``nagar ingest`` does."""
    path = Path(path)
    if not path.exists():
        raise InvalidInput(f"no such file: {path}", field="file")
    header = _csv_header(path)
    have = {h.strip().lower() for h in header}
    if not required <= have:
        raise InvalidInput(f"{path.name}, line 1: the header needs the columns {', '.join(sorted(required))}; "
                           f"found {', '.join(h.strip() for h in header) or 'none'}", field="columns")
    return _csv_batches(path, batch_rows, layout="table", header=header)


def _parquet_batches(pf: pq.ParquetFile, layout: str, batch_rows: int) -> Iterator[FileBatch]:
    done = 0
    try:
        for rb in pf.iter_batches(batch_size=batch_rows):
            fb = _to_raw(rb, layout, done + 1)
            done += rb.num_rows
            fb.progress = done
            yield fb
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInput(f"Parquet file is corrupt after row {done}: {exc}", field="file") from exc


def _csv_header(path: Path) -> list[str]:
    import csv
    import gzip

    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as f:
            return next(csv.reader(f), [])
    except UnicodeDecodeError:
        raise (find_not_utf8(path) or InvalidInput(f"{path.name} is not UTF-8 text; " + SAVE_AS_UTF8,
                                                   field="file")) from None
    except (OSError, EOFError) as exc:
        raise InvalidInput(f"{path.name} is not a readable CSV file: {exc}", field="file") from exc


class _Malformed(Exception):
    """Raised from the parallel parser's handler to switch to exact (line-numbered) parsing."""


def _csv_batches(path: Path, batch_rows: int, *, layout: str | None = None,
                 header: list[str] | None = None) -> Iterator[FileBatch]:
    """Parse in parallel while every line is well-formed; at the first malformed line, restart after the
    rows already handed out with the single-threaded parser, which knows each line's number.

    Any malformed line among rows already handed out would have stopped the parallel parser before
    they were handed out (a block is parsed before its rows are yielded), so the restart skips exactly
    ``done`` well-formed data rows.
    """
    header = header if header is not None else _csv_header(path)
    layout = layout or detect_layout(header)
    done = 0
    try:
        for exact in (False, True):
            try:
                for fb in _csv_pass(path, header, layout, batch_rows, exact=exact, skip=done):
                    done += fb.raw.height
                    yield fb
                return
            except _Malformed:
                continue
    except pa.ArrowInvalid as exc:
        if "utf8" in str(exc).lower().replace("-", ""):  # Arrow's "invalid UTF8 data" names no line: find it
            found = find_not_utf8(path)
            if found is not None:
                raise InvalidInput(f"{found.message} (rows before it may have been stored)",
                                   field="file") from None
        raise InvalidInput(f"{path.name}: unreadable CSV after data row {done}: {exc}", field="file") from exc


def _csv_pass(path: Path, header: list[str], layout: str, batch_rows: int, *, exact: bool, skip: int):
    raw_file = _Counting(open(path, "rb"))
    stream: pa.NativeFile = pa.PythonFile(io.BufferedReader(raw_file, buffer_size=1 << 20), mode="r")
    if path.name.lower().endswith(".gz"):
        stream = pa.CompressedInputStream(stream, "gzip")
    malformed: list[MalformedRow] = []
    skipped: list[int] = []
    tripped: list[bool] = []

    def on_invalid(row) -> str:
        if not exact:
            tripped.append(True)
            return "error"
        malformed.append(
            MalformedRow(int(row.number) if row.number is not None else -1,
                         f"expected {row.expected_columns} columns, found {row.actual_columns}")
        )
        return "skip"

    # every column is read as text: types are checked row by row in validation, so one bad cell
    # rejects one row instead of failing a whole block
    done = skip
    try:
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(block_size=4 << 20, encoding="utf8", use_threads=not exact,
                                           skip_rows_after_names=skip),
            # blank lines are kept as rows (dropped in _emit once numbered), so that row k is line k + 2
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in header},
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
        pending: list[pa.RecordBatch] = []
        n_pending = 0
        for rb in reader:
            pending.append(rb)
            n_pending += rb.num_rows
            if n_pending >= batch_rows:
                yield _emit(pending, layout, done, raw_file.n, malformed, skipped)
                done += n_pending
                pending, n_pending = [], 0
        if pending or malformed:
            yield _emit(pending, layout, done, raw_file.n, malformed, skipped)
    except pa.ArrowInvalid:
        if tripped:
            raise _Malformed() from None
        raise
    finally:
        raw_file.close()


def _emit(pending, layout, done, nbytes, malformed: list[MalformedRow], skipped: list[int]) -> FileBatch:
    """Batch of parsed rows; ``skipped`` holds the file lines of every malformed row so far, so parsed
    row k (0-based over the file) is mapped back to its file line, counting the skipped lines."""
    import numpy as np

    skipped.extend(sorted(m.line for m in malformed if m.line > 0))
    if pending:
        fb = _to_raw(pa.Table.from_batches(pending), layout, 0)
        k = np.arange(done, done + fb.raw.height, dtype=np.int64)
        m = np.asarray(skipped, dtype=np.int64) - 2  # 0-based data index of each skipped row
        shift = np.searchsorted(m - np.arange(len(m)), k, side="right")
        fb.raw = fb.raw.with_columns(pl.Series("_row", k + shift + 2))
        cells = [c for c in fb.raw.columns if c != "_row"]
        if cells and fb.raw.get_column(cells[0]).null_count():  # drop blank lines (every cell null)
            fb.raw = fb.raw.filter(pl.any_horizontal(pl.col(cells).is_not_null()))
    else:
        fb = FileBatch(raw=pl.DataFrame())
    fb.malformed = list(malformed)
    malformed.clear()
    fb.progress = nbytes
    return fb

