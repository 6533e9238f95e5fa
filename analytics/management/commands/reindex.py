"""`python manage.py reindex`: rebuild the analytics engine, with progress.

    reindex --from-store [--source-path FILE | --source-url URL] [--since TIME]
    reindex --from-topic --since TIME            # replay peacewatch.reports
    reindex --from-topic --resume                # carry on an interrupted replay
    reindex --from-archive --since TIME --until TIME [--resume]   # any period, from the Parquet archive

The target is the engine the settings select (Elasticsearch when
ELASTICSEARCH_URL is set, else the embedded store); ``--target-prefix``
writes Elasticsearch indices under another prefix (a new mapping, built
beside the old one, then switched to by changing ELASTICSEARCH_INDEX_PREFIX).
TIME is RFC 3339 (2026-11-28T00:00:00Z) or relative (15m, 24h, 7d).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from analytics import reindex
from analytics.query import relative_ms
from analytics.store import open_elastic, open_store


def parse_since(value: str | None, *, now: datetime | None = None, flag: str = "--since") -> int | None:
    if not value:
        return None
    now = now or datetime.now(tz=UTC)
    span = relative_ms(value)  # the same "15m / 24h / 7d" as the analysts' queries
    if span is not None:
        return int(now.timestamp() * 1000) - span
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CommandError(f"{flag} {value!r}: expected RFC 3339 (2026-11-28T00:00:00Z) or 15m, 24h, 7d") from None
    if when.tzinfo is None:
        raise CommandError(f"{flag} {value!r}: give a UTC offset, such as Z")
    return int(when.timestamp() * 1000)


class Command(BaseCommand):
    help = "Rebuild the analytics engine from the other store or by replaying the reports topic."

    def add_arguments(self, parser):
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--from-store", action="store_true", help="copy from the other engine")
        source.add_argument("--from-topic", action="store_true", help="replay peacewatch.reports")
        source.add_argument("--from-archive", action="store_true", help="rebuild a period from the Parquet archive")
        parser.add_argument("--since", help="only reports from this time on (RFC 3339, or 15m / 24h / 7d)")
        parser.add_argument("--until", help="with --from-archive: reports that arrived before this time")
        parser.add_argument("--source-path", help="embedded store file to copy from (default ANALYTICS_SQLITE_PATH)")
        parser.add_argument("--source-url", help="Elasticsearch/OpenSearch URL to copy from into the embedded store")
        parser.add_argument("--target-prefix", help="write Elasticsearch indices under this prefix instead")
        parser.add_argument("--group-id", default="peacewatch-reindex", help="consumer group of a topic replay")
        parser.add_argument(
            "--resume", action="store_true", help="carry on an interrupted replay (topic) or rebuild (archive)"
        )

    def handle(self, *args, **o):
        since_ms = parse_since(o["since"])
        if o["from_topic"] and since_ms is None and not o["resume"]:
            raise CommandError("--from-topic needs --since TIME (or --resume to carry on a replay)")
        target = self._target(o)
        self.stdout.write(f"reindex into {target.name}" + (f" from {o['since']}" if o["since"] else ""))

        def report(progress: reindex.Progress) -> None:
            self.stdout.write(f"  {progress.line()}")
            self.stdout.flush()

        if o["from_archive"]:
            result = self._from_archive(o, since_ms, target, report)
        elif o["from_store"]:
            source = self._source(o, target)
            self.stdout.write(f"copying from {source.name}")
            result = reindex.from_store(source, target, since_ms=since_ms, report=report)
            source.close()
        else:
            result = asyncio.run(
                reindex.from_topic(target, since_ms=since_ms, group_id=o["group_id"], resume=o["resume"], report=report)
            )
        target.close()
        self.stdout.write(self.style.SUCCESS(f"done: {result.line()}"))

    def _from_archive(self, o, since_ms, target, report):
        from analytics.archive.storage import get_archive

        until_ms = (
            parse_since(o["until"], flag="--until") if o["until"] else int(datetime.now(tz=UTC).timestamp() * 1000)
        )
        if since_ms is None:
            raise CommandError("--from-archive needs --since TIME (and --until TIME, default now)")
        if until_ms <= since_ms:
            raise CommandError("--until must be after --since")
        archive = get_archive()
        self.stdout.write(f"from the archive at {archive.url}, reports that arrived before {o['until'] or 'now'}")
        try:
            return reindex.from_archive(
                archive,
                target,
                since_ms=since_ms,
                until_ms=until_ms,
                state_path=settings.VAR_DIR / "run" / "reindex-from-archive.json",
                resume=o["resume"],
                report=report,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None

    def _target(self, o):
        if o["target_prefix"]:
            if not settings.ELASTICSEARCH_URL:
                raise CommandError("--target-prefix needs ELASTICSEARCH_URL")
            return open_elastic(settings.ELASTICSEARCH_URL, prefix=o["target_prefix"])
        return open_store()

    def _source(self, o, target):
        from analytics.store.embedded import EmbeddedStore

        if target.name == "embedded":
            if not o["source_url"]:
                raise CommandError("the embedded store is the target: give --source-url of the engine to copy from")
            return open_elastic(o["source_url"])
        path = o["source_path"] or settings.ANALYTICS_SQLITE_PATH
        return EmbeddedStore(path)
