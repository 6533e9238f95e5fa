"""The archive: every valid report and every dead letter as Parquet, on local disk and on an S3-compatible store.

Tests that take the ``archive`` fixture run twice: on disk, and in a bucket of
a real S3-compatible server (moto's server mode) started for the session.
"""

import asyncio
import json
import time
from datetime import UTC, datetime

import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command

from analytics.archive import layout
from analytics.archive.consumer import process_batch
from peacewatch.consumers import KAFKA_CONSUMERS
from peacewatch.streams import kafka
from peacewatch.streams.batch import Record
from peacewatch.streams.runner import ConsumerRunner
from tests.factories import citizen, report
from tests.ingest.test_pipeline import BAD_RECORDS
from tests.kafka import consumed, produce, produce_sync, run_consumer_until

pytestmark = pytest.mark.django_db(transaction=True)

ARRIVED = int(datetime(2026, 11, 28, 17, 59, 58, tzinfo=UTC).timestamp() * 1000)


def records(docs, *, partition=0, first_offset=0, timestamp=ARRIVED) -> list[Record]:
    return [
        Record(
            value=doc if isinstance(doc, bytes) else json.dumps(doc).encode(),
            key=b"pw-1",
            topic=kafka.topic("reports"),
            partition=partition,
            offset=first_offset + i,
            timestamp=timestamp,
        )
        for i, doc in enumerate(docs)
    ]


def rows(archive, stream="reports"):
    return archive.dataset(stream).to_table().to_pylist()


def test_a_batch_becomes_one_file_per_partition_named_by_its_offsets_and_readable_as_is(archive):
    batch = records([report(drone_id="pw-1") for _ in range(3)], partition=2, first_offset=40)
    batch += records([report(drone_id="pw-2") for _ in range(2)], partition=5, first_offset=7)

    outcome = process_batch(batch, archive)

    directory = "reports/date=2026-11-28/hour=17"
    assert sorted(archive.list(directory)) == [
        "reports-p0002-00000000000000000040-00000000000000000042.parquet",
        "reports-p0005-00000000000000000007-00000000000000000008.parquet",
    ]
    assert outcome.counts["reports_archived"] == 5 and outcome.counts["files_written"] == 2
    # Any Parquet reader, no PeaceWatch code: zstd, the contract's columns.
    table = archive.read(f"{directory}/reports-p0002-00000000000000000040-00000000000000000042.parquet")
    metadata = pq.read_metadata(archive.fs.open_input_file(archive.path(f"{directory}/{archive.list(directory)[0]}")))
    assert metadata.row_group(0).column(0).compression == "ZSTD"
    assert table.schema.equals(layout.REPORTS_SCHEMA)
    first = table.to_pylist()[0]
    assert first["kafka_partition"] == 2 and first["kafka_offset"] == 40
    assert first["raw"] == batch[0].value  # the original bytes, unchanged
    assert first["citizens"] == [{"name": "Paul Durand", "id": None, "peacescore": 81.0, "confidence": 0.97}]
    assert first["observed_at"] == datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
    assert first["received_at"] == datetime.fromtimestamp(ARRIVED / 1000, tz=UTC)
    assert (first["time_source"], first["words"], first["battery_pct"]) == (
        "drone",
        ["bread", "strike", "tomorrow"],
        76,
    )


def test_a_replayed_batch_adds_no_row_even_when_cut_differently(archive):
    docs = [report() for _ in range(10)]
    process_batch(records(docs[:6]), archive)  # written, then the process died before committing

    replay = process_batch(records(docs), archive)  # the next owner reads from the last commit

    assert replay.counts["already_archived"] == 6 and replay.counts["reports_archived"] == 4
    assert sorted(r["kafka_offset"] for r in rows(archive)) == list(range(10))
    again = process_batch(records(docs[3:8], first_offset=3), archive)
    assert again.counts["already_archived"] == 5 and "files_written" not in again.counts
    assert len(rows(archive)) == 10


