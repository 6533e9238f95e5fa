"""Poison records against the real runner and the real broker: the worst a record can do is the dead-letter topic.

Every kind of record that once stopped the consumers for good (found by
review) is mixed into a stream of good reports; each consumer must handle
every good report behind it, the indexer must dead-letter it with its code,
and nothing may hold the stream up. A record that makes a real handler fail
is narrowed down and dead-lettered as ``handler_error``; a database outage is
waited out without dead-lettering anything.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from alerts.events import decode_event
from alerts.models import Alert, OutboxEvent
from analytics.store.embedded import EmbeddedStore
from ingest.models import Drone
from peacewatch.consumers import KAFKA_CONSUMERS
from peacewatch.streams import kafka
from peacewatch.streams.deadletter import parse_headers
from peacewatch.streams.runner import ConsumerRunner, Liveness
from tests.conftest import EXTERNAL_KAFKA
from tests.factories import citizen, report
from tests.kafka import consumed, read_topic_sync, run_async, run_consumer_until

pytestmark = pytest.mark.django_db(transaction=True)

DRONE = "pw-p1"


def good_report(i: int, **overrides) -> dict:
    people = [citizen(f"Calm Citizen {i % 5}", 80.0)]
    if i % 10 == 0:
        people.append(citizen(f"Agitated Citizen {i}", 5.0))
    sent_at = f"2026-11-28T04:{i // 60:02d}:{i % 60:02d}Z"  # one a second: each is news to the drones consumer
    return report(report_id=f"good-{i}", drone_id=DRONE, sent_at=sent_at, seq=i, citizens=people, **overrides)


def deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def with_extra(doc: dict, extra: bytes) -> bytes:
    return json.dumps(doc).encode()[:-1] + b', "extra": ' + extra + b"}"


def agitated(name: str, i: int, **overrides) -> dict:
    return report(report_id=f"poison-{i}", drone_id="pw-p9", citizens=[citizen(name, 3.0)], **overrides)


# Bad records (value, code): each one stopped a consumer before v1.1.
POISON = [
    (with_extra(agitated("Deep Nesting", 1), deep(1000)), "schema"),
    (json.dumps(agitated("Early Sent At", 2, sent_at="0001-01-01T00:00:00+14:00")).encode(), "schema"),
    (json.dumps(agitated("Late Sent At", 3, sent_at="9999-12-31T23:59:59-14:00")).encode(), "schema"),
    (json.dumps(agitated("Huge Seq", 4, seq=2**64 + 5)).encode(), "schema"),
    (json.dumps(agitated("Nul\u0000Name", 5)).encode(), "schema"),
    (json.dumps(agitated("Nul Firmware", 6, firmware="1.4\u0000")).encode(), "schema"),
    (json.dumps(agitated("Bell In Extra", 7, note="ding\u0007")).encode(), "schema"),
    (json.dumps(agitated("Control In Key", 8, sensor={"ir\u001b": True})).encode(), "schema"),
]


def future_timestamp_ms() -> int:
    """A record timestamp ahead of the clock: far beyond year 9999 on the embedded broker.

    Apache Kafka refuses records stamped more than ``log.message.timestamp.after.max.ms``
    (one hour by default since 4.0) ahead of its clock, so there the stamp is 50 minutes ahead.
    """
    return int(time.time() * 1000) + 50 * 60 * 1000 if EXTERNAL_KAFKA else 2**62


def odd_but_valid() -> list[tuple[dict, dict]]:
    """Valid reports in records that are odd in every other way: (report, producer kwargs)."""
    no_sent_at = agitated("Future Stamp", 20)
    del no_sent_at["sent_at"]
    return [
        (no_sent_at, {"timestamp_ms": future_timestamp_ms()}),
        (agitated("Odd Key", 21), {"key": b"\xff\xfe\x00not utf-8"}),
        (
            agitated("Odd Headers", 22),
            {"headers": [("", b""), ("error", b"forged"), ("\u00e9" * 100, b"\xff" * 500), ("n", b"\x00")]},
        ),
        # Lenient telemetry: a broken compass and firmware string do not hide the citizen.
        (agitated("Faulty Sensors", 23, heading_deg=360, firmware="f" * 65), {}),
    ]


async def produce_records(records: list[tuple[bytes, dict]]) -> None:
    """Produce raw values in order on one partition (one key unless overridden), with odd keys, headers, times."""
    producer = AIOKafkaProducer(**kafka.client_kwargs(), acks="all", linger_ms=2)
    await producer.start()
    try:
        futures = []
        for value, options in records:
            partition = 0
            kwargs = {"key": b"pw-p1", "partition": partition, **options}
            futures.append(await producer.send(kafka.topic("reports"), value, **kwargs))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def committed(group: str) -> int:
    consumer = AIOKafkaConsumer(**kafka.client_kwargs(), group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        return await consumer.committed(TopicPartition(kafka.topic("reports"), 0)) or 0
    finally:
        await consumer.stop()


def test_poison_of_every_kind_is_dead_lettered_once_and_every_good_report_behind_it_is_handled_by_all_three_consumers(
    broker,
):
    Drone.objects.create(drone_id=DRONE)
    goods = [good_report(i) for i in range(60)]
    odd = odd_but_valid()
    records = [(json.dumps(doc).encode(), {}) for doc in goods[:20]]
    records += [(value, {}) for value, _ in POISON]
    records += [(json.dumps(doc).encode(), options) for doc, options in odd]
    records += [(json.dumps(doc).encode(), {}) for doc in goods[20:]]
    run_async(produce_records, records)

    async def consume_all():
        return await asyncio.gather(
            *(run_consumer_until(name, consumed(len(records))) for name in ("indexer", "alerts", "drones"))
        )

    runners = asyncio.run(consume_all())

    for runner in runners:  # nobody stopped, retried or isolated anything: the decoder handled it all
        assert runner.stats["reconnects"] == 0, runner.spec.name
        assert runner.stats["poison_isolated"] == 0, runner.spec.name
    # indexer: every valid report stored, every bad one dead-lettered with its code
    store = EmbeddedStore(settings.ANALYTICS_SQLITE_PATH)
    assert store.count() == len(goods) + len(odd)
    letters = read_topic_sync(kafka.topic("deadletter"), expected=len(POISON) + 1, timeout=3)
    assert sorted(letter.value for letter in letters) == sorted(value for value, _ in POISON)
    for letter in letters:
        headers = parse_headers(letter.headers)
        assert headers["error"] == dict(POISON)[letter.value]
        assert headers["detail"]
        assert headers["source_topic"] == kafka.topic("reports")
        assert int(headers["source_offset"]) == 20 + [v for v, _ in POISON].index(letter.value)
    # alerts: raised for every agitated citizen, those behind the poison included, none for the poison
    expected = {c["name"] for doc in goods for c in doc["citizens"] if c["peacescore"] < 20}
    expected |= {"Future Stamp", "Odd Key", "Odd Headers", "Faulty Sensors"}
    assert set(Alert.objects.values_list("citizen", flat=True)) == expected
    assert not OutboxEvent.objects.filter(published_at__isnull=True).exists()
    # drones: every good report of the drone counted, its latest state recorded
    drone = Drone.objects.get(drone_id=DRONE)
    assert drone.reports_received == len(goods)
    assert drone.last_seq == len(goods) - 1
    assert drone.reports_missing == 0


# --- a record only the database refuses ------------------------------------------------
REFUSED = "Refused By Database"


@pytest.fixture
def database_refuses_a_citizen():
    """A real database rule (a trigger) refusing one citizen's alert, like a constraint only the database knows."""
    table = Alert._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION refuse_citizen() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.subject = '{REFUSED}' THEN "
                "RAISE EXCEPTION 'refused by a database rule' USING ERRCODE = 'check_violation'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                f"CREATE TRIGGER refuse_citizen BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION refuse_citizen()"
            )
        else:
            cursor.execute(
                f"CREATE TRIGGER refuse_citizen BEFORE INSERT ON {table} WHEN NEW.subject = '{REFUSED}' "
                "BEGIN SELECT RAISE(ABORT, 'refused by a database rule'); END"
            )
    try:
        yield REFUSED
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER IF EXISTS refuse_citizen ON {table}")
                cursor.execute("DROP FUNCTION IF EXISTS refuse_citizen()")
            else:
                cursor.execute("DROP TRIGGER IF EXISTS refuse_citizen")


