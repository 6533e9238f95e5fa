"""How the archive consumer gets through big batches quickly without changing what it writes."""

from __future__ import annotations

import asyncio
import gc
import json
import shutil

import pytest

from analytics.archive import layout
from analytics.archive.consumer import process_batch
from analytics.archive.storage import ArchiveStorage
from peacewatch.consumers import KAFKA_CONSUMERS
from peacewatch.streams import kafka
from peacewatch.streams.batch import Record
from peacewatch.streams.runner import ConsumerRunner
from tests.factories import report

pytestmark = pytest.mark.django_db(transaction=True)

HOUR_MS = 3_600_000
Y2000_MS = 946_684_800_000  # where dated directories begin
Y2100_MS = 4_102_444_800_000  # where they end


def test_records_at_the_edges_of_hours_and_of_the_dated_window_land_where_layout_places_them(archive):
    """Directories are worked out once per hour seen: every record must still get its own hour's."""
    edges = [Y2000_MS - 1, Y2000_MS, Y2000_MS + HOUR_MS - 1, Y2000_MS + HOUR_MS, Y2100_MS - 1, Y2100_MS, 0, -5]
    edges += [1_764_349_199_999, 1_764_349_200_000]  # 2025-11-28 16:59:59.999 and 17:00
    reports = [
        Record(json.dumps(report()).encode(), topic=kafka.topic("reports"), offset=i, timestamp=ts)
        for i, ts in enumerate(edges)
    ]
    letters = [
        Record(b"not json", topic=kafka.topic("deadletter"), offset=i, timestamp=ts) for i, ts in enumerate(edges)
    ]

    process_batch(reports + letters, archive)

    for stream, batch in ((layout.REPORTS, reports), (layout.DEADLETTER, letters)):
        placed = {}
        for path in archive.files(stream):
            for offset in archive.read(path.removeprefix(archive.root + "/")).column("kafka_offset").to_pylist():
                placed[offset] = path.removeprefix(archive.root + "/").rsplit("/", 1)[0]
        assert placed == {r.offset: layout.directory(stream, r.timestamp) for r in batch}


def test_handlers_run_without_cyclic_collection_and_get_it_back_after_even_when_they_fail():
    runner = ConsumerRunner(KAFKA_CONSUMERS["archive"])

    def fails():
        raise ValueError("a bad batch")

    try:
        assert gc.isenabled()
        assert asyncio.run(runner._in_worker(gc.isenabled)) is False
        assert gc.isenabled()
        with pytest.raises(ValueError):
            asyncio.run(runner._in_worker(fails))
        assert gc.isenabled()
    finally:
        runner.executor.shutdown(wait=True)


def test_a_file_that_cannot_be_written_fails_the_batch_and_its_replay_writes_only_what_is_missing(tmp_path):
    """Files are written while the next one is built: a failed write still fails the whole batch."""
    archive = ArchiveStorage(str(tmp_path / "archive"))
    first_hour = 1_764_349_200_000  # 2025-11-28 17:00
    batch = [
        Record(json.dumps(report()).encode(), topic=kafka.topic("reports"), partition=p, offset=i, timestamp=ts)
        for p in (0, 1)
        for i, ts in enumerate([first_hour, first_hour + HOUR_MS])
    ]
    # A directory where partition 0's file of the second hour must go: its rename fails.
    second_hour = tmp_path / "archive" / layout.directory(layout.REPORTS, first_hour + HOUR_MS)
    blocked = second_hour / layout.file_name(layout.REPORTS, layout.FileRange(0, 1, 1))
    (blocked / "in-the-way").mkdir(parents=True)

    with pytest.raises(OSError):
        process_batch(batch, archive)

    shutil.rmtree(blocked)
    replayed = process_batch(batch, archive)
    assert replayed.counts["already_archived"] == 2
    assert replayed.counts["reports_archived"] == 2
    assert sorted(len(archive.read(p.removeprefix(archive.root + "/"))) for p in archive.files("reports")) == [1] * 4
