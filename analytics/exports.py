"""Exports: every report matching a query, written to a CSV or NDJSON file by a Celery worker.

:func:`create_export` records the request (queued); the worker's task calls
:func:`run_export`, which counts the matches for the progress bar, streams the
hits page by page into a temporary file (constant memory, whatever the size),
saves progress every few thousand rows or every second, and renames the file
into place only once it is complete, so a ``done`` export always has a whole
file and a failed one none. :func:`prune_exports` deletes old ones.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

import msgspec
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from analytics import audit, search
from analytics.models import Export, normalized_query
from analytics.query import parse_query
from peacewatch.logs import log

logger = logging.getLogger(__name__)

CSV_COLUMNS = ("report_id", "observed_at", "drone_id", "lat", "lon", "citizens", "words", "alert")
CONTENT_TYPES = {Export.Format.CSV: "text/csv", Export.Format.NDJSON: "application/x-ndjson"}
# One solo worker runs exports one after another; this stops a single analyst
# from queueing enough of them to starve everyone else.
MAX_ACTIVE_PER_USER = 3
PROGRESS_EVERY_ROWS = 2000
PROGRESS_EVERY_S = 1.0


class TooManyExports(Exception):
    """The user already has MAX_ACTIVE_PER_USER exports queued or running."""


def export_dir() -> Path:
    return Path(settings.VAR_DIR) / "exports"


def create_export(
    owner, *, query: dict, format: str = "csv", purpose: str | None = None, ip: str | None = None
) -> Export:
    """A queued export; the caller enqueues ``analytics.run_export`` once this commits.

    Raises QueryError for a query that cannot run and TooManyExports.
    """
    data = normalized_query(query)
    fmt = Export.Format(format)
    with transaction.atomic():
        active = Export.objects.filter(owner=owner, status__in=[Export.Status.QUEUED, Export.Status.RUNNING])
        if active.count() >= MAX_ACTIVE_PER_USER:
            raise TooManyExports(f"at most {MAX_ACTIVE_PER_USER} exports at a time; wait for one to finish")
        export = Export.objects.create(owner=owner, query=data, format=fmt)
        audit.record(owner, "export", data, ip=ip, export_id=export.pk, format=fmt.value, purpose=purpose)
    return export


def run_export(
    export_id: int, *, every_rows: int = PROGRESS_EVERY_ROWS, every_s: float = PROGRESS_EVERY_S
) -> Export | None:
    """Write the export's file; ends ``done`` with the whole file or ``failed`` with the error and no file."""
    # Queued, or running when a worker died mid-export and the broker redelivered
    # the task (acks_late): start again from scratch, the old part file is unused.
    claimed = Export.objects.filter(pk=export_id, status__in=[Export.Status.QUEUED, Export.Status.RUNNING]).update(
        status=Export.Status.RUNNING, rows_written=0, total=None, error=""
    )
    if not claimed:
        log(logger, logging.WARNING, "export_not_runnable", export_id=export_id)
        return None
    export = Export.objects.get(pk=export_id)
    started = time.monotonic()
    final = export_dir() / f"export-{export.pk}.{export.format}"
    part = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        query = parse_query(export.query)
        # A relative range ("last 24h") means the 24 hours before the request,
        # however long the export waited in the queue.
        now = export.created_at
        total = search.count(query, now=now)
        Export.objects.filter(pk=export.pk).update(total=total)
        final.parent.mkdir(parents=True, exist_ok=True)
        rows = _write(part, export.format, search.iter_hits(query, now=now), export.pk, every_rows, every_s)
        os.replace(part, final)  # atomic: the file appears whole or not at all
    except Exception as exc:
        # Best effort: the folder itself may be what failed; the row must say failed regardless.
        with contextlib.suppress(OSError):
            part.unlink(missing_ok=True)
        Export.objects.filter(pk=export.pk).update(
            status=Export.Status.FAILED, error=_describe(exc), finished_at=timezone.now()
        )
        logger.exception("export_failed", extra={"fields": {"export_id": export.pk}})
        export.refresh_from_db()
        return export
    Export.objects.filter(pk=export.pk).update(
        status=Export.Status.DONE, rows_written=rows, file_path=str(final), finished_at=timezone.now()
    )
    log(
        logger,
        logging.INFO,
        "export_done",
        export_id=export.pk,
        rows=rows,
        total=total,
        seconds=round(time.monotonic() - started, 2),
    )
    export.refresh_from_db()
    return export


def save_progress(export_id: int, rows_written: int) -> None:
    Export.objects.filter(pk=export_id).update(rows_written=rows_written)


def _write(path: Path, fmt: str, hits: Iterable[dict], export_id: int, every_rows: int, every_s: float) -> int:
    rows = saved_rows = 0
    saved_at = time.monotonic()
    with open(path, "wb") as out:
        if fmt == Export.Format.CSV:
            out.write(csv_header())
        for line in csv_lines(hits) if fmt == Export.Format.CSV else ndjson_lines(hits):
            out.write(line)
            rows += 1
            if rows - saved_rows >= every_rows or time.monotonic() - saved_at >= every_s:
                save_progress(export_id, rows)
                saved_rows, saved_at = rows, time.monotonic()
        out.flush()
        os.fsync(out.fileno())
    return rows


class _Line:
    """A file-like sink for csv.writer that hands back each written line."""

    def __init__(self) -> None:
        self.value = ""

    def write(self, text: str) -> None:
        self.value = text


def csv_header() -> bytes:
    return (",".join(CSV_COLUMNS) + "\n").encode()


def csv_lines(hits: Iterable[dict]) -> Iterator[bytes]:
    sink = _Line()
    writer = csv.writer(sink, lineterminator="\n")
    for hit in hits:
        writer.writerow(csv_row(hit))
        yield sink.value.encode()


def csv_row(hit: dict) -> list:
    location = hit.get("location") or {}
    return [
        _cell(hit["report_id"]),
        hit["observed_at"],
        _cell(hit["drone_id"]),
        location.get("lat"),
        location.get("lon"),
        _cell("; ".join(f"{c['name']}:{c['peacescore']:g}" for c in hit["citizens"])),
        _cell(" ".join(hit["words"])),
        "true" if hit["alert"] else "false",
    ]


def _cell(text: str) -> str:
    # Names and words come from drones: a cell starting like a formula would be
    # run by spreadsheet software when an analyst opens the file (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


_encoder = msgspec.json.Encoder()


def ndjson_lines(hits: Iterable[dict]) -> Iterator[bytes]:
    for hit in hits:
        yield _encoder.encode({k: v for k, v in hit.items() if k != "cursor"}) + b"\n"


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def prune_exports(*, before: datetime) -> int:
    """Delete exports created before ``before`` with their files, and stray files as old.

    Stray files are what a killed worker left (part files) or what outlived a
    deleted user's exports.
    """
    old = list(Export.objects.filter(created_at__lt=before).values_list("pk", "file_path"))
    for _, file_path in old:
        if file_path:
            Path(file_path).unlink(missing_ok=True)
    Export.objects.filter(pk__in=[pk for pk, _ in old]).delete()
    folder = export_dir()
    if folder.is_dir():
        cutoff = before.timestamp()
        for path in folder.iterdir():
            try:
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
            except FileNotFoundError:
                pass  # removed meanwhile by another pruner
    if old:
        log(logger, logging.INFO, "exports_pruned", exports=len(old))
    return len(old)


def delete_export(export: Export) -> None:
    if export.file_path:
        Path(export.file_path).unlink(missing_ok=True)
    export.delete()
