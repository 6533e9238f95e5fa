"""Hourly rollups: each closed hour of reports summarised beside the archive, so a month is asked in seconds.

A question over a month of reports (how many, who was seen most) reads every
row of every file; the same question over per-hour sums reads a few thousand
rows per hour. Once an hour of ``reports/`` is closed (and compacted), two
small Parquet files are written beside the archive (CONTRACT section 7)::

    rollups/citizen_hours/date=YYYY-MM-DD/hour=HH/citizen_hours-<fingerprint>.parquet
    rollups/report_hours/date=YYYY-MM-DD/hour=HH/report_hours-<fingerprint>.parquet

Exact, never stale: the fingerprint names the report files the rollup sums
(the first 16 hex digits of the SHA-256 of their names, sorted, one per line;
the names themselves are in the file's metadata, ``peacewatch.sources``). A
file's name says which records it holds (``layout``), so the same names mean
the same rows. A reader uses a rollup only where its fingerprint is the one
of the hour's current files; an hour without one (still open, not rolled up
yet, or grown by a late or replayed file since) is summed from its rows by the
same SQL. A changed hour gets a new rollup, written whole, and the old one is
deleted after it. Running it again changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
from django.conf import settings

from analytics.archive import layout
from analytics.archive.storage import ArchiveStorage
from peacewatch.logs import log

logger = logging.getLogger(__name__)

ROOT = "rollups"
CITIZEN_HOURS = "citizen_hours"
REPORT_HOURS = "report_hours"
TABLES = (CITIZEN_HOURS, REPORT_HOURS)
SOURCES_KEY = b"peacewatch.sources"

# One SQL per rollup, over report rows: what the writer runs on an hour's files
# and what a reader runs on the hours that have no matching rollup, so both
# answer alike. ``{keys}`` is empty for one hour, "date, hour," over many.
SQL = {
    CITIZEN_HOURS: """
        SELECT {keys} c.name AS name, c.id AS id,
            count(*) AS sightings,
            count(c.peacescore) AS peacescore_count,
            sum(c.peacescore) AS peacescore_sum,
            min(c.peacescore) AS peacescore_min,
            max(c.peacescore) AS peacescore_max,
            min(observed_at) AS first_observed_at,
            max(observed_at) AS last_observed_at
        FROM {source}, unnest(citizens) AS t(c)
        GROUP BY ALL
    """,
    REPORT_HOURS: """
        SELECT {keys} drone_id,
            count(*) AS reports,
            sum(len(citizens))::BIGINT AS sightings,
            sum(len(words))::BIGINT AS words,
            count_if(clock_skew) AS clock_skewed,
            min(observed_at) AS first_observed_at,
            max(observed_at) AS last_observed_at
        FROM {source}
        GROUP BY ALL
    """,
}

SCHEMAS = {
    CITIZEN_HOURS: pa.schema(
        [
            pa.field("name", pa.string()),
            pa.field("id", pa.string()),
            pa.field("sightings", pa.int64(), nullable=False),
            pa.field("peacescore_count", pa.int64(), nullable=False),
            pa.field("peacescore_sum", pa.float64()),
            pa.field("peacescore_min", pa.float64()),
            pa.field("peacescore_max", pa.float64()),
            pa.field("first_observed_at", layout.TIMESTAMP, nullable=False),
            pa.field("last_observed_at", layout.TIMESTAMP, nullable=False),
        ]
    ),
    REPORT_HOURS: pa.schema(
        [
            pa.field("drone_id", pa.string(), nullable=False),
            pa.field("reports", pa.int64(), nullable=False),
            pa.field("sightings", pa.int64(), nullable=False),
            pa.field("words", pa.int64(), nullable=False),
            pa.field("clock_skewed", pa.int64(), nullable=False),
            pa.field("first_observed_at", layout.TIMESTAMP, nullable=False),
            pa.field("last_observed_at", layout.TIMESTAMP, nullable=False),
        ]
    ),
}


@dataclass
class Rollups:
    hours: int = 0  # closed hours looked at
    written: int = 0  # hours whose rollups were (re)written
    replaced: int = 0  # stale rollup files deleted


def fingerprint(names: list[str]) -> str:
    """The fingerprint of an hour's current report files (their names)."""
    return hashlib.sha256("\n".join(sorted(names)).encode()).hexdigest()[:16]


