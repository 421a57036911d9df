"""The lake's layout on disk: data files, the metadata folder, atomic replacement and the export lock.

::

    <lake>/
      city=<id>/date=<YYYY-MM-DD>/part-<uuid>.parquet   observations of one city and one UTC date
      _meta/partitions.parquet                          the export's watermarks (one row per partition)
      _meta/cities.parquet, _meta/stations.parquet      the registry as of the last export
      _meta/lake.json                                   format version, last export, DuckDB version
      _staging/                                         the running export's scratch space

Readers take ``city=*/date=*/*.parquet`` (Spark, Hive and DuckDB skip names starting with ``_`` or
``.`` when they discover partitions). Data files hold the columns of :data:`FILE_SCHEMA`; ``city`` and
``date`` are in the path only.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from nagar.core.errors import Conflict

FORMAT_VERSION = 1
META = "_meta"
STAGING = "_staging"
DATA_GLOB = "city=*/date=*/*.parquet"

FILE_SCHEMA = pa.schema([
    pa.field("station", pa.string()),
    pa.field("parameter", pa.string()),
    pa.field("time", pa.timestamp("us", tz="UTC")),
    pa.field("value", pa.float64()),
    pa.field("unit", pa.string()),
    pa.field("flag", pa.string()),
])
"""Columns of a data file (``value`` in the parameter's canonical unit, ``unit`` names it)."""

ROW_GROUP_SIZE = 131_072
"""Rows per Parquet row group: rows are sorted by station, parameter and time inside a partition, so
row-group statistics let readers skip other stations."""

MANIFEST_SCHEMA = pa.schema([
    pa.field("city", pa.string()),
    pa.field("date", pa.date32()),
    pa.field("rows", pa.int64()),
    pa.field("fingerprint", pa.uint64()),
    pa.field("min_time", pa.timestamp("us", tz="UTC")),
    pa.field("max_time", pa.timestamp("us", tz="UTC")),
    pa.field("exported_at", pa.timestamp("us", tz="UTC")),
])


def partition_dir(lake: Path, city: str, day) -> Path:
    return lake / f"city={city}" / f"date={day.isoformat()}"


def meta_path(lake: Path, name: str) -> Path:
    return lake / META / name


def write_parquet_atomic(table: pa.Table, path: Path) -> None:
    """Write ``table`` next to ``path`` and rename it into place (readers see the old or the new file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


def write_json_atomic(data: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_manifest(lake: Path) -> pa.Table:
    """The partitions of the last completed export (empty table for a new lake)."""
    p = meta_path(lake, "partitions.parquet")
    if not p.exists():
        return MANIFEST_SCHEMA.empty_table()
    return pq.read_table(p).cast(MANIFEST_SCHEMA)


def replace_dir(new: Path, target: Path, trash: Path) -> None:
    """Put directory ``new`` at ``target``, moving an existing ``target`` into ``trash`` first.

    Both moves are ``rename(2)`` on one file system, so a reader finds the old partition or the new
    one, never a half-written file; for the instant between the two renames the partition is absent.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        trash.mkdir(parents=True, exist_ok=True)
        os.rename(target, trash / uuid.uuid4().hex)
    os.rename(new, target)


def remove_dir(target: Path, trash: Path) -> None:
    if target.exists():
        trash.mkdir(parents=True, exist_ok=True)
        os.rename(target, trash / uuid.uuid4().hex)
    parent = target.parent
    if parent.exists() and not any(parent.iterdir()):
        parent.rmdir()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def export_lock(lake: Path) -> Iterator[None]:
    """One export at a time per lake: ``_meta/export.lock`` made with O_EXCL, holding host and pid.

    A lock left by a dead process on this host is taken over; one from another host must be removed by
    hand (its owner cannot be checked from here).
    """
    path = meta_path(lake, "export.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    me = f"{socket.gethostname()} {os.getpid()} {datetime.now(timezone.utc).isoformat()}"
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                host, pid, *_ = path.read_text().split()
            except (OSError, ValueError):
                host, pid = "", "0"
            if host == socket.gethostname() and pid.isdigit() and not _pid_alive(int(pid)):
                path.unlink(missing_ok=True)
                continue
            raise Conflict(f"another export holds {path} ({host} pid {pid}); remove the file if that "
                           "process is gone", field="out") from None
        with os.fdopen(fd, "w") as f:
            f.write(me)
        break
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def clean_staging(lake: Path) -> None:
    """Remove what an interrupted export left behind (call with the lock held)."""
    shutil.rmtree(lake / STAGING, ignore_errors=True)
