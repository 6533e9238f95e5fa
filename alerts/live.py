"""Live fan-out of alert events to the officers connected to this web process.

Every web process reads ``peacewatch.alerts`` itself (no consumer group:
each process sees every event, from the latest on) and hands each event to
its own WebSocket connections through bounded per-connection queues. Channels
groups are not used for this: their per-channel capacity drops messages
silently, and a dropped message is a missed alert. Here a connection that
cannot keep up is closed with 4409 instead; its browser reconnects and fetches
what it missed from ``GET /api/v1/alerts/?after_seq=...``.

What makes "every connected officer receives it or is told to resync" hold:

- **Positioned before accepting.** The reader starts with the server
  (``start_when_serving``), not at the first connection, and connections wait
  for ``ready``: set once the reader holds a position at the end of the topic.
  Everything committed after that reaches the connection live; everything
  before, its browser's catch-up.
- **A stream that went back is noticed** (``_check_stream``, every few
  seconds): a position beyond the log end or before the log start (topic
  recreated, broker restarted empty, retention), OffsetOutOfRange, or changes
  the database says were published that never came by (events are numbered
  densely by ``seq``, so a hole that stays is a loss whatever Kafka did).
  The reader then moves to the end and every connection is told to resync.
- **Flow control.** A browser acknowledges the frames it has read; at most a
  window of unacknowledged bytes is handed to the server's socket buffers, so
  a client that stops reading costs a bounded amount of memory, and one whose
  window stays full past ``STALL_S`` (or whose queue overflows) is cut.
- **Signed-in officers only.** Every few seconds the connected users are
  checked again: a session ended, a user deactivated or no longer an officer
  has its connections closed with 4403.

The hub also relays this process's outbox (alert changes made by officers
through the API) to Kafka, and keeps the last known position of each drone
from ``peacewatch.reports`` for the map, pushed every few seconds.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

import msgspec
from asgiref.sync import sync_to_async

from ingest import squads
from peacewatch import metrics
from peacewatch.logs import log
from peacewatch.streams import kafka

logger = logging.getLogger(__name__)

QUEUE_SIZE = 2000  # events a slow browser may lag behind before it is cut and resyncs
# Flow control: what may be sent and not yet acknowledged by the browser. The
# bytes bound what a client that stops reading costs in the server's buffers
# (a single larger frame, a fleet snapshot, still goes when nothing is in flight).
WINDOW_BYTES = 256 * 1024
WINDOW_FRAMES = 500
STALL_S = 20.0  # a window full for this long: the client is gone or frozen, cut it
# A connection with nothing to send for this long gets a heartbeat frame: the browser
# tells "no alerts" from "no link" within a few seconds (CONTRACT section 8).
HEARTBEAT_S = 5.0
READY_WAIT_S = 10.0  # a connection waits this long for the reader to be positioned
CHECK_EVERY_S = 2.0  # how often the stream is checked against Kafka's offsets and the database
BATCH_EVENTS = 1000  # events broadcast between two turns of the event loop
MISSING_AFTER_S = 10.0  # a published change not seen for this long was lost by the stream
USER_CHECK_EVERY_S = 3.0  # how soon a sign-out or a lost role closes the user's connections
# Positions are for the map, not for alerting: every few seconds is live enough,
# and it keeps the per-browser traffic of a large fleet bounded.
POSITIONS_EVERY_S = 5.0
POSITION_FIELDS = ["drone_id", "lat", "lon", "battery_pct", "seen_at"]


CUT_RESYNC = "resync"  # fell behind: reconnect and catch up
IDLE = ("", None)  # next_message's answer when there was nothing to send for its idle_s
CUT_STALLED = "stalled"  # stopped reading (window full past STALL_S): reconnect and catch up
CUT_REVOKED = "revoked"  # signed out, deactivated or no longer an officer


@dataclass(eq=False)
class Subscriber:
    """One WebSocket connection's inbox: alert events in order, positions latest-only.

    Alert events never wait behind a fleet's position update: positions sit in
    a single slot (a newer update replaces an unsent one) that is sent only
    when no alert event is waiting. Frames go out only within the flow-control
    window (``sent``, ``ack``).
    """

    user_id: int | None = None
    session_key: str | None = None
    squads: frozenset[str] | None = None  # what this officer sees (ingest.squads); None: every squad
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    overflowed: asyncio.Event = field(default_factory=asyncio.Event)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    positions: str | None = None
    cut: str | None = None  # why the connection must close, once it must
    frames_sent: int = 0
    in_flight: deque = field(default_factory=deque)  # (frame number, bytes) not yet acknowledged
    bytes_in_flight: int = 0
    full_since: float | None = None

    def offer(self, message: str, observed_at: float | None = None) -> bool:
        try:
            self.queue.put_nowait((message, observed_at))
        except asyncio.QueueFull:
            self.close_for(CUT_RESYNC)
            return False
        self.wakeup.set()
        return True

    def offer_positions(self, message: str) -> None:
        self.positions = message
        self.wakeup.set()

    def close_for(self, reason: str) -> None:
        if self.cut is None:
            self.cut = reason
        self.overflowed.set()
        self.wakeup.set()

    # --- flow control ----------------------------------------------------------
    def sent(self, frame: str) -> None:
        """Count a frame handed to the server, whatever its type: the browser counts every frame it reads."""
        self.frames_sent += 1
        size = len(frame)
        self.in_flight.append((self.frames_sent, size))
        self.bytes_in_flight += size

    def ack(self, received: int) -> None:
        """The browser has read ``received`` frames of this connection."""
        while self.in_flight and self.in_flight[0][0] <= received:
            self.bytes_in_flight -= self.in_flight.popleft()[1]
        self.wakeup.set()

    def window_full(self) -> bool:
        return bool(self.in_flight) and (self.bytes_in_flight >= WINDOW_BYTES or len(self.in_flight) >= WINDOW_FRAMES)

    async def next_message(self, idle_s: float | None = None) -> tuple[str, float | None] | None:
        """The next frame to send with its alert's observed time (epoch seconds, new alerts only).

        None once the connection must close (``cut`` says why): it fell behind
        (queue overflow, or a window full past ``STALL_S``) or lost its rights.
        ``IDLE`` when there was nothing to send for ``idle_s`` seconds.
        """
        idle_until = None if idle_s is None else time.monotonic() + idle_s
        while True:
            if self.cut is not None:
                return None
            timeout = None if idle_until is None else idle_until - time.monotonic()
            if self.window_full():
                now = time.monotonic()
                self.full_since = self.full_since or now
                stall = self.full_since + STALL_S - now
                if stall <= 0:
                    self.close_for(CUT_STALLED)
                    return None
                timeout = stall  # no heartbeat to a client that is not reading: it is cut after STALL_S
            else:
                self.full_since = None
                if not self.queue.empty():
                    return self.queue.get_nowait()
                if self.positions is not None:
                    message, self.positions = self.positions, None
                    return message, None
                if timeout is not None and timeout <= 0:
                    return IDLE
            self.wakeup.clear()
            try:
                await asyncio.wait_for(self.wakeup.wait(), timeout)
            except TimeoutError:
                pass


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
    seq: int = 0
    drone_id: str = ""
    kind: str = ""


class _EventHead(msgspec.Struct):
    type: str = ""
    alert: _AlertHead | None = None


_event_head = msgspec.json.Decoder(_EventHead)


class EventHead(NamedTuple):
    """What the hub needs of an event, read once: its ``seq`` (0 when absent), the latency's start, its scope."""

    seq: int = 0
    observed_at: float | None = None  # epoch seconds, for a new alert only
    drone_id: str = ""  # with ``kind``: which squads see it (ingest.squads)
    kind: str = ""


