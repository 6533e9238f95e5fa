"""Backbone benchmark: raw consume rate vs the alerts consumer, indexer throughput, consumer memory.

    python bench/pipeline.py [--reports 1000000] [--repeat 3] [--engines embedded|real]

Every figure is measured side by side in the same run, on the same broker and
topic; each is repeated and the median quoted (shared machines are noisy).
Three child processes read the whole topic, each with a new consumer group,
and are measured the same way (their liveness files, RSS from /proc):

- **raw**: ``pipeline.py --raw-only``, a bare aiokafka ``getmany`` loop that
  does nothing with the records (same fetch settings and GC tuning as the runner);
- **alerts**: ``manage.py run_consumer alerts`` on a fresh SQLite database;
- **indexer**: ``manage.py run_consumer indexer``, into a fresh embedded store
  (``--engines embedded``) or a fresh index prefix on the OpenSearch node of
  ``make engines`` (``--engines real``);
- **archive**: ``manage.py run_consumer archive`` into a fresh local archive
  directory; its Parquet bytes are compared with the raw JSON of the same reports.

``--engines real`` runs on the 3-broker Apache Kafka cluster of ``make engines``
(topics and groups of the run's own, idempotent producers, RF 3, min ISR 2).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import subprocess
import sys
import time

from common import (
    EMBEDDED_STORE,
    ROOT,
    bench_env,
    django_setup,
    drop_indices,
    emit,
    emit_median,
    machine,
    median,
    preload,
    progress,
    run_consumer_process,
    search_label,
)


async def raw_consume(group: str, max_records: int) -> None:
    """A bare aiokafka getmany loop that does nothing with the records, until SIGTERM.

    Same fetch settings and GC tuning as the runner, so the ratio measures
    what the consumer's own work costs, nothing else. Writes the runner's
    liveness file (``consumer-raw.json``) with the same counters, at most once
    a second, so the parent measures it exactly as it measures the consumers.
    """
    from aiokafka import AIOKafkaConsumer

    from peacewatch.streams import kafka
    from peacewatch.streams.runner import Liveness, tune_gc

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    liveness = Liveness("raw")
    tune_gc()
    consumer = AIOKafkaConsumer(
        kafka.topic("reports"),
        **kafka.consumer_kwargs(),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=max_records,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    stats = {"consumed": 0, "first_batch_records": 0, "first_batch_at": None, "last_batch_at": None}
    await consumer.start()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=200, max_records=max_records)
            n = sum(len(records) for records in batch.values())
            if n:
                now = time.time()
                if stats["first_batch_at"] is None:
                    stats["first_batch_at"], stats["first_batch_records"] = now, n
                stats["last_batch_at"] = now
                stats["consumed"] += n
            if liveness.due():
                liveness.beat({"state": "running", **stats})
    finally:
        liveness.beat({"state": "stopped", **stats})
        await consumer.stop()


def archive_size(url: str) -> tuple[int, int, int]:
    """(Parquet bytes of the archive's report files, bytes of the raw JSON they hold, and how many of the
    Parquet bytes are the compressed ``raw`` column, the original bytes kept beside the decoded columns)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from analytics.archive.storage import ArchiveStorage

    archive = ArchiveStorage(url)
    files = archive.files("reports")
    parquet = sum(archive.fs.get_file_info(path).size for path in files)
    raw_column = 0
    for path in files:
        with archive.fs.open_input_file(path) as source:
            metadata = pq.ParquetFile(source).metadata
        for group in range(metadata.num_row_groups):
            row_group = metadata.row_group(group)
            raw_column += sum(
                row_group.column(c).total_compressed_size
                for c in range(row_group.num_columns)
                if row_group.column(c).path_in_schema == "raw"
            )
    raw = archive.dataset("reports").to_table(columns=["raw"]).column("raw")
    return parquet, pc.sum(pc.binary_length(raw)).as_py(), raw_column


