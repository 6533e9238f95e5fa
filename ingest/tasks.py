"""Periodic fleet tasks, run by Celery beat."""

from celery import shared_task
from django.utils import timezone

from ingest import health


@shared_task(name="ingest.detect_offline_drones", ignore_result=True)
def detect_offline_drones() -> int:
    """Mark drones silent for DRONE_OFFLINE_AFTER_S offline and raise their alerts.

    The alert events are written to the outbox; the alerts consumer and the
    web processes relay it to peacewatch.alerts within seconds.
    """
    return len(health.detect_offline(timezone.now()))
