"""`python manage.py audit verify` and `audit export --since ...`: the audit log for oversight.

    audit verify                          walk the hash chain; exit status 1 and each break named if it does not hold
    audit export --since 2026-11-01       the entries since then (UTC), one JSON object per line, to stdout
    audit export --since 2026-11-01T08:00Z --until 2026-11-02 --output nov.ndjson

Each exported line is an entry's hashed fields plus its ``hash``: anyone can
recompute SHA-256 over the line without ``hash`` (compact JSON, keys sorted)
and check each ``prev_hash`` against the line before (docs/OPERATIONS.md).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_date, parse_datetime

from analytics import audit


def _moment(text: str, name: str) -> datetime:
    value = parse_datetime(text.replace("Z", "+00:00"))
    if value is None and (day := parse_date(text)) is not None:
        value = datetime(day.year, day.month, day.day)
    if value is None:
        raise CommandError(f"--{name} {text!r} is not a date or a date and time (ISO 8601)")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = "Verify the audit log's hash chain, or export entries as NDJSON for an oversight body."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("verify", help="find any edited, inserted or deleted entry")
        export = sub.add_parser("export", help="entries since a date, one JSON object per line")
        export.add_argument("--since", required=True, help="ISO date or date and time, UTC unless it says")
        export.add_argument("--until", help="exclusive end, same form")
        export.add_argument("--output", help="a file to write (default: standard output)")

    def handle(self, *args, action: str, **options):
        if action == "verify":
            self._verify()
        else:
            self._export(options)

    def _verify(self) -> None:
        result = audit.verify(progress=lambda n: self.stderr.write(f"  {n:,} entries checked"))
        for problem in result.breaks:
            self.stdout.write(f"BROKEN {problem}")
        summary = f"{result.checked:,} entries checked; head at entry {result.head_seq}, hash {result.head_hash}"
        if not result.intact:
            raise CommandError(f"the audit log does not hold: {len(result.breaks)} break(s). {summary}")
        self.stdout.write(f"intact: {summary}")

    def _export(self, options) -> None:
        since = _moment(options["since"], "since")
        until = _moment(options["until"], "until") if options.get("until") else None
        path = Path(options["output"]) if options.get("output") else None
        out = path.open("w", encoding="utf-8") if path else sys.stdout
        written = 0
        try:
            for line in audit.export_lines(since, until):
                out.write(line + "\n")
                written += 1
                if written % 10_000 == 0:
                    self.stderr.write(f"  {written:,} entries written")
        finally:
            if path:
                out.close()
        self.stderr.write(f"{written:,} entries exported" + (f" to {path}" if path else ""))
