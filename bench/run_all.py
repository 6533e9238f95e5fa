"""`make bench`: every benchmark, one JSON line per figure (progress on stderr).

    python bench/run_all.py [--quick] [--analytics-reports N] [--es-documents N]

``--quick`` runs smaller sizes once, to check the benchmarks work; the figures
in docs/BENCHMARKS.md come from the full run. The analytics query benchmark
builds its 5,000,000-report store once (10-30 minutes on 2 cores) under
var/bench/ and reuses it afterwards.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

BENCHMARKS = [
    ("pipeline.py", ["--reports", "1000000", "--repeat", "3"], ["--reports", "100000", "--repeat", "1"]),
    (
        "latency.py",
        ["--clients", "50", "--rates", "3900,7800", "--seconds", "45", "--repeat", "3"],
        ["--clients", "10", "--rates", "500", "--seconds", "10", "--repeat", "1"],
    ),
    (
        "fleet_ingest.py",
        ["--seconds", "20", "--repeat", "3", "--lag-seconds", "60"],
        ["--seconds", "5", "--repeat", "1", "--lag-seconds", "15"],
    ),
    (
        "analytics_query.py",
        ["--reports", "5000000", "--repeat", "30"],
        ["--reports", "50000", "--repeat", "5"],
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
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--analytics-reports", type=int, help="reports in the analytics store (default 5,000,000)")
    parser.add_argument("--es-documents", type=int, help="documents per Elasticsearch indexer run (default 20,000)")
    args = parser.parse_args()
    sizes = {
        "analytics_query.py": ("--reports", args.analytics_reports),
        "export_rows.py": ("--reports", args.analytics_reports),
        "es_indexer.py": ("--documents", args.es_documents),
    }
    failed = 0
    for script, full, quick in BENCHMARKS:
        print(f"# {script}", file=sys.stderr, flush=True)
        options = list(quick if args.quick else full)
        option, size = sizes.get(script, (None, None))
        if size is not None:
            options[options.index(option) + 1] = str(size)
        result = subprocess.run([sys.executable, str(HERE / script), *options], cwd=HERE)
        failed += result.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
