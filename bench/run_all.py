"""`make bench`: every benchmark, one JSON line per figure (progress on stderr).

    python bench/run_all.py [--quick]

``--quick`` runs smaller sizes once, to check the benchmarks work; the figures
in docs/BENCHMARKS.md come from the full run.
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
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    failed = 0
    for script, full, quick in BENCHMARKS:
        print(f"# {script}", file=sys.stderr, flush=True)
        result = subprocess.run([sys.executable, str(HERE / script), *(quick if args.quick else full)], cwd=HERE)
        failed += result.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
