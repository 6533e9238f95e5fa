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

import pyarrow as pa

from analytics.archive import layout
from analytics.archive.storage import ArchiveStorage, get_archive
from ingest.reports import ReportError, decode_report
from peacewatch import metrics
from peacewatch.streams import kafka
from peacewatch.streams.batch import BatchOutcome, KafkaRecord
from peacewatch.streams.deadletter import parse_headers


def process_batch(records: list[KafkaRecord], archive: ArchiveStorage | None = None) -> BatchOutcome:
    archive = archive or get_archive()
    deadletter_topic = kafka.topic("deadletter")
    groups: dict[tuple[str, str, int], list[KafkaRecord]] = defaultdict(list)
    for record in records:
        stream = layout.DEADLETTER if record.topic == deadletter_topic else layout.REPORTS
        groups[(stream, layout.directory(stream, record.timestamp), record.partition)].append(record)
    counts: Counter = Counter()
    listings: dict[str, list[layout.FileRange]] = {}
    for (stream, directory, partition), group in sorted(groups.items()):
        if directory not in listings:
            names = archive.list(directory)
            listings[directory] = [r for r in map(layout.parse_name, names) if r is not None]
        held = [r for r in listings[directory] if r.partition == partition]
        fresh = [record for record in group if not any(r.holds(record.offset) for r in held)]
        counts["already_archived"] += len(group) - len(fresh)
        if not fresh:
            continue
        table, skipped = _reports_table(fresh) if stream == layout.REPORTS else (_deadletter_table(fresh), 0)
        counts["invalid_skipped"] += skipped
        file_range = layout.FileRange(partition, fresh[0].offset, fresh[-1].offset)
        size = archive.write(f"{directory}/{layout.file_name(stream, file_range)}", table)
        listings[directory].append(file_range)
        counts[f"{stream}_archived"] += table.num_rows
        counts["files_written"] += 1
        counts["bytes_written"] += size
        metrics.ARCHIVE_ROWS.labels(stream).inc(table.num_rows)
        metrics.ARCHIVE_BYTES.labels(stream).inc(size)
    return BatchOutcome(records=len(records), counts=counts)


def _reports_table(records: list[KafkaRecord]) -> tuple[pa.Table, int]:
    """The rows of the valid reports among ``records`` (in offset order), and how many were not valid."""
    columns: dict[str, list] = {field.name: [] for field in layout.REPORTS_SCHEMA}
    skipped = 0
    for record in records:
        decoded = decode_report(record.value, timestamp_ms=record.timestamp)
        if isinstance(decoded, ReportError):
            skipped += 1  # the indexer dead-letters it: it is archived under deadletter/
            continue
        report = decoded.report
        location = report.location
        columns["drone_id"].append(report.drone_id)
        columns["report_id"].append(decoded.report_id)
        columns["observed_at"].append(decoded.observed_at)
        columns["received_at"].append(record.timestamp)
        columns["time_source"].append(decoded.time_source)
        columns["clock_skew"].append(decoded.clock_skew)
        columns["seq"].append(report.seq)
        columns["lat"].append(location.lat)
        columns["lon"].append(location.lon)
        columns["alt_m"].append(location.alt_m)
        columns["citizens"].append(
            [
                {"name": c.name, "id": c.id, "peacescore": c.peacescore, "confidence": c.confidence}
                for c in report.citizens
            ]
        )
        columns["words"].append(report.words)
        columns["battery_pct"].append(report.battery_pct)
        columns["heading_deg"].append(report.heading_deg)
        columns["speed_mps"].append(report.speed_mps)
        columns["firmware"].append(report.firmware)
        columns["telemetry_dropped"].append(list(decoded.dropped))
        columns["raw"].append(decoded.raw)
        columns["kafka_partition"].append(record.partition)
        columns["kafka_offset"].append(record.offset)
    return pa.Table.from_pydict(columns, schema=layout.REPORTS_SCHEMA), skipped


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