def fresh_database(scratch, env, run: int) -> dict:
    run_env = {**env, "DATABASE_URL": f"sqlite:///{scratch}/alerts-{run}.sqlite3"}
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v", "0"], env=run_env, check=True)
    return run_env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--engines", choices=("embedded", "real"), default="embedded")
    parser.add_argument(
        "--consumers",
        default="alerts,indexer,archive",
        help="which consumers to measure beside the bare loop (comma-separated; default all three)",
    )
    parser.add_argument("--raw-only", action="store_true", help="child process: the bare getmany loop alone")
    parser.add_argument("--group", help="with --raw-only: the consumer group")
    parser.add_argument("--max-records", type=int, help="with --raw-only: records per getmany")
    args = parser.parse_args()
    if args.raw_only:
        django_setup()
        asyncio.run(raw_consume(args.group, args.max_records))
        return
    n = args.reports
    real = args.engines == "real"
    with bench_env(args.engines, search=real) as (scratch, env):
        emit("machine", machine(), "info")
        from django.conf import settings

        from peacewatch.consumers import KAFKA_CONSUMERS

        search = search_label(env["ELASTICSEARCH_URL"]) if real else EMBEDDED_STORE
        prefix = settings.KAFKA_GROUP_PREFIX
        max_records = KAFKA_CONSUMERS["alerts"].max_batch
        progress(f"preloading {n:,} simulated reports")
        seconds = asyncio.run(preload(n))
        emit("preload_produce_rate", round(n / seconds), "reports/s", note="one aiokafka producer, simulator included")

        raw, alerts, indexer, archive, archive_bytes = [], [], [], [], []
        wanted = set(args.consumers.split(","))
        for run in range(args.repeat):
            progress(f"run {run + 1}/{args.repeat}: raw getmany loop (own process)")
            group = f"{prefix}-bench-raw-{run}"
            raw_argv = [sys.executable, __file__, "--raw-only", "--group", group, "--max-records", str(max_records)]
            raw.append(run_consumer_process("raw", group, n, scratch, env, argv=raw_argv))
            line = f"run {run + 1}: raw {raw[-1]['rate']:,.0f}/s"
            if "alerts" in wanted:
                progress(f"run {run + 1}/{args.repeat}: alerts consumer")
                alerts_env = fresh_database(scratch, env, run)
                alerts.append(run_consumer_process("alerts", f"{prefix}-bench-alerts-{run}", n, scratch, alerts_env))
                line += f", alerts {alerts[-1]['rate']:,.0f}/s"
            if "indexer" in wanted:
                progress(f"run {run + 1}/{args.repeat}: indexer consumer into {search}")
                if real:
                    index_env = {**env, "ELASTICSEARCH_INDEX_PREFIX": f"{env['ELASTICSEARCH_INDEX_PREFIX']}r{run}"}
                else:
                    index_env = {**env, "ANALYTICS_SQLITE_PATH": f"{scratch}/analytics-{run}.sqlite3"}
                try:
                    indexer.append(
                        run_consumer_process("indexer", f"{prefix}-bench-indexer-{run}", n, scratch, index_env, 1800)
                    )
                finally:
                    if real:  # free the node's disk between runs
                        drop_indices(env["ELASTICSEARCH_URL"], index_env["ELASTICSEARCH_INDEX_PREFIX"])
                line += f", indexer {indexer[-1]['rate']:,.0f}/s"
            if "archive" in wanted:
                progress(f"run {run + 1}/{args.repeat}: archive consumer into a local directory")
                # A short flush bound: catching up, batches fill to 100,000 records at once, and
                # only the topic's last partial batch waits (half the bound) before it is written.
                archive_env = {**env, "ARCHIVE_URL": f"{scratch}/archive-{run}", "ARCHIVE_FLUSH_SECONDS": "2"}
                archive.append(
                    run_consumer_process("archive", f"{prefix}-bench-archive-{run}", n, scratch, archive_env, 1800)
                )
                archive_bytes.append(archive_size(archive_env["ARCHIVE_URL"]))
                shutil.rmtree(archive_env["ARCHIVE_URL"], ignore_errors=True)
                line += f", archive {archive[-1]['rate']:,.0f}/s"
            progress(line)

    emit_figures(n, search, raw, alerts, indexer, archive, archive_bytes)


def emit_figures(n, search, raw, alerts, indexer, archive, archive_bytes) -> None:
    measured = {"raw": raw, "alerts": alerts, "indexer": indexer, "archive": archive}
    rates = {name: [r["rate"] for r in results] for name, results in measured.items()}
    bare = "bare aiokafka getmany loop in its own process"
    emit_median("raw_consume_rate", rates["raw"], "reports/s", reports=n, note=bare)
    if alerts:
        emit_median("alerts_consumer_rate", rates["alerts"], "reports/s", reports=n)
        emit_ratio("alerts_to_raw_ratio", rates["alerts"], rates["raw"])
    if indexer:
        target = ">= 4000 sustained over 1,000,000"
        emit_median("indexer_rate", rates["indexer"], "reports/s", reports=n, search=search, target=target)
    if archive:
        emit_median(
            "archive_consumer_rate",
            rates["archive"],
            "reports/s",
            reports=n,
            note="zstd Parquet into a local directory, batches of up to 100,000",
        )
        emit_ratio("archive_to_raw_ratio", rates["archive"], rates["raw"])
        # The files whole, then split in two: the original bytes (CONTRACT section 7 keeps them) and the decoded
        # columns, each against the JSON. Each part holds the whole report's information once.
        jsons = [json for _, json, _ in archive_bytes]
        parts = {  # figure: (bytes of that part per run, name of its bytes-per-report field, further fields)
            "archive_bytes_vs_json": (
                [parquet for parquet, _, _ in archive_bytes],
                "parquet_bytes_per_report",
                {"target": "<= 0.2"},
            ),
            "archive_raw_column_vs_json": ([raw for _, _, raw in archive_bytes], "bytes_per_report", {}),
            "archive_decoded_columns_vs_json": (
                [parquet - raw for parquet, _, raw in archive_bytes],
                "bytes_per_report",
                {"note": "every column but raw, Parquet footers included"},
            ),
        }
        for figure, (sizes, bytes_field, extra) in parts.items():
            emit_median(
                figure,
                [size / json for size, json in zip(sizes, jsons, strict=True)],
                "ratio",
                digits=3,
                json_bytes_per_report=round(median(jsons) / n, 1),
                **{bytes_field: round(median(sizes) / n, 1)},
                **extra,
            )
    for name, results in measured.items():
        if not results:
            continue
        growth = [r["rss_end_mib"] / r["rss_at_20pct_mib"] for r in results]
        emit(
            f"{name}_rss",
            round(median([r["rss_peak_mib"] for r in results]), 1),
            "MiB peak",
            rss_at_20pct=[round(r["rss_at_20pct_mib"], 1) for r in results],
            rss_end=[round(r["rss_end_mib"], 1) for r in results],
            growth_end_vs_20pct=round(median(growth), 3),
            target="flat (growth ~1.0)",
            **({"search": search} if name == "indexer" else {}),
        )


def emit_ratio(figure: str, consumer: list[float], baseline: list[float]) -> None:
    """Each run's consumer rate over the baseline's of the same run, against the issue's 0.5."""
    ratios = [c / b for c, b in zip(consumer, baseline, strict=True)]
    emit_median(figure, ratios, "ratio", digits=3, target=">= 0.5")


if __name__ == "__main__":
    main()