NO_HEAD = EventHead()


def event_head(value: bytes) -> EventHead:
    """The head of one event on the alerts topic; an empty head for anything else.

    The observed time is for the latency metric, so only ``alert.created``: an
    update may be an officer's change to an alert observed hours ago, which
    says nothing about how fast alerts travel.
    """
    try:
        head = _event_head.decode(value)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return NO_HEAD
    alert = head.alert
    if alert is None:
        return NO_HEAD
    created = head.type == "alert.created" and alert.observed_at is not None
    return EventHead(alert.seq, alert.observed_at.timestamp() if created else None, alert.drone_id, alert.kind)


class SeqWatch:
    """Which changes the stream has brought, to tell a slow publisher from a lost event.

    Every committed change has one ``seq`` and its event is published at least
    once, so the seqs the reader sees are dense: ``through`` is the highest
    with every change up to it seen (or older than the reader's position).
    """

    def __init__(self, through: int) -> None:
        self.through = through
        self.ahead: set[int] = set()
        self.published_gap: tuple[int, float] | None = None  # (up to seq, noticed at) all published, not seen

    def seen(self, seq: int) -> bool:
        """Note ``seq``; False when it was seen before (or is older than the reader's position).

        A change older than the position needs no live delivery either: every
        browser connects after the reader holds it, and its catch-up over the
        API covers every change up to its ``hello``.
        """
        if seq <= self.through or seq in self.ahead:
            return False
        self.ahead.add(seq)
        while self.through + 1 in self.ahead:
            self.through += 1
            self.ahead.discard(self.through)
        return True

    def missing_for(self, committed: int, all_published, now: float, read_to_end: bool = True) -> bool:
        """True once changes up to ``committed`` were all published ``MISSING_AFTER_S`` ago and not seen.

        ``all_published(lo, hi)`` says whether the outbox holds no unpublished
        event with lo < seq <= hi (a database query, so the caller's thread).
        ``read_to_end``: the reader has read all the topic holds; while it has
        not, it is behind (a burst), not missing anything.
        """
        if self.through >= committed or not read_to_end:
            self.published_gap = None
            return False
        if self.published_gap is not None and self.through < self.published_gap[0]:
            return now - self.published_gap[1] >= MISSING_AFTER_S
        self.published_gap = (committed, now) if all_published(self.through, committed) else None
        return False


