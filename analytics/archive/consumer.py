"""The ``archive`` consumer: every valid report and every dead letter into the archive, as Parquet.

Pure core over a batch (the runner accumulates polls into batches of up to
``max_batch`` records, at most half of ``ARCHIVE_FLUSH_SECONDS`` old): records
are grouped by stream, arrival hour and Kafka partition; each group becomes
one file named after its offset range (``layout``). Before writing, the
directory is listed and records an earlier file already holds are left out,
so a batch replayed after a crash (written, not committed) adds nothing twice.
The runner commits the offsets only after ``process_batch`` returns, and that
is after every file is durable.

Invalid reports are not written to ``reports/``: the indexer dead-letters
them, and the dead letter, with the original bytes, lands in ``deadletter/``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from concurrent.futures import Future, ThreadPoolExecutor

import pyarrow as pa

from analytics.archive import layout
from analytics.archive.storage import ArchiveStorage, get_archive
from ingest.reports import ReportError, decode_report
from peacewatch import metrics
from peacewatch.streams import kafka
from peacewatch.streams.batch import BatchOutcome, KafkaRecord
from peacewatch.streams.deadletter import parse_headers

_HOUR_MS = 3_600_000


def process_batch(records: list[KafkaRecord], archive: ArchiveStorage | None = None) -> BatchOutcome:
    archive = archive or get_archive()
    deadletter_topic = kafka.topic("deadletter")
    groups: dict[tuple[str, str, int], list[KafkaRecord]] = defaultdict(list)
    # A directory is an arrival hour (and the out-of-range times that go to the epoch's are cut at
    # whole hours too): formatted once per hour seen rather than per record, as dates format slowly.
    directories: dict[tuple[str, int], str] = {}
    for record in records:
        stream = layout.DEADLETTER if record.topic == deadletter_topic else layout.REPORTS
        hour = (stream, record.timestamp // _HOUR_MS)
        directory = directories.get(hour)
        if directory is None:
            directory = directories[hour] = layout.directory(stream, record.timestamp)
        groups[(stream, directory, record.partition)].append(record)
    counts: Counter = Counter()
    listings: dict[str, list[layout.FileRange]] = {}
    # A file is written (Parquet encoding and compression release the GIL) while the next group's
    # rows are built; one write at a time, and all of them done before returning.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="archive-write") as writer:
        writing: Future | None = None
        for (stream, directory, partition), group in sorted(groups.items()):
            if directory not in listings:
                names = archive.list(directory)
                listings[directory] = [r for r in map(layout.parse_name, names) if r is not None]
            # Only files overlapping this run of offsets can hold any of it (a directory may hold hundreds).
            low, high = group[0].offset, group[-1].offset
            held = [r for r in listings[directory] if r.partition == partition and r.first <= high and r.last >= low]
            fresh = [record for record in group if not any(r.holds(record.offset) for r in held)]
            counts["already_archived"] += len(group) - len(fresh)
            if not fresh:
                continue
            table, skipped = _reports_table(fresh) if stream == layout.REPORTS else (_deadletter_table(fresh), 0)
            counts["invalid_skipped"] += skipped
            file_range = layout.FileRange(partition, fresh[0].offset, fresh[-1].offset)
            _written(writing, counts)
            path = f"{directory}/{layout.file_name(stream, file_range)}"
            writing = writer.submit(_write, archive, path, stream, table)
            listings[directory].append(file_range)
        _written(writing, counts)
    return BatchOutcome(records=len(records), counts=counts)


def _write(archive: ArchiveStorage, path: str, stream: str, table: pa.Table) -> tuple[str, int, int]:
    return stream, table.num_rows, archive.write(path, table)


def _written(writing: Future | None, counts: Counter) -> None:
    """Wait for a file being written (raising its error, if any) and count it."""
    if writing is None:
        return
    stream, rows, size = writing.result()
    counts[f"{stream}_archived"] += rows
    counts["files_written"] += 1
    counts["bytes_written"] += size
    metrics.ARCHIVE_ROWS.labels(stream).inc(rows)
    metrics.ARCHIVE_BYTES.labels(stream).inc(size)


def _reports_table(records: list[KafkaRecord]) -> tuple[pa.Table, int]:
    """The rows of the valid reports among ``records`` (in offset order), and how many were not valid."""
    scalar_names = [
        "drone_id", "report_id", "observed_at", "received_at", "time_source", "clock_skew", "seq", "lat", "lon",
        "alt_m", "battery_pct", "heading_deg", "speed_mps", "firmware", "raw", "kafka_partition", "kafka_offset",
    ]  # fmt: skip
    rows: list[tuple] = []  # one tuple of the scalar columns per report, transposed once at the end
    # Lists are built flat, with offsets: far cheaper than a Python dict per citizen.
    citizen_offsets, names, ids, scores, confidences = [0], [], [], [], []
    word_offsets, words = [0], []
    dropped_offsets, dropped = [0], []
    skipped = 0
    for record in records:
        decoded = decode_report(record.value, timestamp_ms=record.timestamp)
        if isinstance(decoded, ReportError):
            skipped += 1  # the indexer dead-letters it: it is archived under deadletter/
            continue
        report = decoded.report
        location = report.location
        rows.append(
            (
                report.drone_id,
                decoded.report_id,
                decoded.observed_at,
                record.timestamp,
                decoded.time_source,
                decoded.clock_skew,
                report.seq,
                location.lat,
                location.lon,
                location.alt_m,
                report.battery_pct,
                report.heading_deg,
                report.speed_mps,
                report.firmware,
                decoded.raw,
                record.partition,
                record.offset,
            )
        )
        for citizen in report.citizens:
            names.append(citizen.name)
            ids.append(citizen.id)
            scores.append(citizen.peacescore)
            confidences.append(citizen.confidence)
        citizen_offsets.append(len(names))
        words += report.words
        word_offsets.append(len(words))
        dropped += decoded.dropped
        dropped_offsets.append(len(dropped))
    schema = layout.REPORTS_SCHEMA
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(scalar_names)
    arrays = {
        name: pa.array(values, type=schema.field(name).type) for name, values in zip(scalar_names, columns, strict=True)
    }
    citizens = pa.StructArray.from_arrays(
        [pa.array(names, pa.string()), pa.array(ids, pa.string()), pa.array(scores, pa.float64()),
         pa.array(confidences, pa.float64())],
        fields=list(layout.CITIZEN),
    )  # fmt: skip
    arrays["citizens"] = pa.ListArray.from_arrays(pa.array(citizen_offsets, pa.int32()), citizens)
    arrays["words"] = pa.ListArray.from_arrays(pa.array(word_offsets, pa.int32()), pa.array(words, pa.string()))
    arrays["telemetry_dropped"] = pa.ListArray.from_arrays(
        pa.array(dropped_offsets, pa.int32()), pa.array(dropped, pa.string())
    )
    return pa.Table.from_arrays([arrays[field.name] for field in schema], schema=schema), skipped


def _deadletter_table(records: list[KafkaRecord]) -> pa.Table:
    columns: dict[str, list] = {field.name: [] for field in layout.DEADLETTER_SCHEMA}
    for record in records:
        headers = parse_headers(record.headers or ())

        columns["received_at"].append(record.timestamp)
        columns["error"].append(headers.get("error"))
        columns["detail"].append(headers.get("detail"))
        columns["source_topic"].append(headers.get("source_topic"))
        columns["source_partition"].append(_number(headers, "source_partition", 32))
        columns["source_offset"].append(_number(headers, "source_offset", 64))
        columns["key"].append(record.key)
        columns["raw"].append(record.value)
        # Every header as sent, ours (HEADER_NAMES) and any other, bytes unchanged.
        columns["headers"].append([{"name": name, "value": value} for name, value in (record.headers or ())])
        columns["kafka_partition"].append(record.partition)
        columns["kafka_offset"].append(record.offset)
    return pa.Table.from_pydict(columns, schema=layout.DEADLETTER_SCHEMA)


def _number(headers: dict[str, str], name: str, bits: int) -> int | None:
    """A header's integer, or None when it is not one that fits (anyone can produce to the topic)."""
    value = headers.get(name, "")
    return int(value) if value.isdigit() and int(value) < 2 ** (bits - 1) else None
