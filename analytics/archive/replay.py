"""Reading the archive back: records for a re-index, and counts for the retention guard.

Rows come back as the records they were (original bytes, Kafka time,
partition and offset), so a re-index from the archive goes through the very
code the indexer runs on the topic (``analytics.consumer.process_batch``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from analytics.archive import layout
from analytics.archive.storage import ArchiveStorage
from peacewatch.streams import kafka
from peacewatch.streams.batch import Record

# A report is archived by arrival; one observed on a day may arrive this many
# days later (a drone that buffered while out of reach). The retention guard
# looks that far back, and errs towards keeping an index day.
LATE_ARRIVAL_DAYS = 7


def report_files(archive: ArchiveStorage, since_ms: int, until_ms: int) -> list[str]:
    """The current report files whose arrival hour overlaps [since_ms, until_ms), oldest first."""
    first = datetime.fromtimestamp(since_ms / 1000, tz=UTC).replace(minute=0, second=0, microsecond=0)
    last = datetime.fromtimestamp((until_ms - 1) / 1000, tz=UTC)
    files = archive.files(layout.REPORTS, dates=(f"{first:%Y-%m-%d}", f"{last:%Y-%m-%d}"))
    kept = []
    for path in files:
        date_part, hour_part = path.split("/")[-3:-1]
        hour = datetime.strptime(f"{date_part[5:]} {hour_part[5:]}", "%Y-%m-%d %H").replace(tzinfo=UTC)
        if first <= hour <= last:
            kept.append(path)
    return kept


def file_rows(archive: ArchiveStorage, path: str) -> int:
    """Rows in a file, from its footer."""
    with archive.fs.open_input_file(path) as handle:
        return pq.read_metadata(handle).num_rows


def records(
    archive: ArchiveStorage, path: str, since_ms: int, until_ms: int, *, batch: int = 5000
) -> Iterator[list[Record]]:
    """The records of one report file that arrived in [since_ms, until_ms), in batches."""
    topic = kafka.topic("reports")
    columns = ["raw", "received_at", "kafka_partition", "kafka_offset"]
    with archive.fs.open_input_file(path) as handle:
        for chunk in pq.ParquetFile(handle).iter_batches(batch_size=batch, columns=columns):
            received = chunk.column("received_at").cast("int64")
            inside = pc.and_(pc.greater_equal(received, since_ms), pc.less(received, until_ms))
            chunk = chunk.filter(inside)
            if not chunk.num_rows:
                continue
            yield [
                Record(value=raw, topic=topic, partition=partition, offset=offset, timestamp=ms)
                for raw, ms, partition, offset in zip(
                    chunk.column("raw").to_pylist(),
                    chunk.column("received_at").cast("int64").to_pylist(),
                    chunk.column("kafka_partition").to_pylist(),
                    chunk.column("kafka_offset").to_pylist(),
                    strict=True,
                )
            ]


def count_observed_on(archive: ArchiveStorage, day: date) -> int:
    """Reports the archive holds that were observed on ``day`` (UTC), arrived up to LATE_ARRIVAL_DAYS later."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    end = start + timedelta(days=1)
    dates = (f"{start - timedelta(days=1):%Y-%m-%d}", f"{end + timedelta(days=LATE_ARRIVAL_DAYS):%Y-%m-%d}")
    dataset = archive.dataset(layout.REPORTS, dates)
    observed = ds.field("observed_at")
    return dataset.count_rows(filter=(observed >= start) & (observed < end))
