"""`make bench`: every benchmark, one JSON line per figure (progress on stderr).

    python bench/run_all.py [--quick] [--engines auto|embedded|real] [--analytics-reports N]
                            [--es-documents N] [--es-real-documents N]

``--quick`` runs smaller sizes once, to check the benchmarks work; the figures
in docs/BENCHMARKS.md come from the full run. The analytics query benchmark
builds its 5,000,000-report store once (10-30 minutes on 2 cores) under
var/bench/ and reuses it afterwards.

Every benchmark runs on the embedded engines (a Tansu broker of its own, the
embedded store, osmem-server as the OpenSearch stand-in). When the real engines
of ``make engines`` are up (var/engines/env exists and the brokers and
OpenSearch answer), the real-engine variants run after them in the same run:
pipeline and latency on the 3-broker Apache Kafka cluster, the Elasticsearch
indexer against the OpenSearch node. ``--engines embedded`` skips them,
``--engines real`` runs only them (and fails when the engines are down).
Every figure line names the engines it ran on (``engine``, ``search``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from common import ENGINES_ENV, read_engines_env, real_engines_up

HERE = Path(__file__).resolve().parent

BENCHMARKS = [
    ("pipeline.py", ["--reports", "1000000", "--repeat", "3"], ["--reports", "100000", "--repeat", "1"]),
    (
        "latency.py",
        ["--clients", "50", "--rates", "3900,7800", "--seconds", "45", "--repeat", "3"],
        ["--clients", "10", "--rates", "500", "--seconds", "10", "--repeat", "1"],
    ),
    (
        "latency.py",
        "--clients 10 --rates 2000 --seconds 60 --kill-alerts-every 10 --inject-per-s 20 --repeat 3".split(),
        "--clients 5 --rates 500 --seconds 12 --kill-alerts-every 5 --inject-per-s 10 --repeat 1".split(),
    ),
    (
        "fleet_ingest.py",
        ["--seconds", "20", "--repeat", "3", "--lag-seconds", "60"],
        "--seconds 5 --repeat 1 --lag-seconds 15 --single-pool 2000 --batch-pool 50".split(),
    ),
    (
        "analytics_query.py",
        ["--reports", "5000000", "--queries", "120", "--repeat", "3"],
        ["--reports", "50000", "--queries", "30", "--repeat", "1"],
    ),
    (
        "export_rows.py",
        ["--rows", "1000000", "--repeat", "3", "--reports", "5000000"],
        ["--rows", "20000", "--repeat", "1", "--reports", "50000"],
    ),
    (
        "es_indexer.py",
        ["--documents", "20000", "--repeat", "5"],
        ["--documents", "5000", "--repeat", "1"],
    ),
    (
        "archive_query.py",
        ["--reports-per-day", "5000000", "--days", "30", "--repeat", "3"],
        ["--reports-per-day", "20000", "--days", "3", "--repeat", "1"],
    ),
    (
        "scale_out.py",
        ["--reports", "1000000", "--indexer-reports", "200000", "--repeat", "3"],
        # Enough reports that one alerts process stays busy the 2 s scale_out.py measures over.
        ["--reports", "600000", "--indexer-reports", "20000", "--processes", "1,2", "--repeat", "1"],
    ),
]

# On the engines of `make engines`; "{url}" is its OpenSearch node.
REAL_BENCHMARKS = [
    (
        "pipeline.py",
        ["--engines", "real", "--reports", "1000000", "--repeat", "3"],
        ["--engines", "real", "--reports", "20000", "--repeat", "1"],
    ),
    (
        "latency.py",
        ["--engines", "real", "--clients", "50", "--rates", "3900", "--seconds", "45", "--repeat", "3"],
        ["--engines", "real", "--clients", "5", "--rates", "500", "--seconds", "8", "--repeat", "1"],
    ),
    (
        "latency.py",
        "--engines real --clients 10 --rates 2000 --seconds 60 --kill-alerts-every 10 --inject-per-s 20"
        " --repeat 3".split(),
        "--engines real --clients 5 --rates 500 --seconds 12 --kill-alerts-every 5 --inject-per-s 10".split(),
    ),
    (
        "latency.py",
        "--engines real --clients 10 --rates 2000 --seconds 60 --kill-alerts-every 10 --inject-per-s 20"
        " --repeat 3 --kill-target process".split(),
        "--engines real --clients 5 --rates 500 --seconds 12 --kill-alerts-every 5 --inject-per-s 10"
        " --kill-target process".split(),
    ),
    (
        "es_indexer.py",
        ["--url", "{url}", "--documents", "200000", "--repeat", "5"],
        ["--url", "{url}", "--documents", "5000", "--repeat", "1"],
    ),
    (
        "analytics_query.py",
        ["--engines", "real", "--reports", "1000000", "--queries", "120", "--repeat", "3"],
        ["--engines", "real", "--reports", "20000", "--queries", "20", "--repeat", "1"],
    ),
    (
        # The index tier's bytes per report for the cost plan, also force-merged as an operator's policy can.
        "analytics_query.py",
        ["--engines", "real", "--reports", "1000000", "--size-only"],
        ["--engines", "real", "--reports", "20000", "--size-only"],
    ),
    (
        # The production profile when DATABASE_URL (PostgreSQL) and REDIS_URL are exported.
        "fleet_ingest.py",
        ["--engines", "real", "--seconds", "20", "--repeat", "3", "--lag-seconds", "60"],
        "--engines real --seconds 5 --repeat 1 --lag-seconds 15 --single-pool 2000 --batch-pool 50".split(),
    ),
    (
        "scale_out.py",
        ["--engines", "real", "--reports", "1000000", "--indexer-reports", "100000", "--repeat", "3"],
        # Twice the embedded quick size: on the real cluster the second process joins through a rebalance, which
        # left the two busy together for under the 2 s measured at 600,000 in a quick run of 2026-11-30.
        "--engines real --reports 1200000 --indexer-reports 40000 --processes 1,2 --repeat 1".split(),
    ),
]


def run(script: str, options: list[str], sizes: dict, label: str = "") -> bool:
    print(f"# {script}{label}", file=sys.stderr, flush=True)
    option, size = sizes.get(script, (None, None))
    if size is not None:
        options[options.index(option) + 1] = str(size)
    return subprocess.run([sys.executable, str(HERE / script), *options], cwd=HERE).returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--engines",
        choices=("auto", "embedded", "real"),
        default="auto",
        help="auto: embedded, then the real engines when they are up (default)",
    )
    parser.add_argument("--analytics-reports", type=int, help="reports in the analytics store (default 5,000,000)")
    parser.add_argument("--es-documents", type=int, help="documents per indexer run on the stand-in (default 20,000)")
    parser.add_argument("--es-real-documents", type=int, help="documents per indexer run on OpenSearch (200,000)")
    args = parser.parse_args()
    sizes = {
        "analytics_query.py": ("--reports", args.analytics_reports),
        "export_rows.py": ("--reports", args.analytics_reports),
        "es_indexer.py": ("--documents", args.es_documents),
    }
    failed = 0
    if args.engines != "real":
        for script, full, quick in BENCHMARKS:
            failed += not run(script, list(quick if args.quick else full), sizes)
    if args.engines == "embedded":
        return 1 if failed else 0
    why_not = real_engines_up()
    if why_not is not None:
        print(
            f"# NOTE: real engines not up ({why_not}); `make engines` to include real-engine figures",
            file=sys.stderr,
            flush=True,
        )
        return 1 if failed or args.engines == "real" else 0
    url = read_engines_env(ENGINES_ENV)["ELASTICSEARCH_URL"]
    sizes["es_indexer.py"] = ("--documents", args.es_real_documents)
    sizes.pop("analytics_query.py", None)  # OpenSearch is loaded with its own, smaller size (see REAL_BENCHMARKS)
    for script, full, quick in REAL_BENCHMARKS:
        options = [url if o == "{url}" else o for o in (quick if args.quick else full)]
        failed += not run(script, options, sizes, " (real engines)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