def file_name(table: str, names: list[str]) -> str:
    return f"{table}-{fingerprint(names)}.parquet"


def root(table: str) -> str:
    return f"{ROOT}/{table}"


def directory(table: str, hour_leaf: str) -> str:
    """``rollups/<table>/date=.../hour=...`` for ``reports/date=.../hour=...``."""
    return f"{root(table)}/{hour_leaf.removeprefix(f'{layout.REPORTS}/')}"


def build(
    archive: ArchiveStorage,
    *,
    now: datetime | None = None,
    dates: tuple[str, str] | None = None,
    progress: Callable[[str], None] = lambda line: None,
) -> Rollups:
    """Write the rollups of every closed hour that lacks a matching one (and delete the stale ones)."""
    now = now or datetime.now(tz=UTC)
    closed_before = now - timedelta(seconds=2 * settings.ARCHIVE_FLUSH_SECONDS)
    existing = {table: archive.tree(root(table)) for table in TABLES}
    result = Rollups()
    for leaf, names in archive.leaves(layout.REPORTS, dates).items():
        if layout.closes_at(leaf) > closed_before:
            continue
        result.hours += 1
        wanted = {table: file_name(table, names) for table in TABLES}
        if all(wanted[table] in existing[table].get(directory(table, leaf), []) for table in TABLES):
            continue
        tables = summarise(archive, leaf, names)
        for table in TABLES:
            target = f"{directory(table, leaf)}/{wanted[table]}"
            metadata = {SOURCES_KEY: json.dumps(sorted(names)).encode()}
            archive.write(target, tables[table].replace_schema_metadata(metadata))
            for stale in existing[table].get(directory(table, leaf), []):
                if stale != wanted[table]:
                    archive.delete(f"{directory(table, leaf)}/{stale}")
                    result.replaced += 1
        result.written += 1
        log(logger, logging.INFO, "archive_rolled_up", directory=leaf, files=len(names))
        progress(f"{leaf}: rolled up ({result.written} hours written, {result.hours} closed hours seen)")
    return result


def summarise(archive: ArchiveStorage, leaf: str, names: list[str]) -> dict[str, pa.Table]:
    """Both rollups of one hour's report files, computed from their rows."""
    # Registered as a dataset, not read into a table: DuckDB streams it, reading only the columns the SQL uses,
    # so an hour of any size takes the memory of its groups, not of its rows.
    rows = ds.dataset([archive.path(f"{leaf}/{name}") for name in names], format="parquet", filesystem=archive.fs)
    connection = duckdb.connect(":memory:")
    try:
        connection.register("hour_rows", rows)
        return {
            table: connection.sql(SQL[table].format(keys="", source="hour_rows"))
            .to_arrow_table()
            .select(SCHEMAS[table].names)
            .cast(SCHEMAS[table])
            for table in TABLES
        }
    finally:
        connection.close()


def matching(archive: ArchiveStorage, leaves: dict[str, list[str]]) -> dict[str, dict[str, str]]:
    """Hour leaf -> {table: rollup path} for the hours whose rollups match their current files."""
    existing = {table: archive.tree(root(table)) for table in TABLES}
    found = {}
    for leaf, names in leaves.items():
        paths = {}
        for table in TABLES:
            wanted = file_name(table, names)
            if wanted in existing[table].get(directory(table, leaf), []):
                paths[table] = archive.path(f"{directory(table, leaf)}/{wanted}")
        if len(paths) == len(TABLES):
            found[leaf] = paths
    return found
