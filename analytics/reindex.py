"""Re-indexing: rebuild an analytics engine from the other store, or from Kafka.

Both paths write through the engine's own ``index``, which is idempotent by
(drone_id, report_id), so a re-index can be stopped and run again, or run while
the indexer consumer keeps writing, without duplicating anything. A report the
target holds with other content is a conflict, counted as bad and not written.
A copy out of Elasticsearch rebuilds each report from its stored document, not
its original bytes: into a target that already holds some of those reports as
received (from the topic), they count as conflicts, and the target keeps its own.
What ingest decided about a report's time is copied, not judged again
(:func:`analytics.store.base.received_again`): a report flagged ``clock_skew``
stays flagged, at its broker time, whatever ``MAX_CLOCK_SKEW_S`` says now.

- :func:`from_store` copies every report (since a time) from one store to the
  other: the embedded file into Elasticsearch when a force outgrows one
  machine, or back.
- :func:`from_topic` replays ``peacewatch.reports`` from a chosen time: the
  offsets of its own consumer group are reset to the first record at or after
  that time (Kafka's offsets-for-times), it reads up to the end offsets seen at
  the start, and commits as it goes, so an interrupted replay resumes with
  ``--resume``. Bad records are counted, not dead-lettered again: the indexer
  did that when they first arrived.
- :func:`from_archive` rebuilds any period from the Parquet archive, however
  old: every report that arrived in [since, until), file by file in a fixed
  order, each file's rows through the indexer's own ``process_batch`` as the
  records they were. A state file names the files done, so ``--resume``
  carries on an interrupted rebuild after the last whole file.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from analytics.consumer import process_batch
from analytics.store.base import ReportStore


@dataclass
class Progress:
    total: int | None
    done: int = 0
    stored: int = 0
    bad: int = 0
    started: float = field(default_factory=time.monotonic)

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = self.done / elapsed
        text = f"{self.done:,}"
        if self.total:
            share = min(1.0, self.done / self.total)
            eta = (self.total - self.done) / rate if rate > 0 else float("inf")
            text += f" / {self.total:,} reports ({share:.1%}), ETA {eta:,.0f} s"
        else:
            text += " reports"
        return f"{text}, {rate:,.0f}/s, {self.stored:,} new, {self.bad:,} bad"


Report = Callable[[Progress], None]


def _every(seconds: float, report: Report) -> Report:
    last = [0.0]

    def maybe(progress: Progress) -> None:
        now = time.monotonic()
        if now - last[0] >= seconds:
            last[0] = now
            report(progress)

    return maybe


def from_store(source: ReportStore, target: ReportStore, *, since_ms: int | None, report: Report) -> Progress:
    progress = Progress(total=source.count_since(since_ms))
    tick = _every(1.0, report)
    for batch in source.iter_received(since_ms=since_ms):
        result = target.index(batch)
        progress.stored += result.created
        progress.bad += len(result.rejected)
        progress.done += len(batch)
        tick(progress)
    report(progress)
    return progress


async def from_topic(
    target: ReportStore, *, since_ms: int | None, group_id: str, resume: bool, report: Report
) -> Progress:
    """Replay the reports topic into ``target``, from ``since_ms`` (or the group's committed offsets)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from peacewatch.streams import kafka

    name = kafka.topic("reports")
    consumer = AIOKafkaConsumer(
        **kafka.consumer_kwargs(),
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    try:
        await consumer.topics()  # fetches the cluster metadata
        partitions = await kafka.topic_partitions(name)
        tps = [TopicPartition(name, p) for p in partitions]
        if not tps:
            raise RuntimeError(f"topic {name} has no partitions (is the broker the right one?)")
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        starts = await _start_offsets(consumer, tps, since_ms=since_ms, resume=resume, ends=ends)
        for tp in tps:
            consumer.seek(tp, starts[tp])
        progress = Progress(total=sum(max(0, ends[tp] - starts[tp]) for tp in tps))
        tick = _every(1.0, report)
        # The end of a partition is fixed by the first fetch answer for it: its
        # high watermark (some brokers, Tansu among them, under-report
        # ListOffsets "latest"; the fetch answer is authoritative).
        settled: set = set()
        remaining = set(tps)
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=500, max_records=5000)
            for tp in remaining - settled:
                highwater = consumer.highwater(tp)
                if highwater is not None:
                    settled.add(tp)
                    if highwater > ends[tp]:
                        progress.total = (progress.total or 0) + highwater - max(ends[tp], starts[tp])
                        ends[tp] = highwater
            records = []
            offsets = {}
            for tp, recs in batch.items():
                # Only up to the end seen at the start: records arriving since
                # are the running indexer's business.
                recs = [r for r in recs if r.offset < ends[tp]]
                if recs:
                    records.extend(recs)
                    offsets[tp] = recs[-1].offset + 1
            if records:
                outcome = await asyncio.to_thread(process_batch, records, target)
                progress.stored += outcome.counts.get("stored", 0)
                progress.bad += len(outcome.dead_letters)
                progress.done += len(records)
                await consumer.commit(offsets)
            for tp in list(remaining & settled):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
            tick(progress)
        report(progress)
        return progress
    finally:
        await consumer.stop()


def from_archive(
    archive,
    target: ReportStore,
    *,
    since_ms: int,
    until_ms: int,
    state_path: Path,
    resume: bool,
    report: Report,
) -> Progress:
    """Re-index every archived report that arrived in [since_ms, until_ms) into ``target``."""
    from analytics.archive import replay

    job = {"target": target.name, "since_ms": since_ms, "until_ms": until_ms}
    done: set[str] = set()
    if resume:
        try:
            state = json.loads(state_path.read_text())
        except (OSError, ValueError):
            state = {}
        if state.get("job") != job:
            raise ValueError(f"nothing to resume for this target and period in {state_path}")
        done = set(state["done"])
    files = replay.report_files(archive, since_ms, until_ms)
    # Rows in the files of the period (footers only): a bound on the reports to come.
    progress = Progress(total=sum(replay.file_rows(archive, path) for path in files if path not in done))
    tick = _every(1.0, report)
    state_path.parent.mkdir(parents=True, exist_ok=True)
    for path in files:
        if path in done:
            continue
        for records in replay.records(archive, path, since_ms, until_ms):
            outcome = process_batch(records, target)
            progress.stored += outcome.counts.get("stored", 0)
            progress.bad += len(outcome.dead_letters)
            progress.done += len(records)
            tick(progress)
        done.add(path)
        temporary = state_path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"job": job, "done": sorted(done)}))
        temporary.replace(state_path)
    report(progress)
    return progress


async def _start_offsets(consumer, tps, *, since_ms, resume, ends) -> dict:
    if resume:
        starts = {}
        for tp in tps:
            committed = await consumer.committed(tp)
            starts[tp] = committed if committed is not None else (await consumer.beginning_offsets([tp]))[tp]
        return starts
    if since_ms is None:
        return await consumer.beginning_offsets(tps)
    found = await consumer.offsets_for_times(dict.fromkeys(tps, since_ms))
    # No record at or after the time: start at the end (nothing to replay there).
    return {tp: (found[tp].offset if found.get(tp) is not None else ends[tp]) for tp in tps}
