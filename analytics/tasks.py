"""Analytics work for Celery: exports (on request) and their clean-up (beat)."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from analytics import exports


@shared_task(name="analytics.run_export", ignore_result=True)
def run_export(export_id: int) -> str | None:
    """Write one export's file; the export row says how it went (status, rows, error)."""
    export = exports.run_export(export_id)
    return export.status if export else None


@shared_task(name="analytics.prune_exports", ignore_result=True)
def prune_exports() -> int:
    """Delete exports (rows and files) older than EXPORT_KEEP_HOURS."""
    return exports.prune_exports(before=timezone.now() - timedelta(hours=settings.EXPORT_KEEP_HOURS))


@shared_task(name="analytics.prune_indices", ignore_result=True)
def prune_indices() -> list[str]:
    """Drop Elasticsearch daily indices older than ELASTICSEARCH_RETENTION_DAYS (embedded: nothing)."""
    from analytics.store import get_store

    store = get_store()
    prune = getattr(store, "prune", None)
    return prune(settings.ELASTICSEARCH_RETENTION_DAYS) if prune else []
