"""Test helpers that talk to the real embedded broker exactly as drones and tools do."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from peacewatch.consumers import KAFKA_CONSUMERS
from peacewatch.streams import kafka
from peacewatch.streams.runner import ConsumerRunner


def run_async(coro_fn, *args, **kwargs):
    """Run a coroutine to completion from sync code, even where a loop is running.

    A fresh thread has no event loop, so this works inside Playwright's sync
    API (which keeps a loop in the test thread) as well as in plain tests.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro_fn(*args, **kwargs)).result()


def as_bytes(value) -> bytes:
    if isinstance(value, bytes):
        return value
    return json.dumps(value).encode()


async def produce(values: Iterable, *, topic: str | None = None) -> None:
    """Produce each value (dict or bytes) keyed by its drone id, as a drone would."""
    producer = AIOKafkaProducer(**kafka.client_kwargs(), acks="all", linger_ms=2)
    await producer.start()
    try:
        futures = []
        for value in values:
            key = value.get("drone_id", "unknown").encode() if isinstance(value, dict) else b"raw"
            futures.append(await producer.send(topic or kafka.topic("reports"), as_bytes(value), key=key))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def produce_sync(values: Iterable, **kwargs) -> None:
    run_async(produce, list(values), **kwargs)


async def read_topic(topic: str, *, expected: int, timeout: float = 15.0) -> list:
    """Every record of ``topic`` from the beginning, until ``expected`` arrived or timeout."""
    consumer = AIOKafkaConsumer(**kafka.client_kwargs(), enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in await kafka.topic_partitions(topic)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list = []
        deadline = time.monotonic() + timeout
        while len(records) < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for recs in batch.values():
                records.extend(recs)
        return records
    finally:
        await consumer.stop()


def read_topic_sync(topic: str, **kwargs) -> list:
    return run_async(read_topic, topic, **kwargs)


async def run_consumer_until(
    name: str, done: Callable[[ConsumerRunner], bool], *, timeout: float = 30.0, **options
) -> ConsumerRunner:
    """Run a registered consumer in-process with the real runner until ``done(runner)``."""
    runner = ConsumerRunner(KAFKA_CONSUMERS[name], poll_timeout_ms=100, **options)
    task = asyncio.create_task(runner.run())
    deadline = time.monotonic() + timeout
    try:
        while not done(runner):
            if task.done():
                task.result()
                raise AssertionError(f"consumer {name} stopped early")
            if time.monotonic() > deadline:
                raise AssertionError(f"consumer {name} not done after {timeout}s: {dict(runner.stats)}")
            await asyncio.sleep(0.05)
    finally:
        runner.request_stop()
        await asyncio.wait_for(task, timeout=30)
    return runner


def consumed(n: int) -> Callable[[ConsumerRunner], bool]:
    return lambda runner: runner.stats["consumed"] >= n
