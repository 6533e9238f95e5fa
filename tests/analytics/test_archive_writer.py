"""How the archive consumer gets through big batches quickly without changing what it writes."""

from __future__ import annotations

import asyncio
import gc
import json

import pytest

from analytics.archive import layout
from analytics.archive.consumer import process_batch
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
