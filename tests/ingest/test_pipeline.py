"""The report pipeline against the real embedded broker: produce as a drone does, consume with the real runner."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from django.conf import settings

from alerts.events import decode_event
from alerts.models import Alert, OutboxEvent, Sighting
from analytics.store.embedded import EmbeddedStore
from peacewatch.consumers import KAFKA_CONSUMERS
from peacewatch.streams import kafka
from peacewatch.streams.broker import stop_process
from peacewatch.streams.deadletter import parse_headers
from peacewatch.streams.runner import Liveness
from tests.conftest import EXTERNAL_KAFKA
from tests.factories import citizen, report
from tests.kafka import consumed, produce, produce_sync, read_topic_sync, run_consumer_until
from tests.live_stack import child_env, liveness_check

pytestmark = pytest.mark.django_db(transaction=True)

BAD_RECORDS = {
    b"this is not json": "invalid_json",
    b'{"drone_id": "\xc3\x28", "location": {"lat": 0, "lon": 0}, "citizens": [], "words": []}': "invalid_utf8",
    json.dumps(report(location={"lat": 123, "lon": 0})).encode(): "schema",
    json.dumps({"drone_id": "pw-1", "citizens": [], "words": []}).encode(): "schema",
    json.dumps(report(words=["w" * 100] * 2700)).encode(): "too_large",
}


def reports_with_alerts(n: int, every: int = 10) -> list[dict]:
    docs = []
    for i in range(n):
        people = [citizen(f"Calm Citizen {i % 37}", 75.0)]
        if i % every == 0:
            people.append(citizen(f"Agitated Citizen {i % 7}", 5.0 + (i % 13)))
        docs.append(report(report_id=f"pipe-{i}", drone_id=f"pw-{i % 9}", citizens=people))
    return docs


def test_every_report_is_stored_once_alerts_raised_once_and_bad_records_dead_lettered(broker):
    docs = reports_with_alerts(400)
    mixed = [*docs[:200], *BAD_RECORDS, *docs[200:], docs[5], docs[17]]  # two resent reports too
    produce_sync(mixed)

    async def consume_both():
        await asyncio.gather(
            run_consumer_until("indexer", consumed(len(mixed))),
            run_consumer_until("alerts", consumed(len(mixed))),
        )

    asyncio.run(consume_both())

    store = EmbeddedStore(settings.ANALYTICS_SQLITE_PATH)
    assert store.count() == 400
    assert sorted(store.report_ids()) == sorted(d["report_id"] for d in docs)
    agitated = {c["name"] for d in docs for c in d["citizens"] if c["peacescore"] < 20}
    assert set(Alert.objects.values_list("citizen", flat=True)) == agitated
    assert Alert.objects.count() == len(agitated) == 7
    assert Sighting.objects.count() == 40
    assert not OutboxEvent.objects.filter(published_at__isnull=True).exists()

    letters = read_topic_sync(kafka.topic("deadletter"), expected=len(BAD_RECORDS))
    assert len(letters) == len(BAD_RECORDS)
    for letter in letters:
        headers = parse_headers(letter.headers)
        assert headers["error"] == BAD_RECORDS[letter.value]
        assert headers["source_topic"] == kafka.topic("reports")
        assert int(headers["source_offset"]) >= 0 and headers["detail"]

    events = [decode_event(r.value) for r in read_topic_sync(kafka.topic("alerts"), expected=7)]
    created = {e.alert.citizen for e in events if e.type == "alert.created"}
    assert created == agitated


def test_the_runner_resumes_after_the_broker_goes_away(broker):
    produce_sync([report(report_id=f"before-{i}") for i in range(20)])

    async def scenario():
        from peacewatch.consumers import KAFKA_CONSUMERS
        from peacewatch.streams.runner import ConsumerRunner

        runner = ConsumerRunner(KAFKA_CONSUMERS["indexer"], poll_timeout_ms=100)
        task = asyncio.create_task(runner.run())
        try:
            await _wait(lambda: runner.stats["stored"] >= 20)
            await asyncio.to_thread(broker.restart)  # memory only: comes back empty
            await produce([report(report_id=f"after-{i}") for i in range(20)])
            await _wait(lambda: runner.stats["stored"] >= 40, timeout=90)
        finally:
            runner.request_stop()
            await asyncio.wait_for(task, 30)
        return runner

    asyncio.run(scenario())
    assert EmbeddedStore(settings.ANALYTICS_SQLITE_PATH).count() == 40


def test_the_runner_backs_off_and_retries_until_the_broker_is_up(broker):
    broker.stop()

    async def scenario():
        from peacewatch.consumers import KAFKA_CONSUMERS
        from peacewatch.streams.runner import ConsumerRunner

        runner = ConsumerRunner(KAFKA_CONSUMERS["indexer"], poll_timeout_ms=100)
        task = asyncio.create_task(runner.run())
        try:
            await _wait(lambda: runner.stats["reconnects"] >= 2)
            assert not task.done()  # still trying, not crashed
            await asyncio.to_thread(broker.restart)
            await produce([report(report_id=f"late-{i}") for i in range(10)])
            await _wait(lambda: runner.stats["stored"] >= 10, timeout=90)
        finally:
            runner.request_stop()
            await asyncio.wait_for(task, 30)

    asyncio.run(scenario())
    assert EmbeddedStore(settings.ANALYTICS_SQLITE_PATH).count() == 10


def test_sigterm_finishes_the_batch_commits_and_exits_cleanly(broker, tmp_path):
    produce_sync([report(report_id=f"term-{i}") for i in range(3000)])
    store = EmbeddedStore(settings.ANALYTICS_SQLITE_PATH)
    with _processes() as started:
        process = started(_consumer_process("indexer", tmp_path, "--max-batch", "100"))
        _wait_sync(lambda: _count(store) >= 500, process)
        alive = liveness_check("indexer", tmp_path)
        assert alive.returncode == 0, alive.stderr  # the liveness file says it is beating
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    stored = store.count()
    committed = asyncio.run(_committed(KAFKA_CONSUMERS["indexer"].group_id))
    assert committed == stored  # everything stored is committed, nothing committed is unstored


def test_a_consumer_killed_mid_stream_loses_nothing_and_duplicates_nothing(broker, tmp_path):
    docs = reports_with_alerts(20_000, every=50)
    expected_sightings = sum(1 for d in docs for c in d["citizens"] if c["peacescore"] < 20)
    produce_sync(docs)
    store = EmbeddedStore(settings.ANALYTICS_SQLITE_PATH)

    # SIGKILL each consumer while it is half-way through the stream.
    with _processes() as started:
        indexer = started(_consumer_process("indexer", tmp_path, "--max-batch", "50"))
        _wait_sync(lambda: _count(store) >= 2000, indexer)
        _kill(indexer)
        alerts = started(_consumer_process("alerts", tmp_path, "--max-batch", "50"))
        _wait_sync(lambda: _sightings() >= 40, alerts)
        _kill(alerts)
    assert 0 < store.count() < len(docs), "the indexer must die mid-stream"
    assert 0 < _sightings() < expected_sightings, "the alerts consumer must die mid-stream"

    with _processes() as started:
        indexer = started(_consumer_process("indexer", tmp_path))
        started(_consumer_process("alerts", tmp_path))
        _wait_sync(lambda: _count(store) >= len(docs) and _sightings() >= expected_sightings, indexer, timeout=120)
        time.sleep(1.0)  # let any duplicate write that would happen, happen

    assert store.count() == len(docs)
    citizens_rows = store.db.execute("SELECT count(*) FROM citizens").fetchone()[0]
    assert citizens_rows == sum(len(d["citizens"]) for d in docs)
    assert Sighting.objects.count() == expected_sightings
    assert sum(Alert.objects.values_list("sightings", flat=True)) == expected_sightings
    assert Alert.objects.count() == 7  # one open alert per agitated citizen, never two
    assert not OutboxEvent.objects.filter(published_at__isnull=True).exists()


# --- helpers ------------------------------------------------------------------------
def test_a_killed_consumers_partitions_move_to_the_other_process_of_its_group_within_seconds(broker, tmp_path):
    """Two indexer processes share the partitions; SIGKILL one, and the other holds them all within
    the session timeout (plus a heartbeat and a rejoin), then stores what arrives."""
    partitions = settings.KAFKA_REPORTS_PARTITIONS
    slots = {name: tmp_path / name for name in ("a", "b")}
    for slot in slots.values():
        slot.mkdir()
    with _processes() as started:
        workers = {name: started(_consumer_process("indexer", slot)) for name, slot in slots.items()}

        def held(name: str) -> int:
            status = slots[name] / "run" / "consumer-indexer.json"
            return json.loads(status.read_text()).get("partitions", 0) if status.exists() else 0

        _wait_sync(lambda: held("a") > 0 and held("b") > 0 and held("a") + held("b") == partitions, workers["b"])
        _kill(workers["a"])
        killed_at = time.monotonic()
        _wait_sync(lambda: held("b") == partitions, workers["b"], timeout=30)
        takeover_s = time.monotonic() - killed_at
        produce_sync([report(report_id=f"after-kill-{i}") for i in range(50)])
        store = EmbeddedStore(settings.ANALYTICS_SQLITE_PATH)
        _wait_sync(lambda: _count(store) >= 50, workers["b"])
    print(f"takeover after SIGKILL: {takeover_s:.1f} s")
    assert takeover_s < settings.KAFKA_SESSION_TIMEOUT_MS / 1000 + 6


def _status(tmp_path, name: str) -> dict:
    return Liveness(name, tmp_path / "run" / f"consumer-{name}.json").read()


def _reading_again(tmp_path, killed: int) -> bool:
    status = _status(tmp_path, "indexer")
    return status.get("pid") not in (None, killed) and bool(status.get("first_batch_at"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is dead, only not yet reaped
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_a_killed_consumer_worker_is_forked_again_at_once_and_nothing_is_lost_or_stored_twice(broker, tmp_path):
    """run_consumer keeps a warm parent: SIGKILL its worker (out of memory, a crash) under a steady
    stream and a new one, forked from the parent, reads again without a new Python start-up."""
    store = EmbeddedStore(settings.ANALYTICS_SQLITE_PATH)
    produced: list[int] = []
    streaming = threading.Event()

    def drone_fleet() -> None:  # 400 reports/s until told to stop
        batch = 0
        while not streaming.is_set():
            produce_sync([report(report_id=f"fork-{batch}-{i}", drone_id=f"pw-{i % 9}") for i in range(40)])
            produced.append(40)
            batch += 1
            time.sleep(0.1)

    # Static membership where the broker honours it (Apache Kafka): the new worker takes the
    # partitions back at once. On Tansu it runs as a dynamic member and first takes the dead worker
    # out of the group (its member id is in the liveness file), rather than wait for its session.
    static = bool(EXTERNAL_KAFKA)
    restarts = []
    fleet = threading.Thread(target=drone_fleet)
    with _processes() as started:
        parent = started(_consumer_process("indexer", tmp_path, instance="fork-test" if static else None))
        fleet.start()
        try:
            for _ in range(2):
                _wait_sync(lambda: _status(tmp_path, "indexer").get("first_batch_at"), parent)
                worker = _status(tmp_path, "indexer")["pid"]
                assert worker != parent.pid
                os.kill(worker, signal.SIGKILL)
                killed_at = time.time()
                _wait_sync(lambda w=worker: _reading_again(tmp_path, w), parent, timeout=30)
                restarts.append(_status(tmp_path, "indexer")["first_batch_at"] - killed_at)
        finally:
            streaming.set()
            fleet.join()
        _wait_sync(lambda: _count(store) >= sum(produced), parent, timeout=120)
        assert parent.poll() is None  # the same parent all along
        time.sleep(1.0)  # let any duplicate write that would happen, happen
    assert store.count() == sum(produced)
    print(f"worker killed, the next one's first batch after: {[round(r, 2) for r in restarts]} s")
    log = (tmp_path / "indexer.log").read_text()
    assert log.count("worker_died") == 2 and "exit=-9" in log
    # A fork, not a Python start-up; on Tansu, sooner than the dead member's session would expire.
    assert max(restarts) < (3.0 if static else settings.KAFKA_SESSION_TIMEOUT_MS / 1000)
    if not static:
        assert "predecessor_left_group" in log and "accepted=True" in log


def test_a_killed_consumer_process_takes_its_worker_with_it(broker, tmp_path):
    """No orphan: a worker outliving its killed parent would read on beside the replacement the supervisor starts."""
    with _processes() as started:
        parent = started(_consumer_process("indexer", tmp_path))
        _wait_sync(lambda: _status(tmp_path, "indexer").get("pid") not in (None, parent.pid), parent)
        worker = _status(tmp_path, "indexer")["pid"]
        assert _alive(worker)
        _kill(parent)
        deadline = time.monotonic() + 5
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(worker)


def _consumer_process(name: str, tmp_path, *args: str, instance: str | None = None) -> subprocess.Popen:
    env = child_env(tmp_path)  # the test database, SQLite or PostgreSQL
    if instance:
        env["CONSUMER_INSTANCE_ID"] = instance
    log = open(tmp_path / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_consumer", name, *args],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=settings.BASE_DIR,
    )


@contextmanager
def _processes():
    """Stop (SIGTERM, then SIGKILL) every process started in the block, even when an assertion fails."""
    processes: list[subprocess.Popen] = []

    def started(process: subprocess.Popen) -> subprocess.Popen:
        processes.append(process)
        return process

    try:
        yield started
    finally:
        for process in processes:
            stop_process(process, timeout=30)


def _kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def _count(store) -> int:
    return store.count()


def _sightings() -> int:
    return Sighting.objects.count()


def _wait_sync(condition, process, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"consumer exited with {process.returncode}"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


async def _wait(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def _committed(group: str) -> int:
    consumer = AIOKafkaConsumer(**kafka.client_kwargs(), group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        topic = kafka.topic("reports")
        total = 0
        for p in range(settings.KAFKA_REPORTS_PARTITIONS):
            total += await consumer.committed(TopicPartition(topic, p)) or 0
        return total
    finally:
        await consumer.stop()
