"""Streamed encoders: record batches in, bytes out, a batch at a time (never the whole dataset).

CSV (RFC 4180, header row, UTF-8, written by Arrow), GeoJSON (RFC 7946: a FeatureCollection of Point
features, [longitude, latitude] in WGS84, other columns as properties) and Parquet (one row group per
batch, the footer last).
"""

from __future__ import annotations

import io
import json
import math
from datetime import date, datetime
from typing import Iterable, Iterator

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "geojson": "application/geo+json",
               "parquet": "application/vnd.apache.parquet"}


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    t = pa.Table.from_batches([batch]).select(schema.names).cast(schema)
    return t.combine_chunks().to_batches()[0] if t.num_rows else pa.RecordBatch.from_pylist([], schema=schema)


class _Drain:
    """A write-only file that hands its bytes over after each write and keeps its position."""

    def __init__(self):
        self.parts: list[bytes] = []
        self.pos = 0
        self.closed = False

    def write(self, b) -> int:
        b = bytes(b)
        self.parts.append(b)
        self.pos += len(b)
        return len(b)

    def tell(self) -> int:
        return self.pos

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return True

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


def csv_stream(schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    sink = _Drain()
    with pacsv.CSVWriter(sink, schema) as w:
        yield sink.take() or b""
        for b in batches:
            w.write_batch(_conform(b, schema))
            chunk = sink.take()
            if chunk:
                yield chunk
    tail = sink.take()
    if tail:
        yield tail


def parquet_stream(schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    sink = _Drain()
    with pq.ParquetWriter(sink, schema, compression="zstd") as w:
        for b in batches:
            w.write_batch(_conform(b, schema))
            chunk = sink.take()
            if chunk:
                yield chunk
    yield sink.take()


def _json_value(v):
    if isinstance(v, (datetime, date)):
        return v.isoformat().replace("+00:00", "Z")
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def geojson_stream(schema: pa.Schema, batches: Iterable[pa.RecordBatch], *, lat: str, lon: str) -> Iterator[bytes]:
    """Rows without both coordinates are features with a null geometry (RFC 7946, 3.2)."""
    yield b'{"type":"FeatureCollection","features":['
    first = True
    for b in batches:
        rows = _conform(b, schema).to_pylist()
        buf = io.StringIO()
        for r in rows:
            y, x = r.get(lat), r.get(lon)
            geom = {"type": "Point", "coordinates": [x, y]} if x is not None and y is not None else None
            props = {k: _json_value(v) for k, v in r.items() if k not in (lat, lon)}
            if not first:
                buf.write(",")
            first = False
            buf.write(json.dumps({"type": "Feature", "geometry": geom, "properties": props}, ensure_ascii=False,
                                 separators=(",", ":")))
        if buf.tell():
            yield buf.getvalue().encode("utf-8")
    yield b"]}"


def encode(fmt: str, schema: pa.Schema, batches: Iterable[pa.RecordBatch], *,
           coordinates: tuple[str, str] | None = None) -> Iterator[bytes]:
    if fmt == "csv":
        return csv_stream(schema, batches)
    if fmt == "parquet":
        return parquet_stream(schema, batches)
    lat, lon = coordinates
    return geojson_stream(schema, batches, lat=lat, lon=lon)
