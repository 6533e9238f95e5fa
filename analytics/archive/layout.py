"""The archive's public format (CONTRACT section 7), defined once: paths, file names, columns.

Two streams, each Hive-partitioned by the record's arrival time (its Kafka
timestamp, UTC):

- ``reports/date=YYYY-MM-DD/hour=HH/``: one row per valid report;
- ``deadletter/date=YYYY-MM-DD/``: one row per dead letter.

A file holds the records of one Kafka partition of one directory and is named
after that partition and the first and last offsets in it::

    reports-p0003-00000000000000120000-00000000000000139999.parquet

so the name alone says which records a file holds: a writer skips records a
file already holds (a replay never duplicates a row), and a reader ignores a
file whose range another file of the directory contains (the small files an
hourly compaction replaced, in the seconds before they are deleted).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyarrow as pa

REPORTS = "reports"
DEADLETTER = "deadletter"
STREAMS = (REPORTS, DEADLETTER)

CITIZEN = pa.struct(
    [
        pa.field("name", pa.string()),
        pa.field("id", pa.string()),
        pa.field("peacescore", pa.float64()),
        pa.field("confidence", pa.float64()),
    ]
)
TIMESTAMP = pa.timestamp("ms", tz="UTC")

REPORTS_SCHEMA = pa.schema(
    [
        pa.field("drone_id", pa.string(), nullable=False),
        pa.field("report_id", pa.string(), nullable=False),
        pa.field("observed_at", TIMESTAMP, nullable=False),
        pa.field("received_at", TIMESTAMP, nullable=False),
        pa.field("time_source", pa.string(), nullable=False),
        pa.field("clock_skew", pa.bool_(), nullable=False),
        pa.field("seq", pa.int64()),
        pa.field("lat", pa.float64(), nullable=False),
        pa.field("lon", pa.float64(), nullable=False),
        pa.field("alt_m", pa.float64()),
        pa.field("citizens", pa.list_(CITIZEN), nullable=False),
        pa.field("words", pa.list_(pa.string()), nullable=False),
        pa.field("battery_pct", pa.float64()),
        pa.field("heading_deg", pa.float64()),
        pa.field("speed_mps", pa.float64()),
        pa.field("firmware", pa.string()),
        pa.field("telemetry_dropped", pa.list_(pa.string()), nullable=False),
        pa.field("raw", pa.binary(), nullable=False),
        pa.field("kafka_partition", pa.int32(), nullable=False),
        pa.field("kafka_offset", pa.int64(), nullable=False),
    ]
)

HEADER = pa.struct([pa.field("name", pa.string()), pa.field("value", pa.binary())])
DEADLETTER_SCHEMA = pa.schema(
    [
        pa.field("received_at", TIMESTAMP, nullable=False),
        pa.field("error", pa.string()),
        pa.field("detail", pa.string()),
        pa.field("source_topic", pa.string()),
        pa.field("source_partition", pa.int32()),
        pa.field("source_offset", pa.int64()),
        pa.field("key", pa.binary()),
        pa.field("raw", pa.binary()),
        pa.field("headers", pa.list_(HEADER), nullable=False),
        pa.field("kafka_partition", pa.int32(), nullable=False),
        pa.field("kafka_offset", pa.int64(), nullable=False),
    ]
)
SCHEMAS = {REPORTS: REPORTS_SCHEMA, DEADLETTER: DEADLETTER_SCHEMA}
# The Hive directory keys, as columns for readers.
PARTITION_KEYS = {
    REPORTS: pa.schema([pa.field("date", pa.string()), pa.field("hour", pa.int32())]),
    DEADLETTER: pa.schema([pa.field("date", pa.string())]),
}

# Parquet as every engine reads it: zstd, one row group per ~128k rows, statistics on.
PARQUET_OPTIONS = {"compression": "zstd", "compression_level": 3, "row_group_size": 128 * 1024}

_NAME = re.compile(r"^(?P<stream>[a-z]+)-p(?P<partition>\d+)-(?P<first>\d+)-(?P<last>\d+)\.parquet$")


@dataclass(frozen=True, order=True)
class FileRange:
    """The records one archive file holds: a Kafka partition, first and last offset (inclusive)."""

    partition: int
    first: int
    last: int

    def holds(self, offset: int) -> bool:
        return self.first <= offset <= self.last

    def contains(self, other: FileRange) -> bool:
        return self.partition == other.partition and self.first <= other.first and other.last <= self.last


# Our topics stamp records on arrival (LogAppendTime); a broker that keeps a
# producer's own time could hand over any value, and those records go to the
# epoch's directory rather than nowhere (still one place, so replays match).
_EARLIEST_MS, _LATEST_MS = 946684800000, 4102444800000  # 2000-01-01, 2100-01-01


def directory(stream: str, timestamp_ms: int) -> str:
    """The Hive partition directory (relative to the archive root) of a record that arrived then."""
    if not _EARLIEST_MS <= timestamp_ms < _LATEST_MS:
        timestamp_ms = 0
    at = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
    if stream == REPORTS:
        return f"{REPORTS}/date={at:%Y-%m-%d}/hour={at:%H}"
    return f"{DEADLETTER}/date={at:%Y-%m-%d}"


def closes_at(directory: str) -> datetime:
    """When the arrivals a directory holds end: its hour's end for reports, its day's for dead letters."""
    parts = directory.split("/")
    start = datetime.strptime(parts[1].removeprefix("date="), "%Y-%m-%d").replace(tzinfo=UTC)
    if parts[0] == REPORTS:
        return start + timedelta(hours=int(parts[2].removeprefix("hour=")) + 1)
    return start + timedelta(days=1)


def file_name(stream: str, file_range: FileRange) -> str:
    return f"{stream}-p{file_range.partition:04d}-{file_range.first:020d}-{file_range.last:020d}.parquet"


def parse_name(name: str) -> FileRange | None:
    """The range a file name says it holds; None for anything else (temporary files, strangers)."""
    match = _NAME.match(name)
    if match is None:
        return None
    return FileRange(int(match["partition"]), int(match["first"]), int(match["last"]))


def current(names: list[str]) -> list[str]:
    """The files of one directory a reader should read: every archive file no other file's range contains."""
    by_partition: dict[int, list[tuple[FileRange, str]]] = {}
    for name in names:
        file_range = parse_name(name)
        if file_range is not None:
            by_partition.setdefault(file_range.partition, []).append((file_range, name))
    kept = []
    for files in by_partition.values():
        # Widest first among equal starts: a file is contained exactly when an
        # earlier one in this order reaches at least as far.
        files.sort(key=lambda item: (item[0].first, -item[0].last))
        reach = -1
        for file_range, name in files:
            if file_range.last > reach:
                kept.append(name)
                reach = file_range.last
    return sorted(kept)