def test_records_go_to_the_hour_they_arrived_in_and_dead_letters_by_day(archive):
    late = ARRIVED + 5_000  # 18:00:03
    batch = records([report(), report()], timestamp=ARRIVED) + records([report()], first_offset=2, timestamp=late)
    letter = Record(
        value=b"not json",
        key=b"k",
        topic=kafka.topic("deadletter"),
        partition=1,
        offset=9,
        timestamp=late,
        headers=[("error", b"invalid_json"), ("source_partition", b"0"), ("source_offset", b"12"), ("x-any", b"\xff")],
    )

    process_batch([*batch, letter], archive)

    assert [(r["date"], r["hour"], r["kafka_offset"]) for r in rows(archive)] == [
        ("2026-11-28", 17, 0),
        ("2026-11-28", 17, 1),
        ("2026-11-28", 18, 2),
    ]
    (dead,) = rows(archive, "deadletter")
    assert (dead["date"], dead["error"], dead["source_offset"], dead["raw"]) == (
        "2026-11-28",
        "invalid_json",
        12,
        b"not json",
    )
    assert {"name": "x-any", "value": b"\xff"} in dead["headers"]


def test_invalid_reports_are_left_to_the_dead_letter_stream(archive):
    outcome = process_batch(records([report(), *BAD_RECORDS, report()]), archive)

    assert outcome.counts["invalid_skipped"] == len(BAD_RECORDS)
    assert [r["kafka_offset"] for r in rows(archive)] == [0, len(BAD_RECORDS) + 1]


def test_a_dead_letter_with_absurd_headers_is_archived_with_what_can_be_read(archive):
    letter = Record(
        value=None,
        topic=kafka.topic("deadletter"),
        offset=3,
        timestamp=-1,  # no time: the epoch's directory, always the same one
        headers=[("source_partition", b"99999999999999999999"), ("source_offset", b"-5"), ("error", b"\xc3\x28")],
    )

    process_batch([letter], archive)

    (dead,) = rows(archive, "deadletter")
    assert (dead["date"], dead["source_partition"], dead["source_offset"], dead["raw"]) == (
        "1970-01-01",
        None,
        None,
        None,
    )


def test_readers_ignore_a_file_whose_offsets_another_file_of_the_directory_holds():
    small = [layout.file_name("reports", layout.FileRange(3, first, first + 99)) for first in (0, 100, 200)]
    compacted = layout.file_name("reports", layout.FileRange(3, 0, 299))
    other = layout.file_name("reports", layout.FileRange(4, 0, 9))

    assert layout.current([*small, compacted, other, "_reports-p0003-x.tmp"]) == sorted([compacted, other])
    assert layout.current([*small, other]) == sorted([*small, other])


def test_archive_sql_answers_over_the_hive_columns_and_reads_nothing_else(archive, capsys):
    process_batch(records([report(drone_id="pw-7"), report(drone_id="pw-7"), report(drone_id="pw-8")]), archive)

    call_command(
        "archive", "sql", "SELECT drone_id, count(*) AS n FROM reports WHERE date = '2026-11-28' GROUP BY 1 ORDER BY 1"
    )
    assert capsys.readouterr().out.splitlines() == ["drone_id,n", "pw-7,2", "pw-8,1"]
    call_command("archive", "sql", "--format", "json", "SELECT c.name FROM reports, unnest(citizens) AS t(c) LIMIT 1")
    assert json.loads(capsys.readouterr().out) == {"name": "Paul Durand"}
    for refused in (
        "COPY reports TO 'leak.csv'",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SET enable_external_access = true",
    ):
        with pytest.raises(CommandError, match="archive sql: "):
            call_command("archive", "sql", refused)
    with pytest.raises(CommandError, match="Referenced column"):
        call_command("archive", "sql", "SELECT nonsense FROM reports")


