"""A CSV and an NDJSON export of 1,000,000 reports: rows/s and memory over the run.

Exports must stream "millions of rows" in constant memory (issue 4, point 5).
This runs the export service exactly as the Celery task does
(``analytics.exports.run_export``: count, then page through every hit into a
file) over the store ``analytics_query.py`` builds (5,000,000 reports over
one day; built first if missing), with a query for the first N reports' time
span, in a child process whose RSS is sampled from /proc every 0.25 s.

    cd bench && python export_rows.py [--rows 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from analytics_query import DATA_DIR, load
from common import EMBEDDED_STORE, ROOT, emit, machine, median, progress, set_labels

CHILD = r"""
import json, os, sys, time
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.contrib.auth import get_user_model
from analytics import exports
user = get_user_model().objects.create_user("bench-analyst")
export = exports.create_export(user, query=json.loads(sys.argv[1]), format=sys.argv[2])
print("START", flush=True)
started = time.perf_counter()
done = exports.run_export(export.pk)
seconds = time.perf_counter() - started
print(json.dumps({"status": done.status, "rows": done.rows_written, "total": done.total,
                  "seconds": seconds, "bytes": os.path.getsize(done.file_path) if done.file_path else 0,
                  "error": done.error}))
"""


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def one_export(store: Path, query: dict, fmt: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="pw-export-") as scratch:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "peacewatch.settings",
            "PEACEWATCH_VAR_DIR": scratch,
            "ANALYTICS_SQLITE_PATH": str(store),
            "DATABASE_URL": f"sqlite:///{scratch}/db.sqlite3",
            "LOG_LEVEL": "WARNING",
        }
        env.pop("ELASTICSEARCH_URL", None)
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, json.dumps(query), fmt],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        samples: list[tuple[float, float]] = []
        # Sampled from the moment the export starts (after Django set-up and migrations).
        assert child.stdout.readline().strip() == "START"

        def sample() -> None:
            started = time.monotonic()
            while child.poll() is None:
                value = rss_mib(child.pid)
                if value is not None:
                    samples.append((time.monotonic() - started, value))
                time.sleep(0.25)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        out, _ = child.communicate()
        sampler.join()
        result = json.loads(out.strip().splitlines()[-1])
        if result["status"] != "done":
            raise SystemExit(f"export failed: {result['error']}")
        # Memory once the export is under way (after start-up and the first pages) vs at the end.
        span = samples[-1][0] if samples else 0
        at_20 = next((v for t, v in samples if t >= span * 0.2), None)
        result.update(rss_peak=max(v for _, v in samples), rss_at_20pct=at_20, rss_end=samples[-1][1])
        return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reports", type=int, default=5_000_000, help="size of the store to export from")
    args = parser.parse_args()
    set_labels(search=EMBEDDED_STORE)  # every figure line names its store
    emit("machine", machine(), "info")
    store = load(DATA_DIR, args.reports, 3500, 4)
    meta = json.loads(store.with_suffix(".json").read_text())
    # The store spreads its reports evenly over one day: the first N reports are the first N/total of it.
    start = meta["day_start"].replace("+00:00", "Z")
    span_ms = round(86_400_000 * args.rows / meta["reports"])
    from datetime import datetime, timedelta

    end = datetime.fromisoformat(meta["day_start"]) + timedelta(milliseconds=span_ms)
    query = {"time": {"from": start, "to": end.isoformat().replace("+00:00", "Z")}, "sort": "oldest"}
    for fmt in ("csv", "ndjson"):
        runs = []
        for i in range(args.repeat):
            progress(f"{fmt} export {i + 1}/{args.repeat}")
            result = one_export(store, query, fmt)
            rate = result["rows"] / result["seconds"]
            growth = result["rss_end"] / result["rss_at_20pct"] if result["rss_at_20pct"] else None
            progress(
                f"{fmt}: {result['rows']:,} rows in {result['seconds']:.1f} s = {rate:,.0f} rows/s, "
                f"{result['bytes'] / 1e6:,.0f} MB, RSS peak {result['rss_peak']:.0f} MiB, end/20% {growth:.3f}"
            )
            runs.append({**result, "rate": rate, "growth": growth})
        emit(
            f"export_{fmt}_rate",
            round(median([r["rate"] for r in runs])),
            "rows/s",
            runs=[round(r["rate"]) for r in runs],
            rows=runs[0]["rows"],
            bytes=runs[0]["bytes"],
        )
        emit(
            f"export_{fmt}_rss",
            round(median([r["rss_peak"] for r in runs]), 1),
            "MiB peak",
            growth_end_vs_20pct=[round(r["growth"], 3) for r in runs],
            target="flat (growth ~1.0)",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
