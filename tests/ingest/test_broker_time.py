"""Whose clock stamps a report's record: the broker's on Apache Kafka, whatever a drone's clock says.

"Time from the broker" (CONTRACT v1.1) compares a report's ``sent_at`` with
its record's timestamp. A drone that produces to Kafka directly sets that
timestamp itself unless the topic says the broker stamps records on append
(``message.timestamp.type=LogAppendTime``, set by ``ensure_topics``). The
embedded Tansu broker ignores that setting: there the producer's time stays,
as docs/OPERATIONS.md says. Both behaviours are pinned here, on real brokers.
"""

from __future__ import annotations

import time

from aiokafka import AIOKafkaProducer

from peacewatch.streams import kafka
from tests.conftest import EXTERNAL_KAFKA
from tests.factories import report
from tests.kafka import as_bytes, read_topic_sync, run_async

THREE_HOURS_MS = 3 * 3600 * 1000


async def produce_with_a_slow_clock(value: bytes, stamp_ms: int) -> None:
    producer = AIOKafkaProducer(**kafka.client_kwargs(), acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(kafka.topic("reports"), value, key=b"pw-slow", timestamp_ms=stamp_ms)
    finally:
        await producer.stop()


def test_the_reports_topic_is_stamped_by_the_broker_on_apache_kafka_and_by_the_producer_on_tansu(broker):
    produced_at_ms = int(time.time() * 1000)
    run_async(produce_with_a_slow_clock, as_bytes(report(drone_id="pw-slow")), produced_at_ms - THREE_HOURS_MS)

    [record] = read_topic_sync(kafka.topic("reports"), expected=1)

    if EXTERNAL_KAFKA:
        # LogAppendTime: the broker's clock, whatever the drone wrote.
        assert abs(record.timestamp - produced_at_ms) < 60_000, record.timestamp - produced_at_ms
        assert record.timestamp_type == 1
    else:
        # Tansu keeps CreateTime: the embedded profile trusts the producer's clock (not for production).
        assert record.timestamp == produced_at_ms - THREE_HOURS_MS
        assert record.timestamp_type == 0