def test_every_record_reaches_the_archive_once_through_the_real_broker(broker, archive, settings):
    settings.ARCHIVE_FLUSH_SECONDS = 2
    docs = [
        report(report_id=f"arch-{i}", drone_id=f"pw-{i % 5}", citizens=[citizen("Ana Lee", 60.0)]) for i in range(300)
    ]
    mixed = [*docs[:150], *BAD_RECORDS, *docs[150:], docs[3]]  # a resent report is a record of its own
    produce_sync(mixed)

    async def run():
        await run_consumer_until("indexer", consumed(len(mixed)))  # dead-letters the bad records
        return await run_consumer_until("archive", consumed(len(mixed) + len(BAD_RECORDS)), timeout=60)

    runner = asyncio.run(run())

    archived = rows(archive)
    assert len(archived) == len(docs) + 1
    assert len({(r["kafka_partition"], r["kafka_offset"]) for r in archived}) == len(archived)
    assert sorted(r["report_id"] for r in archived) == sorted([d["report_id"] for d in docs] + ["arch-3"])
    dead = rows(archive, "deadletter")
    assert sorted(r["raw"] for r in dead) == sorted(BAD_RECORDS)
    assert {r["raw"]: r["error"] for r in dead} == BAD_RECORDS
    assert runner.stats["invalid_skipped"] == len(BAD_RECORDS)


def test_polls_are_gathered_into_one_file_written_within_the_flush_bound(broker, archive, settings):
    settings.ARCHIVE_FLUSH_SECONDS = 4
    bursts = [[report(drone_id="pw-same") for _ in range(20)] for _ in range(4)]

    async def run():
        runner = ConsumerRunner(KAFKA_CONSUMERS["archive"], poll_timeout_ms=100)
        task = asyncio.create_task(runner.run())
        try:
            while not runner.partitions:  # joined its group: from here on the bound applies
                assert not task.done() and time.monotonic() < deadline
                await asyncio.sleep(0.05)
            produced = time.monotonic()
            for burst in bursts:
                await produce(burst)
                await asyncio.sleep(0.3)
            while len(await asyncio.to_thread(rows, archive)) < 80:
                assert not task.done() and time.monotonic() < deadline
                await asyncio.sleep(0.1)
            return runner, time.monotonic() - produced
        finally:
            runner.request_stop()
            await asyncio.wait_for(task, timeout=30)

    deadline = time.monotonic() + 60
    runner, took = asyncio.run(run())

    assert len(rows(archive)) == 80
    assert runner.stats["files_written"] == 1  # one drone, one partition: four bursts, one file
    assert took <= settings.ARCHIVE_FLUSH_SECONDS


def test_records_held_for_the_next_file_count_as_lag_until_the_file_is_written(broker, archive, settings):
    settings.ARCHIVE_FLUSH_SECONDS = 3600  # held for the whole test: no file, no commit
    reports = [report(drone_id="pw-held") for _ in range(25)]

    async def run():
        runner = ConsumerRunner(KAFKA_CONSUMERS["archive"], poll_timeout_ms=100)
        task = asyncio.create_task(runner.run())
        try:
            while not runner.partitions:  # joined its group
                assert not task.done() and time.monotonic() < deadline
                await asyncio.sleep(0.05)
            await produce(reports)
            while runner.lag != 25 and time.monotonic() < deadline:  # the lag is observed once a second
                assert not task.done()
                await asyncio.sleep(0.1)
            return runner.lag, await asyncio.to_thread(rows, archive)
        finally:
            runner.request_stop()
            await asyncio.wait_for(task, timeout=30)

    deadline = time.monotonic() + 30
    lag, written = asyncio.run(run())

    assert written == []  # still held when the lag was read
    assert lag == 25  # read but not yet written is waiting, not done (a stuck archive must show)
    assert len(rows(archive)) == 25  # stopping writes what was held