def _unseen_published(watch: SeqWatch, now: float, read_to_end: bool) -> bool:
    from alerts.models import OutboxEvent
    from alerts.services import current_seq

    def all_published(lo: int, hi: int) -> bool:
        return not OutboxEvent.objects.filter(published_at__isnull=True, seq__gt=lo, seq__lte=hi).exists()

    return watch.missing_for(current_seq(), all_published, now, read_to_end)


class StreamReset(Exception):
    """The alerts topic went back under the reader; ``args[0]`` says how."""


class LiveHub:
    def __init__(self) -> None:
        self.subscribers: set[Subscriber] = set()
        self.stats: Counter = Counter()
        self.positions: dict[str, dict] = {}
        self._changed: set[str] = set()
        self._tasks: list[asyncio.Task] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._relay_wanted: asyncio.Event | None = None
        self._users_wanted: asyncio.Event | None = None
        self.ready = asyncio.Event()
        self.watch = SeqWatch(0)
        self.squad_of: dict[str, str] = {}  # drone id -> squad, refreshed by the user check

    # --- lifecycle -----------------------------------------------------------------
    def ensure_started(self) -> None:
        """Start the background readers on the running loop, once per process (and loop)."""
        loop = asyncio.get_running_loop()
        if self._loop is loop and self._tasks:
            return
        self._loop = loop
        self.ready = asyncio.Event()
        self._relay_wanted = asyncio.Event()
        self._users_wanted = asyncio.Event()
        self._tasks = [
            loop.create_task(self._supervise(self._read_alerts, "alerts_reader")),
            loop.create_task(self._supervise(self._read_positions, "positions_reader")),
            loop.create_task(self._supervise(self._relay_outbox, "outbox_relay")),
            loop.create_task(self._supervise(self._check_users, "user_check")),
        ]

    async def wait_ready(self) -> bool:
        """Start the readers if need be; True once the alerts reader is positioned (within READY_WAIT_S)."""
        self.ensure_started()
        try:
            await asyncio.wait_for(self.ready.wait(), READY_WAIT_S)
        except TimeoutError:
            return False
        return True

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self.ready.clear()

    async def _supervise(self, body, name: str) -> None:
        from peacewatch.streams.runner import Backoff

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
    def subscribe(
        self, user_id: int | None = None, session_key: str | None = None, squads: frozenset[str] | None = None
    ) -> Subscriber:
        subscriber = Subscriber(user_id=user_id, session_key=session_key, squads=squads)
        self.subscribers.add(subscriber)
        self.stats["connections_opened"] += 1
        metrics.WEBSOCKET_CLIENTS.inc()
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        if subscriber in self.subscribers:
            self.subscribers.discard(subscriber)
            metrics.WEBSOCKET_CLIENTS.dec()

    def broadcast(self, message: str, head: EventHead = NO_HEAD) -> None:
        """Queue an event for every connection whose squads see it."""
        squad = self.squad_of.get(head.drone_id)
        for subscriber in list(self.subscribers):
            if subscriber.squads is not None and not squads.sees(subscriber.squads, squad, head.kind):
                continue  # another squad's: this browser's catch-up skips the seq (the API hides it too)
            if not subscriber.offer(message, head.observed_at):
                self.stats["dropped"] += 1
                metrics.LIVE_EVENTS_DROPPED.inc()
                log(logger, logging.ERROR, "live_event_dropped", reason="client queue full", queue=QUEUE_SIZE)

    def resync_all(self) -> None:
        for subscriber in list(self.subscribers):
            subscriber.close_for(CUT_RESYNC)
        self.stats["resyncs_forced"] += 1

    def request_user_check(self) -> None:
        """Thread-safe: check the connected users now (someone signed out in this process)."""
        self._wake(self._users_wanted)

    def status(self) -> dict:
        return {
            "ready": self.ready.is_set(),
            "clients": len(self.subscribers),
            "drones_known": len(self.positions),
            **self.stats,
        }

    def request_relay(self) -> None:
        """Thread-safe: ask the relay to publish the outbox now (after an officer's change)."""
        self._wake(self._relay_wanted)

    def _wake(self, event) -> None:
        # Called from request threads: a hub whose loop has already stopped (process shutting
        # down, a test's stack torn down) has nobody to wake, and signing out must not fail for it.
        loop = self._loop
        if loop is None or event is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(event.set)
        except RuntimeError:  # closed between the check and the call
            pass

    # --- readers -------------------------------------------------------------------
    def _consumer(self, topic: str | None = None, **overrides):
        from aiokafka import AIOKafkaConsumer

        # No group: every web process reads every partition, from the latest.
        options = {"group_id": None, "enable_auto_commit": False, "auto_offset_reset": "latest", **overrides}
        topics = (topic,) if topic else ()
        return AIOKafkaConsumer(*topics, **kafka.consumer_kwargs(), **options)

    async def _read_alerts(self, backoff) -> None:
        from aiokafka.errors import OffsetOutOfRangeError

        topic = kafka.topic("alerts")
        # Assigned by hand and no reset policy: an offset that vanished raises
        # here instead of being silently moved by the client.
        consumer = self._consumer(auto_offset_reset="none")
        await consumer.start()
        try:
            partitions = await self._position_at_end(consumer, topic)
            if self.ready.is_set():
                # A restarted reader begins at the latest event: whatever was
                # published while it was down never reaches these browsers
                # live, so make them resync from the API.
                self.resync_all()
            self.ready.set()
            backoff.reset()
            next_check = time.monotonic() + CHECK_EVERY_S
            while True:
                try:
                    # A bounded batch, then a turn for the rest of the process: a burst (a backlog after a
                    # restart, a storm) must not hold the event loop while HTTP requests and sockets wait.
                    batch = await consumer.getmany(timeout_ms=1000, max_records=BATCH_EVENTS)
                    await asyncio.sleep(0)
                    for records in batch.values():
                        for record in records:
                            self.stats["events"] += 1
                            head = event_head(record.value)
                            if head.seq and not self.watch.seen(head.seq):
                                # Published twice (the topic is at-least-once):
                                # browsers get each change once.
                                self.stats["duplicates_dropped"] += 1
                                continue
                            self.broadcast(record.value.decode("utf-8", "replace"), head)
                    if time.monotonic() >= next_check:
                        await self._check_stream(consumer, partitions)
                        next_check = time.monotonic() + CHECK_EVERY_S
                except (StreamReset, OffsetOutOfRangeError) as exc:
                    reason = exc.args[0] if isinstance(exc, StreamReset) else "offset_out_of_range"
                    log(logger, logging.WARNING, "live_stream_went_back", reason=reason, detail=repr(exc.args[1:]))
                    partitions = await self._resync_stream(consumer, topic, reason)
                    next_check = time.monotonic() + CHECK_EVERY_S
        finally:
            await consumer.stop()

    async def _position_at_end(self, consumer, topic: str) -> list:
        """Assign every partition of ``topic`` and hold a position at its end; returns the partitions."""
        from aiokafka import TopicPartition

        partitions: set[int] | None = None
        for _ in range(100):
            # Fresh metadata, not the client's cache: the topic may just have been recreated.
            partitions = (await consumer._client.fetch_all_metadata()).partitions_for_topic(topic)
            if partitions:
                break
            await asyncio.sleep(0.1)
        if not partitions:
            raise RuntimeError(f"topic {topic} has no partitions")
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        # The end as the broker states it now, then an explicit seek: after a
        # broker restart the client's own view can lag, and a position taken
        # from it could still lie beyond the new log end.
        ends = await consumer.end_offsets(assigned)
        for tp in assigned:
            consumer.seek(tp, ends[tp])
        # Read after the position is held: every later change is published
        # after it, so the reader sees every change above this number.
        from alerts.services import current_seq

        self.watch = SeqWatch(await sync_to_async(current_seq, thread_sensitive=False)())
        return assigned

    async def _resync_stream(self, consumer, topic: str, reason: str) -> list:
        """The stream went back: move to its end, then make every browser catch up over the API.

        New connections wait (``ready`` cleared) until the reader is at the new
        end, so none of them can catch up before a change the reader skips.
        """
        self.ready.clear()
        self.stats["stream_resets"] += 1
        log(logger, logging.ERROR, "live_stream_reset", reason=reason, clients=len(self.subscribers))
        try:
            partitions = await self._position_at_end(consumer, topic)
        finally:
            self.resync_all()
        self.ready.set()
        return partitions

    async def _check_stream(self, consumer, partitions: list) -> None:
        """Raise StreamReset when the topic went back under the reader or events it should have seen never came."""
        from aiokafka.errors import KafkaError

        read_to_end = True  # unknown while the broker is away: then nothing is published either
        try:
            known = consumer.partitions_for_topic(partitions[0].topic) or set()
            if known and known != {tp.partition for tp in partitions}:
                raise StreamReset("partitions_changed")
            # Positions before ends: the log only grows meanwhile, so a position past
            # an end read after it means the log went back, not that records arrived.
            positions = {tp: await consumer.position(tp) for tp in partitions}
            ends = await consumer.end_offsets(partitions)
            starts = await consumer.beginning_offsets(partitions)
        except KafkaError as exc:
            # The broker is away: the fetcher keeps retrying, and the database
            # check below still notices if what it brings back is wrong.
            self.stats["stream_check_errors"] += 1
            log(logger, logging.WARNING, "live_stream_check_failed", error=repr(exc))
        else:
            for tp in partitions:
                position = positions[tp]
                # The log end as the last fetch answer gave it, with the records read: the
                # embedded broker's offset list answers lag behind what it already serves.
                end = max(ends[tp], consumer.highwater(tp) or 0)
                if position > end:
                    # Topic recreated or broker restarted empty.
                    raise StreamReset("position_beyond_log_end", tp.partition, position, ends[tp])
                if position < starts[tp]:
                    raise StreamReset("position_before_log_start")  # deleted (retention) before this reader got there
                read_to_end = read_to_end and position >= end
        unseen = sync_to_async(_unseen_published, thread_sensitive=False)
        if await unseen(self.watch, time.monotonic(), read_to_end):
            raise StreamReset("published_events_not_seen")

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
                    messages: dict[frozenset[str] | None, str | None] = {}  # one per set of squads
                    for subscriber in list(self.subscribers):
                        if subscriber.squads not in messages:
                            rows = self._visible_rows(changed, subscriber.squads)
                            messages[subscriber.squads] = self._positions_message(rows) if rows else None
                        if messages[subscriber.squads] is not None:
                            subscriber.offer_positions(messages[subscriber.squads])
        finally:
            await consumer.stop()

    async def _check_users(self, backoff) -> None:
        """Close the connections of users signed out, deactivated or no longer officers."""
        backoff.reset()
        while True:
            try:
                await asyncio.wait_for(self._users_wanted.wait(), timeout=USER_CHECK_EVERY_S)
            except TimeoutError:
                pass
            self._users_wanted.clear()
            watched = [s for s in self.subscribers if s.user_id is not None and s.cut is None]
            if not watched:
                continue
            keys = {(s.user_id, s.session_key) for s in watched}
            allowed = await sync_to_async(still_signed_in_officers, thread_sensitive=False)(keys)
            if any(scope is not None for scope in allowed.values()):
                self.squad_of = await sync_to_async(drone_squads, thread_sensitive=False)()
            for subscriber in watched:
                key = (subscriber.user_id, subscriber.session_key)
                if key in allowed:
                    subscriber.squads = allowed[key]  # squads granted or taken away apply within seconds
                else:
                    self.stats["connections_revoked"] += 1
                    log(logger, logging.INFO, "live_connection_revoked", user_id=subscriber.user_id)
                    subscriber.close_for(CUT_REVOKED)

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
                await kafka.wait_acked(producer, futures)
                await sync_to_async(mark_published, thread_sensitive=False)([e.id for e in events])
                self.stats["relayed"] += len(events)
        finally:
            await producer.stop()

    def snapshot(self, squads_seen: frozenset[str] | None = None) -> str:
        return self._positions_message(self._visible_rows(list(self.positions.values()), squads_seen))

    def _visible_rows(self, rows: list, squads_seen: frozenset[str] | None) -> list:
        if squads_seen is None:
            return rows
        return [row for row in rows if squads.sees(squads_seen, self.squad_of.get(row[0]))]

    @staticmethod
    def _positions_message(rows: list) -> str:
        return msgspec.json.encode({"type": "drones.positions", "fields": POSITION_FIELDS, "drones": rows}).decode()


