"""Kafka connection settings, producers and topics, shared by every process.

The same code talks to the embedded Tansu broker and to an Apache Kafka
cluster: only ``KAFKA_*`` settings differ (bootstrap servers, TLS, SASL).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any

from aiokafka.errors import (
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
    KafkaError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    UnknownProducerId,
)
from django.conf import settings

from peacewatch.logs import log

logger = logging.getLogger(__name__)

TOPIC_ALREADY_EXISTS = 36


def client_kwargs(bootstrap_servers: str | None = None) -> dict[str, Any]:
    """Connection arguments common to aiokafka producers, consumers and admin."""
    kwargs: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers or settings.KAFKA_BOOTSTRAP_SERVERS,
        "security_protocol": settings.KAFKA_SECURITY_PROTOCOL,
    }
    if settings.KAFKA_SECURITY_PROTOCOL in {"SSL", "SASL_SSL"}:
        context = ssl.create_default_context(cafile=settings.KAFKA_SSL_CAFILE or None)
        if settings.KAFKA_SSL_CERTFILE:  # mutual TLS: the client proves who it is with a certificate
            context.load_cert_chain(settings.KAFKA_SSL_CERTFILE, settings.KAFKA_SSL_KEYFILE or None)
        kwargs["ssl_context"] = context
    if settings.KAFKA_SECURITY_PROTOCOL.startswith("SASL"):
        kwargs.update(
            sasl_mechanism=settings.KAFKA_SASL_MECHANISM,
            sasl_plain_username=settings.KAFKA_SASL_USERNAME,
            sasl_plain_password=settings.KAFKA_SASL_PASSWORD,
        )
    return kwargs


def consumer_kwargs() -> dict[str, Any]:
    """Connection plus fetch settings shared by every consumer (runner, web, benchmarks)."""
    return {**client_kwargs(), "fetch_max_wait_ms": settings.KAFKA_FETCH_MAX_WAIT_MS}


def topic(name: str) -> str:
    """The Kafka topic for a logical name (a key of ``settings.KAFKA_TOPICS``)."""
    return settings.KAFKA_TOPICS[name]


def make_producer(**overrides: Any):
    """A producer that only reports success once all in-sync replicas have the record."""
    from aiokafka import AIOKafkaProducer

    options: dict[str, Any] = {
        **client_kwargs(),
        "acks": "all",
        "enable_idempotence": settings.KAFKA_IDEMPOTENCE,
        "linger_ms": 5,
        "max_batch_size": 256 * 1024,
        "max_request_size": 4 * 1024 * 1024,
        "request_timeout_ms": 30000,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


class ProducerDead(KafkaError):
    """The producer's sender has stopped for good: nothing sent through it will ever be acknowledged.

    aiokafka ends an idempotent producer's sender on a fatal error, such as
    OutOfOrderSequenceNumber after batches expired during a whole-cluster
    outage longer than the request timeout. It fails the batches pending at that
    moment, but later sends queue up and their futures never complete. Callers
    treat this as a Kafka error: drop the producer and start a new one.
    """


def _sender_task(producer) -> asyncio.Task | None:
    # aiokafka has no public accessor; this is the one place its private sender is read.
    return getattr(getattr(producer, "_sender", None), "sender_task", None)


def producer_failure(producer) -> BaseException | None:
    """Why ``producer``'s sender stopped, or None while it runs (or before start)."""
    task = _sender_task(producer)
    if task is None or not task.done():
        return None
    if task.cancelled():
        return ProducerDead("the producer was stopped")
    return task.exception() or ProducerDead("the producer's sender ended")


# After one of these, an idempotent aiokafka producer is unusable for that partition: the
# library fails the batch but keeps its producer id and sequence numbers, so every later send
# to the partition fails the same way (seen after a whole-cluster outage longer than the request
# timeout). Only a new producer, with a new producer id, sends there again.
PRODUCER_STATE_LOST = (
    OutOfOrderSequenceNumber,
    UnknownProducerId,
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
    ProducerFenced,
)


def needs_new_producer(producer, error: BaseException | None = None) -> bool:
    """True when ``producer`` must be replaced: its sender died, or ``error`` (a failed send's) lost its state."""
    return producer_failure(producer) is not None or isinstance(error, PRODUCER_STATE_LOST)


async def wait_acked(producer, futures) -> None:
    """Wait until every send future is acknowledged; raise ProducerDead if the producer dies meanwhile.

    Without this, a send made after the sender died waits forever: a consumer
    would stop committing and HTTP ingest would hold every request to its timeout.
    """
    failure = producer_failure(producer)
    if failure is not None:
        raise ProducerDead(repr(failure)) from failure
    acked = asyncio.gather(*futures)
    sender = _sender_task(producer)
    if sender is None:  # not started: nothing can end early
        await acked
        return
    done, _ = await asyncio.wait({acked, sender}, return_when=asyncio.FIRST_COMPLETED)
    if acked in done:
        acked.result()
        return
    acked.cancel()
    failure = producer_failure(producer)
    raise ProducerDead(repr(failure)) from failure


