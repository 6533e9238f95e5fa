"""Periodic alert housekeeping, run by Celery beat."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from alerts.services import prune_outbox


@shared_task(name="alerts.prune_outbox", ignore_result=True)
def prune_published_events() -> int:
    """Delete outbox rows published more than OUTBOX_KEEP_HOURS ago (Kafka keeps the events)."""
    return prune_outbox(before=timezone.now() - timedelta(hours=settings.OUTBOX_KEEP_HOURS))
