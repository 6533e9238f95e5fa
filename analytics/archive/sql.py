"""Read-only SQL over the archive for the data team, through DuckDB.

The archive's current files (``storage.ArchiveStorage.dataset``) are the views
``reports`` and ``deadletter``, Hive columns ``date`` (and ``hour``) included,
so ``WHERE date BETWEEN ...`` reads only those days' files. The hourly
rollups (``rollup``) are the views ``citizen_hours`` and ``report_hours``:
the rollup files of the hours they match, and for every other hour the same
sums computed from its rows, so they are exact whichever hours are rolled up.
Nothing else is
reachable: DuckDB's file system access is off and locked before the query
runs (no COPY TO, no ATTACH, no read_csv of a local file, no extension
download), so a query can neither write nor read outside the archive.
"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb

from analytics.archive import layout, rollup
from analytics.archive.storage import ArchiveStorage

HOUR_KEYS = layout.PARTITION_KEYS[layout.REPORTS]


class ArchiveQueryError(ValueError):
    """The query is not valid SQL, refers to something that is not there, or asks for what is refused."""


def connect(archive: ArchiveStorage, dates: tuple[str, str] | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB whose only data are the archive's streams and rollups, locked against file access."""
    connection = duckdb.connect(":memory:")
    leaves = archive.leaves(layout.REPORTS, dates)
    rolled = rollup.matching(archive, leaves)
    connection.register(layout.REPORTS, _reports(archive, leaves))
    connection.register(layout.DEADLETTER, archive.dataset(layout.DEADLETTER, dates))
    unrolled = {leaf: names for leaf, names in leaves.items() if leaf not in rolled}
    connection.register("_unrolled_reports", _reports(archive, unrolled))
    for table in rollup.TABLES:
        paths = [found[table] for found in rolled.values()]
        connection.register(
            f"_{table}_rollups", archive.hive_dataset(paths, rollup.SCHEMAS[table], rollup.root(table), HOUR_KEYS)
        )
        computed = rollup.SQL[table].format(keys="date, hour,", source="_unrolled_reports")
        connection.execute(f"CREATE VIEW {table} AS SELECT * FROM _{table}_rollups UNION ALL BY NAME ({computed})")
    connection.execute("SET enable_external_access = false")
    connection.execute("SET lock_configuration = true")
    return connection


def _reports(archive: ArchiveStorage, leaves: dict[str, list[str]]):
    paths = [archive.path(f"{leaf}/{name}") for leaf, names in leaves.items() for name in names]
    return archive.hive_dataset(paths, layout.REPORTS_SCHEMA, layout.REPORTS, HOUR_KEYS)


def run(archive: ArchiveStorage, sql: str, *, batch_rows: int = 10_000) -> tuple[list[str], Iterator[tuple]]:
    """Column names and the rows of ``sql`` over the archive, fetched in batches."""
    connection = connect(archive)
    try:
        connection.execute(sql)
    except duckdb.Error as exc:
        connection.close()
        raise ArchiveQueryError(str(exc)) from None
    if connection.description is None:  # a statement, not a query
        connection.close()
        raise ArchiveQueryError("only a query (SELECT, WITH, SUMMARIZE...) returns rows here")
    columns = [column[0] for column in connection.description]

    def rows() -> Iterator[tuple]:
        try:
            while batch := connection.fetchmany(batch_rows):
                yield from batch
        except duckdb.Error as exc:
            raise ArchiveQueryError(str(exc)) from None
        finally:
            connection.close()

    return columns, rows()
