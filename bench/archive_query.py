"""A month of archive, asked what a statistician asks: how many reports, and who was seen most;
and one day of it, asked what the analytics page asks.

    python bench/archive_query.py [--reports-per-day 5000000] [--days 30] [--repeat 3]

Builds one day of first-wave reports (``Fleet.first_wave``: 3,500 drones over a city of
102,400 people with subject ids, 5,000 words; spread over 24 h) through
the archive consumer's own ``process_batch``, in batches of 100,000 as the
consumer writes them, into a scratch archive on local disk; then links that
day's files under ``--days`` dates (hard links: the same bytes, no extra disk)
to stand for a month. Before linking, the day is compacted as the hourly task
does it (merge, then the hourly rollups, ``analytics.archive.rollup``), timed,
and its rollups written again alone, timed; they are linked with it. Then
times, through ``archive sql``'s own connection (DuckDB over the Parquet
files, ``analytics.archive.sql``), the two questions over the whole month, each
asked of the rows and of the rollups (the answers must be equal), each
repeated and the median quoted:

- ``SELECT count(*) FROM reports WHERE date BETWEEN first AND last``, and
  ``sum(reports)`` of ``report_hours``;
- the top 10 citizens (people, by subject id and name) by sightings over the same dates
  (``unnest(citizens)``), and ``sum(sightings)`` of ``citizen_hours``.

Before linking, the built day is asked the analytics page's default question
(all six aggregations, 50 hits, the whole day) through the archive's search
engine (``analytics.archive.search``, what a search reaching before the
index's retention runs), each run in a fresh connection as the web does.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import django_setup, emit, machine, median, progress

BATCH = 100_000


def build_day(root: Path, day: datetime, count: int) -> int:
    """One day of reports into the archive at ``root``; returns the Parquet bytes written."""
    from analytics.archive.consumer import process_batch
    from analytics.archive.storage import ArchiveStorage
    from ingest.simulator import Fleet
    from peacewatch.streams import kafka
    from peacewatch.streams.batch import Record

    archive = ArchiveStorage(str(root))
    fleet = Fleet.first_wave(drones=3500, seed=7)
    topic = kafka.topic("reports")
    step = timedelta(days=1) / count
    written, batch, started = 0, [], time.monotonic()
    for i in range(count):
        at = day + step * i
        key, value = fleet.encoded(at)
        # Six partitions by drone, offsets in arrival order, as the topic would hold them.
        partition = zlib.crc32(key) % 6
        arrived = int(at.timestamp() * 1000)
        batch.append(Record(value=value, key=key, topic=topic, partition=partition, offset=i, timestamp=arrived))
        if len(batch) == BATCH or i == count - 1:
            batch.sort(key=lambda record: (record.partition, record.offset))
            written += process_batch(batch, archive).counts["bytes_written"]
            batch = []
            done = i + 1
            rate = done / (time.monotonic() - started)
            progress(f"built {done:,}/{count:,} reports ({rate:,.0f}/s, ETA {(count - done) / rate:,.0f} s)")
    return written


def link_days(root: Path, day: datetime, days: int) -> tuple[str, str]:
    """Hard-link the built day's files (and rollups) under ``days`` consecutive dates ending with it; (first, last)."""
    from analytics.archive import rollup

    first = day - timedelta(days=days - 1)
    for stream in ("reports", *(rollup.root(table) for table in rollup.TABLES)):
        source = root / stream / f"date={day:%Y-%m-%d}"
        for n in range(days - 1):
            target = root / stream / f"date={first + timedelta(days=n):%Y-%m-%d}"
            for path in source.rglob("*.parquet"):
                destination = target / path.relative_to(source)
                destination.parent.mkdir(parents=True, exist_ok=True)
                os.link(path, destination)
    return f"{first:%Y-%m-%d}", f"{day:%Y-%m-%d}"


