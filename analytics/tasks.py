"""Analytics work for Celery: exports (on request) and their clean-up (beat)."""

from celery import shared_task

from analytics import exports


@shared_task(name="analytics.run_export", ignore_result=True)
def run_export(export_id: int) -> str | None:
    """Write one export's file; the export row says how it went (status, rows, error)."""
    export = exports.run_export(export_id)
    return export.status if export else None


@shared_task(name="analytics.prune_exports", ignore_result=True)
def prune_exports() -> int:
    """Delete exports (rows and files) older than EXPORT_KEEP_HOURS."""
    from analytics.retention import prune_old_exports

    return prune_old_exports()


@shared_task(name="analytics.apply_retention", ignore_result=True)
def apply_retention() -> dict[str, int]:
    """Delete closed alerts, action rows and audit entries past their retention periods."""
    from analytics.retention import apply_retention as apply

    return apply()


@shared_task(name="analytics.prune_indices", ignore_result=True)
def prune_indices() -> list[str]:
    """Drop the analytics store's days older than ELASTICSEARCH_RETENTION_DAYS that the archive holds in full."""
    from analytics.retention import prune_analytics_days

    return prune_analytics_days()


@shared_task(name="analytics.compact_archive", ignore_result=True)
def compact_archive() -> int:
    """Merge the small files of the archive's closed directories and roll up their hours; returns the files merged."""
    from analytics.archive.compact import compact
    from analytics.archive.storage import get_archive

    return compact(get_archive()).merged
