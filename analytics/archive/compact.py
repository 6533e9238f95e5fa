"""Hourly compaction: the small files of a closed directory merged into one per Kafka partition.

At a low rate each flush writes one small file per partition; engines read
many small files slowly. Once a directory is closed (its hour, or day for dead
letters, ended more than two flush periods ago), the files of each partition
are merged, in offset order, into files of up to ``MAX_BYTES``, named by the
range they cover. The merged file is written whole first; the files it
replaces are deleted after. In between, readers skip them (a file whose range
another file of the directory contains, ``layout.current``), and a run that
died there deletes them next time. Then every closed hour of reports gets its
rollups (``rollup``) where it lacks matching ones. Running it again changes
nothing.

Rows are streamed file by file (one input file in memory at a time).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings

from analytics.archive import layout, rollup
from analytics.archive.storage import ArchiveStorage
from peacewatch.logs import log

logger = logging.getLogger(__name__)

MAX_BYTES = 512 * 1024 * 1024  # merged files stop growing past this
ROW_GROUP_ROWS = layout.PARQUET_OPTIONS["row_group_size"]


@dataclass
class Compaction:
    directories: int = 0
    merged: int = 0  # files written
    replaced: int = 0  # small files deleted (merged, or left over by an interrupted run)
    rollups: rollup.Rollups = field(default_factory=rollup.Rollups)
    details: list[str] = field(default_factory=list)


def compact(
    archive: ArchiveStorage,
    *,
    now: datetime | None = None,
    progress: Callable[[str], None] = lambda line: None,
) -> Compaction:
    """Compact every closed directory of the archive, then roll up the closed hours that need it."""
    now = now or datetime.now(tz=UTC)
    closed_before = now - timedelta(seconds=2 * settings.ARCHIVE_FLUSH_SECONDS)
    result = Compaction()
    for stream, directory, ends in _directories(archive):
        if ends > closed_before:
            continue
        result.directories += 1
        _compact_directory(archive, stream, directory, result)
        progress(f"{directory}: {result.merged} files written, {result.replaced} replaced so far")
    # After the merge, so a rollup names the hour's merged files rather than the small ones it replaced.
    result.rollups = rollup.build(archive, now=now, progress=progress)
    return result


def _directories(archive: ArchiveStorage):
    """(stream, directory, when it closes) for every leaf directory of the archive."""
    for date_dir in archive.directories(layout.REPORTS):
        for hour_dir in archive.directories(f"{layout.REPORTS}/{date_dir}"):
            directory = f"{layout.REPORTS}/{date_dir}/{hour_dir}"
            yield layout.REPORTS, directory, layout.closes_at(directory)
    for date_dir in archive.directories(layout.DEADLETTER):
        directory = f"{layout.DEADLETTER}/{date_dir}"
        yield layout.DEADLETTER, directory, layout.closes_at(directory)


def _compact_directory(archive: ArchiveStorage, stream: str, directory: str, result: Compaction) -> None:
    sizes = archive.sizes(directory)
    names = list(sizes)
    current = set(layout.current(names))
    for name in names:  # replaced by a merged file whose run died before deleting them
        if layout.parse_name(name) is not None and name not in current:
            archive.delete(f"{directory}/{name}")
            result.replaced += 1
    by_partition: dict[int, list[tuple[layout.FileRange, str]]] = {}
    for name in current:
        file_range = layout.parse_name(name)
        by_partition.setdefault(file_range.partition, []).append((file_range, name))
    for partition, files in sorted(by_partition.items()):
        files.sort()
        for group in _groups(files, sizes):
            if len(group) < 2:
                continue
            merged = layout.FileRange(partition, group[0][0].first, group[-1][0].last)
            target = f"{directory}/{layout.file_name(stream, merged)}"
            with (
                archive.open_whole(target) as sink,
                pq.ParquetWriter(sink, layout.SCHEMAS[stream], **_writer_options()) as writer,
            ):
                pending: list[pa.Table] = []  # small files gathered into full row groups
                for _range, name in group:
                    pending.append(archive.read(f"{directory}/{name}"))
                    if sum(table.num_rows for table in pending) >= ROW_GROUP_ROWS:
                        writer.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP_ROWS)
                        pending = []
                if pending:
                    writer.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP_ROWS)
            result.merged += 1
            for _range, name in group:
                archive.delete(f"{directory}/{name}")
                result.replaced += 1
            log(logger, logging.INFO, "archive_compacted", directory=directory, file=target, replaced=len(group))


def _groups(files, sizes: dict[str, int]):
    """Consecutive files whose total size stays under MAX_BYTES."""
    group, size = [], 0
    for file_range, name in files:
        if group and size + sizes[name] > MAX_BYTES:
            yield group
            group, size = [], 0
        group.append((file_range, name))
        size += sizes[name]
    if group:
        yield group


def _writer_options() -> dict:
    options = dict(layout.PARQUET_OPTIONS)
    options.pop("row_group_size", None)  # a writer's row groups are the tables it is given
    return options
