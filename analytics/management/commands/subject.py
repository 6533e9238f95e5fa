"""`python manage.py subject report NAME_OR_ID --reason "..."`: everything held about one subject.

    subject report subj-77 --reason "SAR 2026-12" --output subj-77.json
    subject report "Jeanne Martin" --reason "oversight request OB-3" --since 2026-01-01

Writes JSON (alerts with their actions, sightings, every stored report that saw
the subject, and who looked them up); progress goes to standard error. The run
is recorded in the audit log with the reason (analytics/subject_report.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from analytics.management.commands.audit import _moment
from analytics.query import QueryError
from analytics.subject_report import subject_report


class Command(BaseCommand):
    help = "Report everything held about one subject (a recognition id or a name), for oversight."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        report = sub.add_parser("report", help="gather alerts, sightings, reports and accesses of one subject")
        report.add_argument("subject", help="the recognition system's id, or a name as reported")
        report.add_argument("--reason", required=True, help="why this report is made (kept in the audit log)")
        report.add_argument("--since", help="reports from this date (default and earliest: ten years back)")
        report.add_argument("--output", help="a file to write (default: standard output)")

    def handle(self, *args, action: str, subject: str, reason: str, **options):
        subject, reason = subject.strip(), " ".join(reason.split())
        if not subject:
            raise CommandError("give the subject's id or name")
        if len(reason) < 3:
            raise CommandError("--reason: say why, in 3 characters or more")
        since = _moment(options["since"], "since") if options.get("since") else None
        try:
            report = subject_report(
                subject, reason=reason, since=since, progress=lambda line: self.stderr.write(f"  {line}")
            )
        except QueryError as exc:
            raise CommandError(f"the stored reports could not be searched: {exc}") from exc
        text = json.dumps(report, ensure_ascii=False, indent=2)
        if options.get("output"):
            Path(options["output"]).write_text(text + "\n", encoding="utf-8")
        else:
            sys.stdout.write(text + "\n")
        counts = report["counts"]
        self.stderr.write(
            f"{subject}: {counts['alerts']} alerts, {counts['sightings']} sightings, {counts['reports']} reports, "
            f"{counts['accesses']} accesses recorded"
        )
