"""Scale-out: a consumer's throughput with 1, 2 and 4 processes in one consumer group.

    python bench/scale_out.py [--reports 1000000] [--indexer-reports 200000] [--processes 1,2,4]
                              [--consumers alerts,indexer] [--repeat 3] [--engines embedded|real]

The capacity plan multiplies one process's rate by the number of processes;
this measures whether that holds here. For each consumer and each process
count, a new group of that many ``manage.py run_consumer`` processes (each its
own var directory, so each writes its own liveness file; the stores shared:
one alerts database, one embedded store or one index prefix) reads the same
preloaded topic, and the rate is the records they handled together while all
of them were busy (from the liveness files, sampled four times a second and
rewritten by each process once a second): after the last one's first batch,
before the first one ran out of records. The topic has the default 6
partitions: with 4 processes, two of them read two partitions each.

On a machine with fewer cores than processes the processes share the cores,
so the figure shows where this machine stops, not where the design does.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from common import (
    EMBEDDED_STORE,
    ROOT,
    bench_env,
    drop_indices,
    emit,
    machine,
    median,
    preload,
    progress,
    read_status,
    search_label,
)


def run_group(name: str, group: str, count: int, processes: int, scratch: Path, env: dict) -> dict:
    """``processes`` consumers of ``name`` in ``group`` until together they handled ``count`` records."""
    status_paths, children = [], []
    for i in range(processes):
        var = scratch / f"{group}-{i}"
        (var / "run").mkdir(parents=True, exist_ok=True)
        status_paths.append(var / "run" / f"consumer-{name}.json")
        children.append(
            subprocess.Popen(
                [sys.executable, str(ROOT / "manage.py"), "run_consumer", name, "--group-id", group],
                env={**env, "PEACEWATCH_VAR_DIR": str(var), "CONSUMER_INSTANCE_ID": ""},
                cwd=ROOT,
            )
        )
    deadline, last_report = time.monotonic() + 1800, 0
    samples: list[tuple[float, int]] = []  # (time, records the group handled), from the liveness files
    try:
        while True:
            statuses = [read_status(path) for path in status_paths]
            done = sum(status.get("consumed", 0) for status in statuses)
            samples.append((time.time(), done))
            if done >= count:
                break
            for child in children:
                if child.poll() is not None:
                    raise RuntimeError(f"a {name} consumer exited with {child.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{processes} {name} consumers handled {done}/{count}")
            if done - last_report >= count // 10:
                last_report = done
                progress(f"{name} x{processes}: {done:,}/{count:,} records")
            time.sleep(0.25)
        time.sleep(1.2)  # one more liveness beat, written after the last batch
        statuses = [read_status(path) for path in status_paths]
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(timeout=60)
    active = [status for status in statuses if status.get("first_batch_at")]
    # Measured while every process was busy: after the last one's first batch (the group has settled: a
    # process joining later makes the group stop for a rebalance) and before the first one ran out of records.
    start = max(status["first_batch_at"] for status in active)
    end = min(status["last_batch_at"] for status in active)
    window = [(at, done) for at, done in samples if start <= at <= end]
    # At least 2 s, and progress seen inside them (the liveness files are written once a second).
    if len(window) < 2 or window[-1][0] - window[0][0] < 2 or window[-1][1] == window[0][1]:
        raise RuntimeError(f"{processes} {name} consumers were busy together for too short a time: more --reports")
    (t0, done0), (t1, done1) = window[0], window[-1]
    return {
        "rate": (done1 - done0) / (t1 - t0),
        "seconds": round(t1 - t0, 1),
        "busy_processes": len(active),
        "per_process": [status.get("consumed", 0) for status in statuses],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=1_000_000, help="preloaded; each group reads up to this")
    parser.add_argument("--indexer-reports", type=int, default=200_000, help="the indexer, slower, stops there")
    parser.add_argument("--processes", default="1,2,4")
    parser.add_argument("--consumers", default="alerts,indexer")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--engines", choices=("embedded", "real"), default="embedded")
    args = parser.parse_args()
    from pipeline import fresh_database

    counts = [int(p) for p in args.processes.split(",")]
    real = args.engines == "real"
    with bench_env(args.engines, search=real) as (scratch, env):
        scratch = Path(scratch)
        emit("machine", {**machine(), "cpus": os.cpu_count()}, "info")
        from django.conf import settings

        search = search_label(env["ELASTICSEARCH_URL"]) if real else EMBEDDED_STORE
        prefix = settings.KAFKA_GROUP_PREFIX
        progress(f"preloading {args.reports:,} simulated reports")
        asyncio.run(preload(args.reports))
        for name in args.consumers.split(","):
            rates: dict[int, list[float]] = {p: [] for p in counts}
            for run in range(args.repeat):
                for processes in counts:
                    label = f"{name}-p{processes}-r{run}"
                    group = f"{prefix}-scale-{label}"
                    if name == "alerts":
                        run_env = fresh_database(scratch, env, label)
                    elif name == "indexer" and real:
                        run_env = {**env, "ELASTICSEARCH_INDEX_PREFIX": f"{env['ELASTICSEARCH_INDEX_PREFIX']}{label}"}
                    elif name == "indexer":
                        run_env = {**env, "ANALYTICS_SQLITE_PATH": str(scratch / f"analytics-{label}.sqlite3")}
                    else:
                        archive_url = str(scratch / f"archive-{label}")
                        run_env = {**env, "ARCHIVE_URL": archive_url, "ARCHIVE_FLUSH_SECONDS": "2"}
                    try:
                        count = min(args.reports, args.indexer_reports) if name == "indexer" else args.reports
                        result = run_group(name, group, count, processes, scratch, run_env)
                    finally:
                        if name == "indexer" and real:
                            drop_indices(env["ELASTICSEARCH_URL"], run_env["ELASTICSEARCH_INDEX_PREFIX"])
                    rates[processes].append(result["rate"])
                    progress(
                        f"run {run + 1}/{args.repeat}: {name} x{processes}: {result['rate']:,.0f} reports/s "
                        f"({result['busy_processes']} busy, per process {result['per_process']})"
                    )
            one = median(rates[counts[0]])
            for processes in counts:
                emit(
                    f"{name}_scale_out_{processes}_processes",
                    round(median(rates[processes])),
                    "reports/s",
                    runs=[round(rate) for rate in rates[processes]],
                    vs_one_process=round(median(rates[processes]) / one, 2),
                    reports=min(args.reports, args.indexer_reports) if name == "indexer" else args.reports,
                    cpus=os.cpu_count(),
                    **({"search": search} if name == "indexer" else {}),
                )


if __name__ == "__main__":
    main()
