"""Periodic alert tasks, run by Celery beat."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from alerts import fleet
from alerts.services import prune_outbox


@shared_task(name="alerts.detect_offline_drones", ignore_result=True)
def detect_offline_drones() -> int:
    """Mark drones silent for DRONE_OFFLINE_AFTER_S offline and raise their alerts (one, in a fleet silence storm).

    The alert events are written to the outbox; the alerts consumer and the
    web processes relay it to peacewatch.alerts within seconds.
    """
    return len(fleet.detect_offline(timezone.now()))


@shared_task(name="alerts.prune_outbox", ignore_result=True)
def prune_published_events() -> int:
    """Delete outbox rows published more than OUTBOX_KEEP_HOURS ago (Kafka keeps the events)."""
    return prune_outbox(before=timezone.now() - timedelta(hours=settings.OUTBOX_KEEP_HOURS))