def compact_day(archive, root: Path, day: datetime, args) -> None:
    """The hourly task's work on the built day (merge, then rollups), then the rollups alone, both timed."""
    import shutil

    from analytics.archive import compact, rollup

    later = day + timedelta(days=2)  # every hour of the day closed
    started = time.perf_counter()
    result = compact.compact(archive, now=later)
    compacted = time.perf_counter() - started
    progress(f"compacted the day in {compacted:.1f} s ({result.merged} files merged, hours rolled up)")
    for table in rollup.TABLES:
        shutil.rmtree(root / rollup.root(table))
    started = time.perf_counter()
    rolled = rollup.build(archive, now=later)
    seconds = time.perf_counter() - started
    progress(f"rolled the day up again alone in {seconds:.1f} s")
    emit(
        "archive_day_compact_seconds",
        round(compacted, 2),
        "s",
        reports=args.reports_per_day,
        merged=result.merged,
        hours_rolled_up=result.rollups.written,
    )
    emit("archive_day_rollup_seconds", round(seconds, 2), "s", reports=args.reports_per_day, hours=rolled.written)


def page_search(archive, day: datetime, args) -> None:
    from django.conf import settings

    from analytics.archive.search import ArchiveSearch
    from analytics.query import AGGREGATIONS, parse_query, plan

    settings.ARCHIVE_SEARCH_TIMEOUT_S = 3600  # measured, not refused
    query = {"time": {"from": day.isoformat(), "to": (day + timedelta(days=1)).isoformat()}, "size": 50}
    p = plan(parse_query({**query, "aggs": list(AGGREGATIONS)}), now=day + timedelta(days=400))
    seconds, total = [], None
    for run in range(args.repeat):
        started = time.perf_counter()
        total = ArchiveSearch(archive).search(p)["total"]
        seconds.append(time.perf_counter() - started)
        progress(f"page search over the day, run {run + 1}/{args.repeat}: {seconds[-1]:.1f} s")
    emit(
        "archive_day_page_search_seconds",
        round(median(seconds), 2),
        "s",
        runs=[round(s, 2) for s in seconds],
        reports=args.reports_per_day,
        total=total,
        aggregations=len(AGGREGATIONS),
        memory_limit_mb=settings.ARCHIVE_SEARCH_MEMORY_MB,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports-per-day", type=int, default=5_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    django_setup()
    from analytics.archive import sql
    from analytics.archive.storage import ArchiveStorage

    emit("machine", machine(), "info")
    day = datetime(2026, 10, 31, tzinfo=UTC)
    with tempfile.TemporaryDirectory(prefix="pw-bench-archive-") as scratch:
        root = Path(scratch) / "archive"
        progress(f"building one day of {args.reports_per_day:,} reports through the archive consumer")
        day_bytes = build_day(root, day, args.reports_per_day)
        archive = ArchiveStorage(str(root))
        page_search(archive, day, args)
        compact_day(archive, root, day, args)
        first, last = link_days(root, day, args.days)
        progress(f"linked it under {args.days} dates, {first} to {last}")
        dates = f"date BETWEEN '{first}' AND '{last}'"
        questions = {
            "count": f"SELECT count(*) FROM reports WHERE {dates}",
            "count_from_rollups": f"SELECT sum(reports)::BIGINT FROM report_hours WHERE {dates}",
            "top_citizens": (
                "SELECT c.id, c.name, count(*) AS sightings FROM reports, unnest(citizens) AS t(c) "
                f"WHERE {dates} GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 10"
            ),
            "top_citizens_from_rollups": (
                "SELECT id, name, sum(sightings)::BIGINT AS sightings FROM citizen_hours "
                f"WHERE {dates} GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 10"
            ),
        }
        answers = {}
        for name, query in questions.items():
            seconds, answer = [], None
            for run in range(args.repeat):
                started = time.perf_counter()
                _columns, rows = sql.run(archive, query)
                answer = list(rows)
                seconds.append(time.perf_counter() - started)
                progress(f"{name} run {run + 1}/{args.repeat}: {seconds[-1]:.1f} s")
            answers[name] = answer
            emit(
                f"archive_month_{name}_seconds",
                round(median(seconds), 2),
                "s",
                runs=[round(s, 2) for s in seconds],
                reports=args.reports_per_day * args.days,
                days=args.days,
                answer=answer[0] if name.startswith("count") else answer[:3],
                target="seconds",
            )
        # The rollups are a faster road to the same answers, not an estimate.
        assert answers["count_from_rollups"] == answers["count"], answers
        assert answers["top_citizens_from_rollups"] == answers["top_citizens"], answers
        emit(
            "archive_day_bytes",
            day_bytes,
            "bytes",
            per_report=round(day_bytes / args.reports_per_day, 1),
            reports=args.reports_per_day,
        )


if __name__ == "__main__":
    main()