def member_id(consumer) -> str | None:
    """The consumer's member id in its group (aiokafka has no public accessor; read here only)."""
    coordinator = getattr(consumer, "_coordinator", None)
    return getattr(coordinator, "member_id", None) or None


async def leave_group_for(group_id: str, member_id: str) -> bool:
    """Take ``member_id`` out of ``group_id`` on behalf of a process that died without leaving.

    A dynamic member killed outright keeps its partitions until its session times out; the
    group rebalances at once once it has left. True when the coordinator accepted the leave.
    """
    from aiokafka.client import AIOKafkaClient, CoordinationType
    from aiokafka.protocol.group import LeaveGroupRequest

    client = AIOKafkaClient(**client_kwargs())
    try:
        await client.bootstrap()
        coordinator = await client.coordinator_lookup(CoordinationType.GROUP, group_id)
        response = await client.send(coordinator, LeaveGroupRequest(group_id, member_id))
        return response.error_code == 0
    finally:
        await client.close()


def c_extension_in_use() -> bool:
    """True when aiokafka runs its C record parser (the pure-Python one is ~6x slower)."""
    from aiokafka.record.default_records import DefaultRecordBatch

    return DefaultRecordBatch.__module__.endswith("_crecords.default_records")


def check_c_extension() -> bool:
    ok = c_extension_in_use()
    if not ok:
        logger.error(
            "aiokafka_c_extension_missing: aiokafka is using its pure-Python record parser, "
            "about 6x slower; reinstall aiokafka from a binary wheel for this platform",
            extra={"fields": {"hint": "pip install --force-reinstall aiokafka"}},
        )
    return ok


async def ping() -> None:
    """Raise unless a broker answers a metadata request (readiness check)."""
    from aiokafka.client import AIOKafkaClient

    client = AIOKafkaClient(**client_kwargs(), request_timeout_ms=3000)
    try:
        await client.bootstrap()
    finally:
        await client.close()


async def topic_partitions(name: str) -> list[int]:
    """The partition numbers of a topic, asked of the cluster.

    A consumer that subscribes to nothing (one that assigns partitions itself)
    only knows the topics it was told about; Tansu answers with every topic,
    Apache Kafka with those asked for, so ask.
    """
    from aiokafka.client import AIOKafkaClient

    client = AIOKafkaClient(**client_kwargs())
    await client.bootstrap()
    try:
        await client.add_topic(name)
        await client.force_metadata_update()
        return sorted(client.cluster.partitions_for_topic(name) or ())
    finally:
        await client.close()


async def delete_topics(names: list[str]) -> None:
    """Delete topics (tests and benchmarks clean up the topics they made on a shared cluster)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(**client_kwargs())
    await admin.start()
    try:
        await admin.delete_topics(names)
    finally:
        await admin.close()


def topic_configs() -> dict[str, str]:
    """Per-topic configuration set at creation: durability, retention and whose clock stamps records."""
    # The broker stamps each record when it appends it, whatever the producer
    # (a drone with a wrong clock) put there: "time from the broker" (CONTRACT v1.1)
    # then means the broker's clock. Apache Kafka honours it; the embedded Tansu
    # broker ignores it and keeps the producer's time (docs/OPERATIONS.md).
    configs = {"message.timestamp.type": "LogAppendTime"}
    if settings.KAFKA_REPLICATION_FACTOR > 1:
        # With acks=all a write succeeds only once this many replicas have it.
        configs["min.insync.replicas"] = str(settings.KAFKA_MIN_INSYNC_REPLICAS)
    if settings.KAFKA_RETENTION_HOURS:
        configs["retention.ms"] = str(settings.KAFKA_RETENTION_HOURS * 3600 * 1000)
    return configs


def topic_specs() -> list[tuple[str, int]]:
    return [(topic(name), settings.KAFKA_TOPIC_PARTITIONS[name]) for name in settings.KAFKA_TOPICS]


async def ensure_topics(bootstrap_servers: str | None = None) -> list[str]:
    """Create the contract's topics if missing; safe to call any number of times."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(**client_kwargs(bootstrap_servers))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, partitions, settings.KAFKA_REPLICATION_FACTOR, topic_configs=topic_configs() or None)
            for name, partitions in topic_specs()
            if name not in existing
        ]
        created: list[str] = []
        if missing:
            response = await admin.create_topics(missing)
            for name, code, *_ in response.topic_errors:
                if code == 0:
                    created.append(name)
                elif code != TOPIC_ALREADY_EXISTS:
                    raise RuntimeError(f"cannot create topic {name}: Kafka error code {code}")
        log(logger, logging.INFO, "topics_ready", created=created or "none")
        return created
    finally:
        await admin.close()