def test_a_record_that_makes_the_handler_fail_alone_is_dead_lettered_as_handler_error_while_the_rest_commits(
    broker, database_refuses_a_citizen
):
    docs = [
        report(report_id=f"r-{i}", drone_id=DRONE, citizens=[citizen(f"Agitated Citizen {i}", 5.0)]) for i in range(40)
    ]
    docs[23] = report(report_id="r-refused", drone_id=DRONE, citizens=[citizen(database_refuses_a_citizen, 5.0)])
    run_async(produce_records, [(json.dumps(doc).encode(), {}) for doc in docs])

    runner = asyncio.run(run_consumer_until("alerts", consumed(len(docs)), max_batch=1000))

    assert runner.stats["reconnects"] == 0  # isolated within the batch, not retried
    assert runner.stats["poison_isolated"] == 1
    letters = read_topic_sync(kafka.topic("deadletter"), expected=2, timeout=3)
    assert len(letters) == 1
    headers = parse_headers(letters[0].headers)
    assert headers["error"] == "handler_error"
    assert "IntegrityError" in headers["detail"] and "refused by a database rule" in headers["detail"]
    assert (headers["source_topic"], headers["source_partition"], headers["source_offset"]) == (
        kafka.topic("reports"),
        "0",
        "23",
    )
    assert letters[0].value == json.dumps(docs[23]).encode() and letters[0].key == b"pw-p1"
    # The rest of the batch: alerts written, their events published, offsets committed after.
    agitated = {f"Agitated Citizen {i}" for i in range(40) if i != 23}
    assert set(Alert.objects.values_list("citizen", flat=True)) == agitated
    events = read_topic_sync(kafka.topic("alerts"), expected=len(agitated))
    assert {decode_event(e.value).alert.citizen for e in events} == agitated
    assert not OutboxEvent.objects.filter(published_at__isnull=True).exists()
    assert asyncio.run(committed(KAFKA_CONSUMERS["alerts"].group_id)) == len(docs)


