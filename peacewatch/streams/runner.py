"""The one runner every stream consumer shares.

It owns what handlers must not care about: polling in ``getmany`` batches,
calling the handler in a worker thread (it uses the Django ORM), producing the
dead letters and messages the handler returns and waiting for their acks,
committing offsets only after all that, reconnecting with back-off when the
broker goes away, graceful shutdown on SIGTERM/SIGINT (finish the batch,
commit, exit), and a liveness file with counters.

Delivery is at-least-once: a crash between the handler's writes and the
commit replays the batch, which is why every handler write is idempotent.

A handler that raises is either facing a poison record or a broken
dependency, and the two need opposite answers (see ``ConsumerRunner._handle``):
a poison record is dead-lettered (``handler_error``) so the records behind it
go on; a broken dependency is waited out with back-off, dead-lettering
nothing. Liveness means progress: a consumer that commits nothing for
``stall_after_s`` while records wait (or while it cannot even tell, its
sessions failing) reports ``stalled``, not ``running``.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import random
import signal
import socket
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from itertools import chain
from pathlib import Path

from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections

from peacewatch import metrics
from peacewatch.logs import log
from peacewatch.streams import kafka
from peacewatch.streams.batch import BatchOutcome
from peacewatch.streams.deadletter import DeadLetter
from peacewatch.streams.registry import ConsumerSpec

logger = logging.getLogger(__name__)

RECOVER_EVERY_S = 5.0
LAG_EVERY_S = 1.0  # lag per partition is a gauge for humans and alerts: once a second is plenty
# No commit for this long while records wait: the consumer is stuck, whatever its heartbeat says.
STALL_AFTER_S = 120.0
RETRY_IN_SESSION_S = 120.0  # aiokafka leaves the group when not polled for max_poll_interval_ms (300 s)


def infrastructure_errors() -> tuple[type[BaseException], ...]:
    """Exceptions about a service a handler depends on (database, broker, engine), never about a record.

    Connection-level failures only: a database that refuses one value
    (``IntegrityError``, ``DataError``) is about that value and may be poison.
    """
    from aiokafka.errors import KafkaError

    found: list[type[BaseException]] = [OperationalError, InterfaceError, KafkaError, OSError, MemoryError]
    try:
        from elastic_transport import TransportError  # connection errors and timeouts, not HTTP answers

        found.append(TransportError)
    except ImportError:
        pass
    return tuple(found)


def is_infrastructure_error(exc: BaseException) -> bool:
    """Whether ``exc``, or an exception it was explicitly raised from, is an infrastructure failure."""
    kinds = infrastructure_errors()
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kinds):
            return True
        seen.add(id(current))
        current = current.__cause__  # only "raise ... from": __context__ may be an unrelated handled error
    return False


class Backoff:
    """Exponential back-off with jitter: 0.5 s doubling up to ``cap`` seconds."""

    def __init__(self, base: float = 0.5, cap: float = 30.0) -> None:
        self.base, self.cap, self.attempt = base, cap, 0

    def next(self) -> float:
        delay = min(self.cap, self.base * 2**self.attempt)
        self.attempt += 1
        return delay * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        self.attempt = 0


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        pass
    return True


class Liveness:
    """A JSON status file rewritten at most once a second; its mtime is the heartbeat."""

    def __init__(self, name: str, path: Path | None = None) -> None:
        self.path = path or settings.CONSUMER_STATUS_DIR / f"consumer-{name}.json"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.name = name
        self._last = 0.0

    def due(self) -> bool:
        return time.time() - self._last >= 1.0

    def beat(self, stats: dict) -> None:
        now = self._last = time.time()
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"consumer": self.name, "pid": os.getpid(), "ts": now, **stats}))
        os.replace(tmp, self.path)

    def read(self) -> dict:
        """The last status written here (by this process or an earlier one), or {}."""
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}

    def age(self) -> float | None:
        try:
            return time.time() - self.path.stat().st_mtime
        except FileNotFoundError:
            return None

    def problem(self, max_age: float) -> str | None:
        """Why this consumer is not ready (no beat for ``max_age`` seconds, or stalled); None when it is."""
        age = self.age()
        if age is None or age > max_age:
            return f"consumer {self.name} not alive (last beat {age}s ago)"
        try:
            status = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return f"consumer {self.name} status file unreadable"
        if status.get("state") == "stalled":
            return (
                f"consumer {self.name} stalled: nothing committed for {status.get('since_progress_s')}s "
                f"while {status.get('lag')} records wait"
            )
        return None


def tune_gc() -> None:
    """Make the cyclic garbage collector cheap for batch consumers.

    Every batch allocates tens of thousands of short-lived objects, freed by
    reference counting; with the default threshold (700) the collector runs
    hundreds of times per batch and traverses every long-lived object (Django,
    aiokafka) each time it reaches older generations. Freezing what start-up
    created and collecting gen0 every 100k allocations measured ~15% more
    throughput on the alerts consumer. Memory stays bounded: cycles are rare
    here and are still collected.
    """
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """No cyclic collection while a handler works through a batch; reference counting still frees.

    A batch keeps its records and everything decoded from them alive until it
    is handled, so collections during it only traverse live objects, over and
    over (the bigger the batch, the more). Once the handler returns, that is
    garbage freed by reference counting, and the collector runs again with
    little left to look at. Cycles made during one batch wait for its end.
    """
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class Lingering:
    """Polled records held back to make one bigger batch (see ``ConsumerSpec.linger_setting``)."""

    def __init__(self) -> None:
        self.batch: dict = {}  # TopicPartition -> records, in offset order
        self.count = 0
        self.since: float | None = None  # monotonic time of the first record held

    def add(self, batch: dict) -> None:
        for tp, records in batch.items():
            if records:
                self.batch.setdefault(tp, []).extend(records)
                self.count += len(records)
        if self.count and self.since is None:
            self.since = time.monotonic()

    def due(self, max_records: int, linger_s: float) -> bool:
        return self.count >= max_records or (self.since is not None and time.monotonic() - self.since >= linger_s)

    def take(self) -> dict:
        batch, self.batch, self.count, self.since = self.batch, {}, 0, None
        return batch


class ConsumerRunner:
    def __init__(
        self,
        spec: ConsumerSpec,
        *,
        max_batch: int | None = None,
        poll_timeout_ms: int | None = None,
        status_file: Path | None = None,
        group_id: str | None = None,
        stall_after_s: float = STALL_AFTER_S,
    ) -> None:
        self.spec = spec
        self.handler = spec.load_handler()
        self.recover = spec.load_recover()
        self.topics = [kafka.topic(name) for name in spec.topics]
        self.linger_s = spec.linger_s
        self.group_id = group_id or spec.group_id
        self.max_batch = max_batch or spec.max_batch or settings.CONSUMER_MAX_BATCH
        self.poll_timeout_ms = poll_timeout_ms or settings.CONSUMER_POLL_TIMEOUT_MS
        self.liveness = Liveness(spec.name, status_file)
        self.stopping = asyncio.Event()
        # One worker thread: the handler's Django DB connection lives there.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"consumer-{spec.name}")
        self.stats: Counter = Counter()
        self.dead_letters: Counter = Counter()
        self.started_at = time.time()
        # Wall-clock of the first and latest handled batch: throughput without start-up.
        self.first_batch_at: float | None = None
        self.last_batch_at: float | None = None
        self.partitions = 0  # assigned to this process right now
        # Prometheus children bound once: a labelled lookup per batch is cheap, none is cheaper.
        self.consumed_metric = metrics.REPORTS_CONSUMED.labels(spec.name)
        self.batch_seconds_metric = metrics.CONSUMER_BATCH_SECONDS.labels(spec.name)
        self.partitions_metric = metrics.CONSUMER_PARTITIONS.labels(spec.name)
        self.committed: dict = {}  # TopicPartition -> next offset this session committed
        self.first_fetched: dict = {}  # TopicPartition -> offset of the first record this session fetched
        self._lag_at = 0.0
        # Progress, for liveness: when a batch was last committed (or nothing was waiting).
        self.stall_after_s = stall_after_s
        self.progress_at = time.time()
        self.lag: int | None = None  # records waiting on the partitions held, as last observed
        # A record the handler went through: replaying it is harmless (handlers are
        # idempotent), so it tells "this record is poison" from "the handler cannot work".
        self.known_good = None
        self.member_id: str | None = None  # this process's id in its group, once joined
        self.host = socket.gethostname()
        self.predecessor = self.liveness.read()  # the last process of this consumer here, if any

    # --- lifecycle ----------------------------------------------------------------
    def request_stop(self) -> None:
        if not self.stopping.is_set():
            log(logger, logging.INFO, "consumer_stopping", consumer=self.spec.name)
            self.stopping.set()

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)

    async def run(self) -> None:
        kafka.check_c_extension()
        tune_gc()
        backoff = Backoff()
        log(logger, logging.INFO, "consumer_starting", consumer=self.spec.name, topics=self.topics, group=self.group_id)
        try:
            while not self.stopping.is_set():
                try:
                    await self._session(backoff)
                except Exception as exc:  # broker gone, commit refused, handler bug: retry, never die
                    self.stats["reconnects"] += 1
                    metrics.CONSUMER_RECONNECTS.labels(self.spec.name).inc()
                    self.partitions_metric.set(0)
                    self.lag = None  # unknown while disconnected: no news of progress is not progress
                    self._beat()
                    delay = backoff.next()
                    log(
                        logger,
                        logging.WARNING,
                        "consumer_session_failed",
                        consumer=self.spec.name,
                        error=f"{type(exc).__name__}: {exc}",
                        retry_in_s=round(delay, 2),
                    )
                    await self._sleep(delay)
        finally:
            self.executor.shutdown(wait=True)
            self._beat(force=True, state="stopped")
            log(logger, logging.INFO, "consumer_stopped", consumer=self.spec.name, **self._summary())

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)
        except TimeoutError:
            pass

    async def _session(self, backoff: Backoff) -> None:
        """One connection to the broker, until stop or a Kafka error."""
        from aiokafka import AIOKafkaConsumer

        # No linger: the runner awaits every send right away (before committing),
        # so waiting for more records to batch would only add latency.
        producer = kafka.make_producer(linger_ms=0)
        consumer = AIOKafkaConsumer(
            **kafka.consumer_kwargs(),
            group_id=self.group_id,
            # Fast takeover: a killed process's partitions move after the session timeout,
            # and a restarted static member takes them back at once.
            session_timeout_ms=settings.KAFKA_SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=settings.KAFKA_HEARTBEAT_INTERVAL_MS,
            group_instance_id=(
                f"{self.group_id}-{settings.CONSUMER_INSTANCE_ID}" if settings.CONSUMER_INSTANCE_ID else None
            ),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.max_batch,
            fetch_max_bytes=64 * 1024 * 1024,
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
        consumer.subscribe(self.topics)
        fetch: asyncio.Future | None = None
        finishing: asyncio.Future | None = None  # the previous batch's delivery and commit
        lingering = Lingering()  # polls accumulated into one batch (specs with a linger)
        self.committed = {}
        self.first_fetched = {}
        try:
            await producer.start()
            await self._leave_for_dead_predecessor()
            await consumer.start()
            if self.recover is not None:
                await self._deliver(producer, await self._in_worker(self.recover))
            log(logger, logging.INFO, "consumer_connected", consumer=self.spec.name)
            # Pipelined: while the worker thread handles batch N, the event loop
            # already fetches and unpacks batch N+1, and sends batch N-1's messages
            # and commits its offsets (a round trip to the brokers each). Offsets of
            # a batch are still committed only after it is handled and its messages
            # acked, and batches are delivered in order: N-1's before N's.
            fetch = self._fetch(consumer)
            last_recover = time.monotonic()
            while True:
                batch = await fetch
                for tp, records in batch.items():
                    if records:
                        self.first_fetched.setdefault(tp, records[0].offset)
                stopping = self.stopping.is_set()
                if self.linger_s is not None:
                    lingering.add(batch)
                    due = stopping or lingering.due(self.max_batch, self.linger_s)
                    batch = lingering.take() if due else {}
                    # Held for a while: what the group moved to another process meanwhile is its to write.
                    held = consumer.assignment()
                    batch = {tp: records for tp, records in batch.items() if tp in held}
                if not stopping:
                    fetch = self._fetch(consumer)
                self.partitions = len(consumer.assignment())
                self.member_id = kafka.member_id(consumer)
                self._beat()
                await self._observe_lag(consumer)
                if self.recover is not None and time.monotonic() - last_recover >= RECOVER_EVERY_S:
                    # Safety net for messages other processes left unpublished
                    # (an officer's change when the web process died mid-relay).
                    last_recover = time.monotonic()
                    finishing = await self._finished(finishing)
                    await self._deliver(producer, await self._in_worker(self.recover))
                if batch:
                    records = list(chain.from_iterable(batch.values()))  # one C-level pass, not a loop per record
                    started = time.perf_counter()
                    outcome = await self._handle_until_done(records, backoff)
                    offsets = {tp: recs[-1].offset + 1 for tp, recs in batch.items()}
                    finishing = await self._finished(finishing)
                    finishing = asyncio.ensure_future(
                        self._finish(producer, consumer, outcome, offsets, len(records), started, backoff)
                    )
                else:
                    finishing = await self._finished(finishing)  # idle: nothing to overlap it with
                if stopping:
                    break
            # Stopping: the last handled batch is delivered and committed before the clients close.
            finishing = await self._finished(finishing)
        finally:
            if finishing is not None:
                # Failing or cancelled: a batch whose delivery did not complete is not
                # committed, and the next owner of its partitions reads it again.
                finishing.cancel()
                await asyncio.gather(finishing, return_exceptions=True)
            if fetch is not None:
                # Records fetched but not handled are simply not committed: the
                # next owner of the partition reads them again.
                fetch.cancel()
                await asyncio.gather(fetch, return_exceptions=True)
            # Bounded: a dead broker must not keep a stopping consumer alive.
            for client in (consumer, producer):
                try:
                    await asyncio.wait_for(client.stop(), timeout=10)
                except Exception as exc:
                    log(logger, logging.DEBUG, "client_stop_failed", error=repr(exc))

    @staticmethod
    async def _finished(finishing: asyncio.Future | None) -> None:
        """Wait for the previous batch's delivery and commit (raising its error, if any)."""
        if finishing is not None:
            await finishing

    async def _finish(self, producer, consumer, outcome, offsets: dict, n: int, started: float, backoff) -> None:
        """Deliver a handled batch's messages, then commit its offsets, then count it."""
        await self._deliver(producer, outcome)
        await self._commit(consumer, offsets)
        self.progress_at = time.time()
        backoff.reset()
        self._account(outcome, n, time.perf_counter() - started)

    async def _commit(self, consumer, offsets: dict) -> None:
        """Commit what was handled, never a partition the group has moved to another process meanwhile.

        The batch's work is done and idempotent: if the group rebalanced while it
        ran, the new owner of a revoked partition reads those records again, and
        this process goes on with what it still holds instead of rebuilding its session.
        """
        from aiokafka.errors import CommitFailedError, IllegalGenerationError, RebalanceInProgressError

        held = consumer.assignment()
        kept = {tp: offset for tp, offset in offsets.items() if tp in held}
        if len(kept) < len(offsets):
            self.stats["revoked_uncommitted"] += len(offsets) - len(kept)
        if not kept:
            return
        try:
            await consumer.commit(kept)
        except (CommitFailedError, IllegalGenerationError, RebalanceInProgressError) as exc:
            self.stats["revoked_uncommitted"] += len(kept)
            log(logger, logging.WARNING, "commit_after_rebalance_skipped", consumer=self.spec.name, error=repr(exc))
            return
        self.committed.update(kept)

    # --- poison isolation -------------------------------------------------------------
    async def _handle_until_done(self, records: list, backoff: Backoff) -> BatchOutcome:
        """``_handle``, retried with back-off in this session while the failure is not the records' fault.

        Staying connected spares the group a rebalance per attempt; past
        ``RETRY_IN_SESSION_S`` (well under the broker's poll interval) the
        failure goes up and the session is rebuilt, as for a broker error.
        """
        deadline = time.monotonic() + RETRY_IN_SESSION_S
        while True:
            try:
                return await self._handle(records)
            except Exception as exc:
                if self.stopping.is_set() or time.monotonic() > deadline:
                    raise
                self.stats["batch_retries"] += 1
                self.lag = None  # what waits is unknown until the batch goes through
                self._beat()
                delay = backoff.next()
                log(
                    logger,
                    logging.WARNING,
                    "consumer_batch_failed",
                    consumer=self.spec.name,
                    error=f"{type(exc).__name__}: {exc}"[:500],
                    retry_in_s=round(delay, 2),
                )
                await self._sleep(delay)

    async def _handle(self, records: list) -> BatchOutcome:
        """The handler's outcome for ``records``, or the batch narrowed down to its poison records.

        The rule: a record is poison when it makes the handler fail alone while
        its neighbours succeed. So when the handler raises:

        1. an infrastructure error (``is_infrastructure_error``: database,
           broker or engine unreachable) is re-raised: the session backs off
           and the batch is retried; nothing is dead-lettered;
        2. otherwise a probe asks whether the handler works at all: it handles
           a record it went through before (harmless to replay), or an empty
           batch when it has none yet. A probe that fails means the failure is
           not about these records (a bug, a missing table): re-raised, retried;
        3. otherwise the batch is split in halves, recursively; every part that
           succeeds keeps its outcome (its writes are done, its messages are
           delivered with the batch's), every single record that still fails
           alone is poison: a ``handler_error`` dead letter;
        4. unless no part succeeded in a batch of several records handled
           without a known-good probe: then nothing shows that the records
           are at fault, and the failure is retried like in 2.

        The batch's offsets are committed only after all of that is written
        and acknowledged, as for a batch that went through at once.
        """
        try:
            outcome = await self._in_worker(self.handler, records)
        except Exception as exc:
            if is_infrastructure_error(exc):
                raise
            return await self._isolate(records, exc)
        if records:
            self.known_good = records[-1]
        return outcome

    async def _isolate(self, records: list, error: Exception) -> BatchOutcome:
        probe_records = [self.known_good] if self.known_good is not None else []
        try:
            probe = await self._in_worker(self.handler, probe_records)
        except Exception:
            raise error from None  # the handler fails without these records: not their fault
        probe.counts.clear()  # a replay, not work done; its messages (if any) still go out
        outcomes: list[BatchOutcome] = [probe]
        poison: list[tuple[object, Exception]] = []
        if len(records) == 1:
            poison.append((records[0], error))
        else:
            await self._bisect(records, outcomes, poison)
        if len(outcomes) == 1 and len(records) > 1 and not probe_records:
            raise error  # step 4: every record failed alone and nothing is known to work
        condemned = {id(record) for record, _ in poison}
        self.known_good = next((r for r in reversed(records) if id(r) not in condemned), self.known_good)
        letters = [DeadLetter.for_failure(record, exc) for record, exc in poison]
        self.stats["poison_isolated"] += len(letters)
        for letter in letters:
            log(
                logger,
                logging.WARNING,
                "poison_record_isolated",
                consumer=self.spec.name,
                detail=letter.detail[:200],
                partition=letter.source_partition,
                offset=letter.source_offset,
                batch=len(records),
            )
        merged = BatchOutcome.merged(outcomes, records=len(records))
        merged.dead_letters += letters
        return merged

    async def _bisect(self, records: list, outcomes: list[BatchOutcome], poison: list) -> None:
        """Handle the halves of ``records`` (known to fail together), recursing into those that fail."""
        middle = len(records) // 2
        for part in (records[:middle], records[middle:]):
            try:
                outcomes.append(await self._in_worker(self.handler, part))
            except Exception as exc:
                if is_infrastructure_error(exc):
                    raise
                if len(part) == 1:
                    poison.append((part[0], exc))
                else:
                    await self._bisect(part, outcomes, poison)

    async def _observe_lag(self, consumer) -> None:
        """Publish partitions held and lag per partition: high watermark minus what is committed."""
        now = time.monotonic()
        if now - self._lag_at < LAG_EVERY_S:
            return
        self._lag_at = now
        assigned = consumer.assignment()
        self.partitions_metric.set(len(assigned))
        total: int | None = None
        for tp in assigned:
            highwater = consumer.highwater(tp)  # from the latest fetch of that partition
            if highwater is None:
                continue
            done = self.committed.get(tp)
            if done is None:
                # Nothing committed by this session yet: from the first record it fetched (held back by a
                # lingering consumer or being handled, neither is done), else the fetch position.
                done = self.first_fetched.get(tp)
            if done is None:
                try:
                    done = await asyncio.wait_for(consumer.position(tp), timeout=0.2)
                except Exception:  # timed out or lost meanwhile: next time
                    continue
            lag = max(0, highwater - done)
            metrics.CONSUMER_LAG.labels(self.spec.name, tp.topic, str(tp.partition)).set(lag)
            total = (total or 0) + lag
        if total is not None:
            self.lag = total
            if total == 0:
                self.progress_at = time.time()  # nothing waiting: idle is not stuck

    def _fetch(self, consumer) -> asyncio.Future:
        return asyncio.ensure_future(consumer.getmany(timeout_ms=self.poll_timeout_ms, max_records=self.max_batch))

    async def _in_worker(self, fn, *args):
        def call():
            close_old_connections()
            with cyclic_gc_paused():
                return fn(*args)

        return await asyncio.get_running_loop().run_in_executor(self.executor, call)

    async def _deliver(self, producer, outcome: BatchOutcome) -> None:
        """Produce dead letters and messages and wait until every one is acknowledged."""
        if not outcome.dead_letters and not outcome.messages:
            return
        deadletter_topic = kafka.topic("deadletter")
        futures = [
            await producer.send(deadletter_topic, letter.value, key=letter.key, headers=letter.headers())
            for letter in outcome.dead_letters
        ]
        futures += [
            await producer.send(message.topic, message.value, key=message.key, headers=message.headers or None)
            for message in outcome.messages
        ]
        await kafka.wait_acked(producer, futures)
        if outcome.after_delivery is not None:
            await self._in_worker(outcome.after_delivery)

    # --- accounting -----------------------------------------------------------------
    def _account(self, outcome: BatchOutcome, n: int, seconds: float) -> None:
        now = time.time()
        if self.first_batch_at is None:
            self.first_batch_at = now - seconds
            self.stats["first_batch_records"] = n
        self.last_batch_at = now
        self.stats["consumed"] += n
        self.consumed_metric.inc(n)
        self.batch_seconds_metric.observe(seconds)
        self.stats["batches"] += 1
        self.stats["messages_published"] += len(outcome.messages)
        self.stats.update(outcome.counts)
        for letter in outcome.dead_letters:
            self.dead_letters[letter.error] += 1
            metrics.DEAD_LETTERS.labels(self.spec.name, letter.error).inc()
            log(
                logger,
                logging.WARNING,
                "report_dead_lettered",
                consumer=self.spec.name,
                error=letter.error,
                detail=letter.detail[:200],
                partition=letter.source_partition,
                offset=letter.source_offset,
            )
        self.stats["last_batch_ms"] = int(seconds * 1000)

    async def _leave_for_dead_predecessor(self) -> None:
        """A killed predecessor (a dynamic member) still holds its partitions until its session
        expires; leaving on its behalf hands them out at once. Static members need none of this:
        the new process takes over the same instance id."""
        previous, self.predecessor = self.predecessor, None
        if settings.CONSUMER_INSTANCE_ID or not previous or previous.get("group") != self.group_id:
            return
        member_id, pid = previous.get("member_id"), previous.get("pid")
        if not member_id or not pid or pid == os.getpid() or previous.get("state") == "stopped":
            return
        if previous.get("host") != self.host or pid_alive(pid):  # a pid means nothing elsewhere
            return
        try:
            left = await kafka.leave_group_for(self.group_id, member_id)
        except Exception as exc:  # only a faster takeover is lost: the session timeout still applies
            left = False
            log(logger, logging.DEBUG, "predecessor_leave_failed", consumer=self.spec.name, error=repr(exc))
        log(logger, logging.INFO, "predecessor_left_group", consumer=self.spec.name, pid=pid, accepted=left)

    def _summary(self) -> dict:
        return {
            **self.stats,
            "group": self.group_id,
            "member_id": self.member_id,
            "host": self.host,
            "dead_letters": dict(self.dead_letters),
            "partitions": self.partitions,
            "first_batch_at": self.first_batch_at,
            "last_batch_at": self.last_batch_at,
        }

    def _beat(self, *, force: bool = False, state: str | None = None) -> None:
        if force or self.liveness.due():  # the summary is only built when it is written
            since_progress = time.time() - self.progress_at
            if state is None:
                stalled = self.lag != 0 and since_progress > self.stall_after_s
                state = "stalled" if stalled else "running"
            self.liveness.beat(
                {"state": state, "lag": self.lag, "since_progress_s": round(since_progress, 1), **self._summary()}
            )


def run(spec: ConsumerSpec, **options) -> None:
    """Run the consumer until stopped: in a worker forked again at once if it dies (``CONSUMER_FORK_WORKER``)."""

    async def main() -> None:
        runner = ConsumerRunner(spec, **options)
        runner.install_signal_handlers()
        await runner.run()

    def work() -> None:
        asyncio.run(main())

    if settings.CONSUMER_FORK_WORKER and hasattr(os, "fork"):
        from peacewatch.streams.supervisor import supervise

        raise SystemExit(supervise(work, name=spec.name, on_exit=metrics.mark_dead))
    work()
