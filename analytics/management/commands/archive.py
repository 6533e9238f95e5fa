"""`python manage.py archive sql "SELECT ..."`: read-only SQL over the archive (CONTRACT section 7).

`python manage.py archive compact` merges the small files of closed directories, then writes the
rollups of the closed hours that lack matching ones (the hourly Celery task
``analytics.compact_archive`` does the same). `python manage.py archive rollup [--since D --until D]`
writes only the missing rollups (a backfill, one line per hour written).

    archive sql "SELECT date, count(*) FROM reports GROUP BY date ORDER BY date"
    archive sql --format json "SELECT * FROM deadletter WHERE error = 'schema' LIMIT 10"

The views are ``reports`` and ``deadletter`` (columns as in CONTRACT section 7,
plus the Hive keys ``date`` and, for reports, ``hour``), and the hourly sums
``citizen_hours`` and ``report_hours`` (exact: rolled-up hours from their
rollups, the others from their rows). Output is CSV with a
header (``--format csv``, the default) or one JSON object per line; binary
columns (``raw``) are written as base64 in JSON and hex in CSV.
"""

from __future__ import annotations

import base64
import csv
import json
from datetime import date, datetime

from django.core.management.base import BaseCommand, CommandError

from analytics.archive import compact, rollup, sql
from analytics.archive.storage import get_archive


def _json_value(value):
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return value


def _csv_value(value):
    if isinstance(value, bytes | bytearray):
        return value.hex()
    if isinstance(value, list | dict):
        return json.dumps(_json_value(value), ensure_ascii=False)
    return value


class Command(BaseCommand):
    help = "Read-only SQL over the Parquet archive (views: reports, deadletter, citizen_hours, report_hours)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        query = sub.add_parser("sql", help="run one read-only query")
        query.add_argument("query", help='for example "SELECT count(*) FROM reports"')
        query.add_argument("--format", choices=("csv", "json"), default="csv")
        sub.add_parser("compact", help="merge the small files of closed directories (what the hourly task does)")
        backfill = sub.add_parser("rollup", help="write the missing rollups of closed hours")
        backfill.add_argument("--since", help="first date, YYYY-MM-DD (default: the oldest)")
        backfill.add_argument("--until", help="last date, YYYY-MM-DD (default: the newest)")

    def handle(self, *args, action: str, **options):
        if action == "compact":
            result = compact.compact(get_archive(), progress=lambda line: self.stdout.write(f"  {line}"))
            self.stdout.write(
                f"done: {result.directories} closed directories, {result.merged} files written, "
                f"{result.replaced} small files replaced; {result.rollups.written} hours rolled up"
            )
            return
        if action == "rollup":
            dates = None
            if options["since"] or options["until"]:
                dates = (options["since"] or "0000-00-00", options["until"] or "9999-99-99")
            result = rollup.build(get_archive(), dates=dates, progress=lambda line: self.stdout.write(f"  {line}"))
            self.stdout.write(
                f"done: {result.hours} closed hours, {result.written} rolled up, {result.replaced} stale deleted"
            )
            return
        self._sql(options["query"], options["format"])

    def _sql(self, query: str, format: str) -> None:
        try:
            columns, rows = sql.run(get_archive(), query)
            out = self.stdout
            if format == "json":
                for row in rows:
                    out.write(json.dumps({c: _json_value(v) for c, v in zip(columns, row, strict=True)}))
            else:
                writer = csv.writer(out, lineterminator="\n")
                writer.writerow(columns)
                for row in rows:
                    writer.writerow([_csv_value(v) for v in row])
        except sql.ArchiveQueryError as exc:
            raise CommandError(f"archive sql: {exc}") from None