def drone_squads() -> dict[str, str]:
    from ingest.models import Drone

    return dict(Drone.objects.values_list("drone_id", "squad"))


def still_signed_in_officers(keys: set[tuple[int, str | None]]) -> dict[tuple[int, str | None], frozenset[str] | None]:
    """Of the (user id, session key) pairs, those whose session is alive and whose user is an active officer,
    each with the squads that officer sees now (``ingest.squads``; None: every squad).

    The session must still exist, still name the user, be within its shift and
    still carry the user's current session hash (a password change signs out
    everywhere).
    """
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.utils.crypto import constant_time_compare

    from peacewatch import sessions
    from peacewatch.roles import OFFICER, has_role

    users = get_user_model().objects.in_bulk({user_id for user_id, _ in keys})
    store = import_module(settings.SESSION_ENGINE).SessionStore
    from ingest.squads import squads_of

    allowed: dict[tuple[int, str | None], frozenset[str] | None] = {}
    for user_id, session_key in keys:
        user = users.get(user_id)
        if user is None or not has_role(user, OFFICER) or not session_key:
            continue
        session = store(session_key=session_key).load()
        if session.get(SESSION_KEY) != str(user.pk):
            continue
        # Past the shift it ends; watching the live map is not idleness (peacewatch/sessions.py).
        if sessions.ended(session, time.time(), idle=False) is not None:
            continue
        if constant_time_compare(session.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash()):
            allowed[(user_id, session_key)] = squads_of(user)
    return allowed


def start_when_serving() -> None:
    """Start the hub as soon as daphne's loop runs, so it is positioned before the first officer connects.

    Daphne has no ASGI lifespan; it runs Twisted's asyncio reactor, installed
    before it imports the application. Elsewhere (tests, another server) the
    first connection starts the hub and waits for it.
    """
    reactor = sys.modules.get("twisted.internet.reactor")
    if reactor is None or type(reactor).__name__ != "AsyncioSelectorReactor":
        return
    # callWhenRunning fires just before the loop runs; callLater(0) lands inside it.
    reactor.callWhenRunning(lambda: reactor.callLater(0, hub.ensure_started))


hub = LiveHub()