# --- infrastructure down: wait, never dead-letter ----------------------------------------
def point_database_at_nothing() -> None:
    """In the calling (worker) thread: the default database becomes unreachable, as when its server is down."""
    from django.db import connections

    dead = dict(connections.settings["default"])
    if dead["ENGINE"].endswith("sqlite3"):
        dead["NAME"] = "/nonexistent/peacewatch/db.sqlite3"
    else:
        from tests.conftest import free_port

        dead.update(HOST="127.0.0.1", PORT=str(free_port()))  # nothing listens there
    live = connections["default"]
    live.close()
    connections["default"] = type(live)(dead, "default")


def restore_database() -> None:
    from django.db import connections

    connections["default"].close()
    del connections["default"]  # the next use connects with the real settings again


def test_a_database_outage_dead_letters_nothing_reports_stalled_and_the_consumer_resumes_when_it_is_back(broker):
    first = [report(report_id=f"a-{i}", citizens=[citizen(f"Before Outage {i}", 5.0)]) for i in range(10)]
    during = [report(report_id=f"b-{i}", citizens=[citizen(f"During Outage {i}", 5.0)]) for i in range(10)]

    async def scenario():
        runner = ConsumerRunner(KAFKA_CONSUMERS["alerts"], poll_timeout_ms=100, stall_after_s=1.0)
        task = asyncio.create_task(runner.run())
        loop = asyncio.get_running_loop()
        try:
            await produce_records([(json.dumps(doc).encode(), {}) for doc in first])
            await wait_for(lambda: runner.stats["consumed"] >= 10)
            await loop.run_in_executor(runner.executor, point_database_at_nothing)
            await produce_records([(json.dumps(doc).encode(), {}) for doc in during])
            await wait_for(lambda: runner.stats["batch_retries"] >= 2)
            assert not task.done()  # still trying, not crashed
            assert runner.stats["consumed"] == 10 and runner.stats["poison_isolated"] == 0
            await wait_for(lambda: Liveness("alerts").problem(30) is not None)
            assert "stalled" in Liveness("alerts").problem(30)
            with pytest.raises(CommandError, match="stalled"):
                await asyncio.to_thread(call_command, "run_consumer", "alerts", "--check", "30")
            await loop.run_in_executor(runner.executor, restore_database)
            await wait_for(lambda: runner.stats["consumed"] >= 20, timeout=60)
            await wait_for(lambda: Liveness("alerts").problem(30) is None)
        finally:
            runner.request_stop()
            await asyncio.wait_for(task, 30)

    asyncio.run(scenario())

    assert read_topic_sync(kafka.topic("deadletter"), expected=1, timeout=2) == []
    names = {c["name"] for doc in first + during for c in doc["citizens"]}
    assert set(Alert.objects.values_list("citizen", flat=True)) == names


async def wait_for(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)
