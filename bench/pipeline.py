"""Backbone benchmark: raw consume rate vs the alerts consumer, indexer throughput, consumer memory.

    python bench/pipeline.py [--reports 1000000] [--repeat 3]

Every figure is measured side by side in the same run, on the same broker and
topic; each is repeated and the median quoted (shared machines are noisy).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time

from common import ROOT, bench_env, emit, machine, median, preload, progress, run_consumer_process


async def raw_consume(count: int, group: str, max_records: int) -> float:
    """A bare aiokafka getmany loop that does nothing with the records.

    Same fetch settings and GC tuning as the runner, so the ratio measures
    what the consumer's own work costs, nothing else.
    """
    from aiokafka import AIOKafkaConsumer

    from ingest.runner import tune_gc
    from peacewatch import kafka

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
    await consumer.start()
    try:
        done = 0
        started = None
        while done < count:
            batch = await consumer.getmany(timeout_ms=200, max_records=max_records)
            n = sum(len(records) for records in batch.values())
            if n and started is None:
                started, first = time.perf_counter(), n
            done += n
        return (done - first) / (time.perf_counter() - started)
    finally:
        await consumer.stop()


def fresh_database(scratch, env, run: int) -> dict:
    run_env = {**env, "DATABASE_URL": f"sqlite:///{scratch}/alerts-{run}.sqlite3"}
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v", "0"], env=run_env, check=True)
    return run_env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = args.reports
    emit("machine", machine(), "info")
    with bench_env() as (scratch, env):
        from ingest.registry import KAFKA_CONSUMERS

        progress(f"preloading {n:,} simulated reports")
        seconds = asyncio.run(preload(n))
        emit("preload_produce_rate", round(n / seconds), "reports/s", note="one aiokafka producer, simulator included")

        raw, alerts, indexer = [], [], []
        for run in range(args.repeat):
            progress(f"run {run + 1}/{args.repeat}: raw getmany loop")
            raw.append(asyncio.run(raw_consume(n, f"bench-raw-{run}", KAFKA_CONSUMERS["alerts"].max_batch)))
            progress(f"run {run + 1}/{args.repeat}: alerts consumer")
            alerts_env = fresh_database(scratch, env, run)
            alerts.append(run_consumer_process("alerts", f"bench-alerts-{run}", n, scratch, alerts_env))
            progress(f"run {run + 1}/{args.repeat}: indexer consumer")
            index_env = {**env, "ANALYTICS_SQLITE_PATH": f"{scratch}/analytics-{run}.sqlite3"}
            indexer.append(run_consumer_process("indexer", f"bench-indexer-{run}", n, scratch, index_env))
            progress(
                f"run {run + 1}: raw {raw[-1]:,.0f}/s, alerts {alerts[-1]['rate']:,.0f}/s, "
                f"indexer {indexer[-1]['rate']:,.0f}/s"
            )

    ratios = [a["rate"] / r for a, r in zip(alerts, raw, strict=True)]
    emit("raw_consume_rate", round(median(raw)), "reports/s", runs=[round(r) for r in raw], reports=n)
    emit(
        "alerts_consumer_rate",
        round(median([a["rate"] for a in alerts])),
        "reports/s",
        runs=[round(a["rate"]) for a in alerts],
        reports=n,
    )
    emit("alerts_to_raw_ratio", round(median(ratios), 3), "ratio", runs=[round(r, 3) for r in ratios], target=">= 0.5")
    emit(
        "indexer_rate",
        round(median([i["rate"] for i in indexer])),
        "reports/s",
        runs=[round(i["rate"]) for i in indexer],
        reports=n,
        target=">= 4000 sustained over 1,000,000",
    )
    for name, results in (("alerts", alerts), ("indexer", indexer)):
        growth = [r["rss_end_mib"] / r["rss_at_20pct_mib"] for r in results]
        emit(
            f"{name}_rss",
            round(median([r["rss_peak_mib"] for r in results]), 1),
            "MiB peak",
            rss_at_20pct=[round(r["rss_at_20pct_mib"], 1) for r in results],
            rss_end=[round(r["rss_end_mib"], 1) for r in results],
            growth_end_vs_20pct=round(median(growth), 3),
            target="flat (growth ~1.0)",
        )


if __name__ == "__main__":
    main()
