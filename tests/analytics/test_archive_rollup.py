"""Hourly rollups of the archive: the same answers as the rows, never from a stale rollup, on disk and on S3.

Tests that take the ``archive`` fixture run twice: on disk, and in a bucket of
a real S3-compatible server (moto's server mode) started for the session.
"""

import json
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.management import call_command

from analytics.archive import rollup, sql
from analytics.archive.compact import compact
from analytics.archive.consumer import process_batch
from tests.analytics.test_archive import ARRIVED, records
from tests.factories import citizen, report

pytestmark = pytest.mark.django_db(transaction=True)

HOUR_MS = 3600 * 1000
CLOSED = "reports/date=2026-11-28/hour=17"

RAW_CITIZENS = """
    SELECT c.name, count(*), count(c.peacescore), min(c.peacescore), max(c.peacescore)
    FROM reports, unnest(citizens) AS t(c) GROUP BY 1 ORDER BY 1
"""
ROLLUP_CITIZENS = """
    SELECT name, sum(sightings), sum(peacescore_count), min(peacescore_min), max(peacescore_max)
    FROM citizen_hours GROUP BY 1 ORDER BY 1
"""
RAW_REPORTS = "SELECT date, hour, drone_id, count(*), sum(len(words)) FROM reports GROUP BY ALL ORDER BY ALL"
ROLLUP_REPORTS = "SELECT date, hour, drone_id, sum(reports), sum(words) FROM report_hours GROUP BY ALL ORDER BY ALL"


def ask(archive, query):
    return list(sql.run(archive, query)[1])


def fill(archive):
    """Reports in two closed hours (17 and 18 of 2026-11-28), two partitions, a few files each."""
    ana_with_an_id = {"name": "Ana Roy", "id": "c-7", "peacescore": 55.0}
    people = [citizen("Ana Roy", 40.0), citizen("Paul Durand", 81.0), ana_with_an_id]
    for hour, first in ((0, 0), (0, 10), (1, 20)):
        docs = [report(drone_id=f"pw-{i % 3}", citizens=people[: 1 + i % 3]) for i in range(10)]
        process_batch(records(docs, first_offset=first, timestamp=ARRIVED + hour * HOUR_MS), archive)
    docs = [report(drone_id="pw-9", words=["one"]) for _ in range(4)]
    process_batch(records(docs, partition=1, first_offset=0), archive)


def test_the_rollup_views_answer_what_the_rows_answer_before_and_after_compaction(archive):
    fill(archive)
    raw = ask(archive, RAW_CITIZENS), ask(archive, RAW_REPORTS)
    assert raw[0] == [("Ana Roy", 39, 39, 40.0, 55.0), ("Paul Durand", 22, 22, 81.0, 81.0)]

    assert (ask(archive, ROLLUP_CITIZENS), ask(archive, ROLLUP_REPORTS)) == raw  # nothing rolled up: from rows
    result = compact(archive)

    assert result.rollups.written == 2
    for table in rollup.TABLES:
        [name] = archive.list(rollup.directory(table, CLOSED))
        sources = sorted(archive.list(CLOSED))
        assert name == f"{table}-{rollup.fingerprint(sources)}.parquet"
        # Any Parquet reader can tell which files a rollup sums.
        metadata = pq.read_schema(archive.fs.open_input_file(archive.path(f"{rollup.directory(table, CLOSED)}/{name}")))
        assert json.loads(metadata.metadata[rollup.SOURCES_KEY]) == sources
    assert (ask(archive, ROLLUP_CITIZENS), ask(archive, ROLLUP_REPORTS)) == raw
    connection = sql.connect(archive)
    assert connection.execute("SELECT count(*) FROM _unrolled_reports").fetchone() == (0,)  # all from rollups


def test_an_hour_grown_by_a_late_file_is_summed_from_its_rows_until_rolled_up_again(archive, capsys):
    fill(archive)
    compact(archive)
    # A rollup under the hour's current fingerprint is what readers take, whatever it says:
    directory = rollup.directory(rollup.CITIZEN_HOURS, CLOSED)
    [name] = archive.list(directory)
    rolled = archive.read(f"{directory}/{name}")
    column = rolled.schema.get_field_index("sightings")
    forged = rolled.set_column(column, rolled.schema.field(column), pa.array([1000] * rolled.num_rows, pa.int64()))
    archive.write(f"{directory}/{name}", forged.replace_schema_metadata(rolled.schema.metadata))
    assert ask(archive, "SELECT sum(sightings) FROM citizen_hours WHERE hour = 17") == [(1000 * rolled.num_rows,)]

    # A late file in that closed hour: the forged rollup no longer matches and is not read.
    late = [report(citizens=[citizen("Late Comer", 10.0)]) for _ in range(3)]
    process_batch(records(late, partition=2, first_offset=500), archive)
    raw = ask(archive, RAW_CITIZENS)
    assert ("Late Comer", 3, 3, 10.0, 10.0) in raw
    assert ask(archive, ROLLUP_CITIZENS) == raw

    call_command("archive", "rollup")

    assert "done: 2 closed hours, 1 rolled up, 2 stale deleted" in capsys.readouterr().out
    assert archive.list(directory) == [f"{rollup.CITIZEN_HOURS}-{rollup.fingerprint(archive.list(CLOSED))}.parquet"]
    assert ask(archive, ROLLUP_CITIZENS) == raw


def test_rolling_up_again_or_replaying_a_batch_changes_nothing_and_open_hours_stay_rows(archive):
    fill(archive)
    now_ms = int(time.time() * 1000)
    process_batch(records([report(drone_id="pw-now")], partition=3, first_offset=0, timestamp=now_ms), archive)
    compact(archive)
    everything = sorted(archive.tree(rollup.ROOT).items())

    again = compact(archive)
    replay = process_batch(records([report() for _ in range(10)], first_offset=0), archive)

    assert replay.counts["already_archived"] == 10
    assert (again.rollups.hours, again.rollups.written, again.rollups.replaced) == (2, 0, 0)
    assert rollup.build(archive).written == 0
    assert sorted(archive.tree(rollup.ROOT).items()) == everything
    assert len(everything) == 4  # two closed hours, two tables; the open hour has none
    assert ask(archive, "SELECT drone_id, sum(reports) FROM report_hours WHERE drone_id = 'pw-now' GROUP BY 1") == [
        ("pw-now", 1)
    ]
