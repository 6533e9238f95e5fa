"""Read-only SQL over the archive for the data team, through DuckDB.

The archive's current files (``storage.ArchiveStorage.dataset``) are the views
``reports`` and ``deadletter``, Hive columns ``date`` (and ``hour``) included,
so ``WHERE date BETWEEN ...`` reads only those days' files. Nothing else is
reachable: DuckDB's file system access is off and locked before the query
runs (no COPY TO, no ATTACH, no read_csv of a local file, no extension
download), so a query can neither write nor read outside the archive.
"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb

from analytics.archive import layout
from analytics.archive.storage import ArchiveStorage


class ArchiveQueryError(ValueError):
    """The query is not valid SQL, refers to something that is not there, or asks for what is refused."""


def connect(archive: ArchiveStorage, dates: tuple[str, str] | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB whose only data are the archive's streams, locked against file access."""
    connection = duckdb.connect(":memory:")
    for stream in layout.STREAMS:
        connection.register(stream, archive.dataset(stream, dates))
    connection.execute("SET enable_external_access = false")
    connection.execute("SET lock_configuration = true")
    return connection


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
