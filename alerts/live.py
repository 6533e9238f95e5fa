"""Live fan-out of alert events to the officers connected to this web process.

Every web process reads ``peacewatch.alerts`` itself (no consumer group:
each process sees every event, from the latest on) and hands each event to
its own WebSocket connections through bounded per-connection queues. Channels
groups are not used for this: their per-channel capacity drops messages
silently, and a dropped message is a missed alert. Here a connection whose
queue overflows is counted as a drop and closed; its browser reconnects and
fetches what it missed from ``GET /api/v1/alerts/?since=...``.

The hub also relays this process's outbox (alert changes made by officers
through the API) to Kafka, and keeps the last known position of each drone
from ``peacewatch.reports`` for the map, pushed at most once a second.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import msgspec
from asgiref.sync import sync_to_async

from peacewatch import kafka, metrics
from peacewatch.logs import log

logger = logging.getLogger(__name__)

QUEUE_SIZE = 2000  # events a slow browser may lag behind before it is cut and resyncs
# Positions are for the map, not for alerting: every few seconds is live enough,
# and it keeps the per-browser traffic of a large fleet bounded.
POSITIONS_EVERY_S = 5.0
POSITION_FIELDS = ["drone_id", "lat", "lon", "battery_pct", "seen_at"]


@dataclass(eq=False)
class Subscriber:
    """One WebSocket connection's inbox: alert events in order, positions latest-only.

    Alert events never wait behind a fleet's position update: positions sit in
    a single slot (a newer update replaces an unsent one) that is sent only
    when no alert event is waiting.
    """

    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    overflowed: asyncio.Event = field(default_factory=asyncio.Event)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    positions: str | None = None

    def offer(self, message: str, observed_at: float | None = None) -> bool:
        try:
            self.queue.put_nowait((message, observed_at))
        except asyncio.QueueFull:
            self.overflowed.set()
            self.wakeup.set()
            return False
        self.wakeup.set()
        return True

    def offer_positions(self, message: str) -> None:
        self.positions = message
        self.wakeup.set()

    async def next_message(self) -> tuple[str, float | None] | None:
        """The next frame to send with its alert's observed time (epoch seconds, new alerts only).

        None once the connection fell behind and must resync.
        """
        while True:
            if self.overflowed.is_set():
                return None
            if not self.queue.empty():
                return self.queue.get_nowait()
            if self.positions is not None:
                message, self.positions = self.positions, None
                return message, None
            self.wakeup.clear()
            await self.wakeup.wait()


class _Position(msgspec.Struct):
    lat: float
    lon: float


class _DroneSeen(msgspec.Struct):
    drone_id: str
    location: _Position
    battery_pct: float | None = None
    sent_at: str | None = None


class _AlertHead(msgspec.Struct):
    observed_at: datetime | None = None


class _EventHead(msgspec.Struct):
    type: str = ""
    alert: _AlertHead | None = None


_event_head = msgspec.json.Decoder(_EventHead)


def created_observed_at(value: bytes) -> float | None:
    """When a new alert's report was observed (epoch seconds), for the latency metric.

    Only ``alert.created``: an update may be an officer's change to an alert
    observed hours ago, which says nothing about how fast alerts travel.
    """
    try:
        head = _event_head.decode(value)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if head.type != "alert.created" or head.alert is None or head.alert.observed_at is None:
        return None
    return head.alert.observed_at.timestamp()


class LiveHub:
    def __init__(self) -> None:
        self.subscribers: set[Subscriber] = set()
        self.stats: Counter = Counter()
        self.positions: dict[str, dict] = {}
        self._changed: set[str] = set()
        self._tasks: list[asyncio.Task] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._relay_wanted: asyncio.Event | None = None
        self.ready = asyncio.Event()

    # --- lifecycle -----------------------------------------------------------------
    def ensure_started(self) -> None:
        """Start the background readers on the running loop, once per process (and loop)."""
        loop = asyncio.get_running_loop()
        if self._loop is loop and self._tasks:
            return
        self._loop = loop
        self.ready = asyncio.Event()
        self._relay_wanted = asyncio.Event()
        self._tasks = [
            loop.create_task(self._supervise(self._read_alerts, "alerts_reader")),
            loop.create_task(self._supervise(self._read_positions, "positions_reader")),
            loop.create_task(self._supervise(self._relay_outbox, "outbox_relay")),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _supervise(self, body, name: str) -> None:
        from ingest.runner import Backoff

        backoff = Backoff(cap=10)
        while True:
            try:
                await body(backoff)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.stats[f"{name}_errors"] += 1
                delay = backoff.next()
                log(logger, logging.WARNING, "live_task_failed", task=name, error=repr(exc), retry_in_s=round(delay, 2))
                await asyncio.sleep(delay)

    # --- subscribers ---------------------------------------------------------------
    def subscribe(self) -> Subscriber:
        subscriber = Subscriber()
        self.subscribers.add(subscriber)
        self.stats["connections_opened"] += 1
        metrics.WEBSOCKET_CLIENTS.inc()
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        if subscriber in self.subscribers:
            self.subscribers.discard(subscriber)
            metrics.WEBSOCKET_CLIENTS.dec()

    def broadcast(self, message: str, observed_at: float | None = None) -> None:
        for subscriber in list(self.subscribers):
            if not subscriber.offer(message, observed_at):
                self.stats["dropped"] += 1
                metrics.LIVE_EVENTS_DROPPED.inc()
                log(logger, logging.ERROR, "live_event_dropped", reason="client queue full", queue=QUEUE_SIZE)

    def resync_all(self) -> None:
        for subscriber in list(self.subscribers):
            subscriber.overflowed.set()
            subscriber.wakeup.set()
        self.stats["resyncs_forced"] += 1

    def status(self) -> dict:
        return {"clients": len(self.subscribers), "drones_known": len(self.positions), **self.stats}

    def request_relay(self) -> None:
        """Thread-safe: ask the relay to publish the outbox now (after an officer's change)."""
        if self._loop is not None and self._relay_wanted is not None:
            self._loop.call_soon_threadsafe(self._relay_wanted.set)

    # --- readers -------------------------------------------------------------------
    def _consumer(self, topic: str):
        from aiokafka import AIOKafkaConsumer

        # No group: every web process reads every partition, from the latest.
        return AIOKafkaConsumer(
            topic, **kafka.consumer_kwargs(), group_id=None, enable_auto_commit=False, auto_offset_reset="latest"
        )

    async def _read_alerts(self, backoff) -> None:
        consumer = self._consumer(kafka.topic("alerts"))
        await consumer.start()
        try:
            await self._wait_assigned(consumer)
            if self.ready.is_set():
                # A restarted reader begins at the latest event: whatever was
                # published while it was down never reaches these browsers
                # live, so make them resync from the API.
                self.resync_all()
            self.ready.set()
            backoff.reset()
            while True:
                batch = await consumer.getmany(timeout_ms=1000)
                for records in batch.values():
                    for record in records:
                        self.stats["events"] += 1
                        self.broadcast(record.value.decode("utf-8", "replace"), created_observed_at(record.value))
        finally:
            await consumer.stop()

    async def _read_positions(self, backoff) -> None:
        decoder = msgspec.json.Decoder(_DroneSeen)
        consumer = self._consumer(kafka.topic("reports"))
        await consumer.start()
        try:
            await self._wait_assigned(consumer)
            backoff.reset()
            last_push = time.monotonic()
            while True:
                batch = await consumer.getmany(timeout_ms=int(POSITIONS_EVERY_S * 1000), max_records=20000)
                for records in batch.values():
                    for record in records:
                        try:
                            seen = decoder.decode(record.value)
                        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, TypeError):
                            continue  # bad reports are the indexer's to dead-letter
                        # A row, not an object: a fleet's update is a third of the bytes.
                        self.positions[seen.drone_id] = [
                            seen.drone_id,
                            round(seen.location.lat, 5),
                            round(seen.location.lon, 5),
                            seen.battery_pct,
                            seen.sent_at,
                        ]
                        self._changed.add(seen.drone_id)
                if self._changed and time.monotonic() - last_push >= POSITIONS_EVERY_S:
                    last_push = time.monotonic()
                    changed = [self.positions[d] for d in self._changed]
                    self._changed.clear()
                    message = self._positions_message(changed)
                    for subscriber in list(self.subscribers):
                        subscriber.offer_positions(message)
        finally:
            await consumer.stop()

    async def _wait_assigned(self, consumer) -> None:
        # Position at the end now, so "latest" means "from when this process started".
        for _ in range(100):
            if consumer.assignment():
                break
            await asyncio.sleep(0.05)
        for tp in consumer.assignment():
            await consumer.position(tp)

    async def _relay_outbox(self, backoff) -> None:
        from alerts.services import mark_published, pending_events

        producer = kafka.make_producer(linger_ms=0)
        await producer.start()
        try:
            backoff.reset()
            topic = kafka.topic("alerts")
            while True:
                try:
                    await asyncio.wait_for(self._relay_wanted.wait(), timeout=2.0)
                except TimeoutError:
                    pass
                self._relay_wanted.clear()
                events = await sync_to_async(pending_events, thread_sensitive=False)()
                if not events:
                    continue
                futures = [await producer.send(topic, e.payload, key=str(e.alert_id).encode()) for e in events]
                await asyncio.gather(*futures)
                await sync_to_async(mark_published, thread_sensitive=False)([e.id for e in events])
                self.stats["relayed"] += len(events)
        finally:
            await producer.stop()

    def snapshot(self) -> str:
        return self._positions_message(list(self.positions.values()))

    @staticmethod
    def _positions_message(rows: list) -> str:
        return msgspec.json.encode({"type": "drones.positions", "fields": POSITION_FIELDS, "drones": rows}).decode()


hub = LiveHub()