def test_compaction_merges_a_closed_hour_into_one_file_per_partition_and_readers_see_the_same_rows(archive, capsys):
    for start in (0, 10, 20):  # three flushes of partition 0, two of partition 1, in hour 17
        process_batch(records([report() for _ in range(10)], first_offset=start), archive)
    for start in (0, 5):
        process_batch(records([report() for _ in range(5)], partition=1, first_offset=start), archive)
    now_ms = int(time.time() * 1000)  # the current hour is still open: left alone
    process_batch(records([report(), report()], first_offset=30, timestamp=now_ms), archive)
    before = sorted((r["kafka_partition"], r["kafka_offset"], r["raw"]) for r in rows(archive))

    call_command("archive", "compact")

    closed = "reports/date=2026-11-28/hour=17"
    assert sorted(archive.list(closed)) == [
        "reports-p0000-00000000000000000000-00000000000000000029.parquet",
        "reports-p0001-00000000000000000000-00000000000000000009.parquet",
    ]
    assert len(archive.list(layout.directory("reports", now_ms))) == 1
    assert sorted((r["kafka_partition"], r["kafka_offset"], r["raw"]) for r in rows(archive)) == before
    assert "done: 1 closed directories, 2 files written, 5 small files replaced" in capsys.readouterr().out
    replay = process_batch(records([report() for _ in range(30)]), archive)
    assert replay.counts["already_archived"] == 30

    # A run that died between writing the merged file and deleting the small ones:
    leftover = "reports-p0000-00000000000000000010-00000000000000000019.parquet"
    archive.write(f"{closed}/{leftover}", archive.read(f"{closed}/{archive.list(closed)[0]}").slice(10, 10))
    assert len(rows(archive)) == len(before)  # readers skip it
    call_command("archive", "compact")
    assert leftover not in archive.list(closed)
    assert "0 files written, 1 small files replaced" in capsys.readouterr().out


def test_make_run_archives_every_report_the_simulators_sent_and_every_dead_letter(broker, archive, settings, tmp_path):
    """The stack as `make run` starts it (runstack: web, the three consumers, Celery, two simulators),
    on this test's broker, then stopped as Ctrl-C stops it: the archive holds every record of both
    topics, once, and nothing else."""
    import signal
    import subprocess
    import sys

    from django.core.management import call_command

    from peacewatch.streams.broker import stop_process
    from tests.conftest import free_port
    from tests.kafka import read_topic_sync
    from tests.live_stack import child_env

    call_command("demo_fleet", "--drones", "12", verbosity=0)
    env = {**child_env(tmp_path), "ARCHIVE_URL": settings.ARCHIVE_URL, "ARCHIVE_FLUSH_SECONDS": "4"}
    argv = [sys.executable, "manage.py", "runstack", "--no-broker", "--port", str(free_port())]
    argv += ["--drones", "12", "--rate", "40"]
    log = open(tmp_path / "runstack.log", "wb")  # noqa: SIM115 - closed below
    stack = subprocess.Popen(argv, env=env, cwd=settings.BASE_DIR, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while b"PeaceWatch is running" not in (tmp_path / "runstack.log").read_bytes():
            assert stack.poll() is None and time.monotonic() < deadline, (tmp_path / "runstack.log").read_text()
            time.sleep(0.2)
        time.sleep(6)
        produce_sync(list(BAD_RECORDS))  # the indexer dead-letters each
        time.sleep(8)
        stack.send_signal(signal.SIGINT)  # Ctrl-C: simulators first, consumers flush and commit
        assert stack.wait(timeout=90) == 0, (tmp_path / "runstack.log").read_text()[-3000:]
    finally:
        stop_process(stack, timeout=30)
        log.close()

    on_topic = {}
    for name in ("reports", "deadletter"):
        records = read_topic_sync(kafka.topic(name), expected=10**9, timeout=8)
        on_topic[name] = {(r.partition, r.offset): r.value for r in records}
    valid = {at: raw for at, raw in on_topic["reports"].items() if raw not in BAD_RECORDS}
    assert len(valid) > 300, "the simulators should have sent hundreds of reports"
    assert len(on_topic["deadletter"]) == len(BAD_RECORDS)

    archived = {(r["kafka_partition"], r["kafka_offset"]): r["raw"] for r in rows(archive)}
    assert len(archived) == len(rows(archive))  # none twice
    assert archived == valid
    dead = {(r["kafka_partition"], r["kafka_offset"]): r["raw"] for r in rows(archive, "deadletter")}
    assert dead == on_topic["deadletter"]
