"""Retention periods: what is deleted when, enforced daily by ``analytics.apply_retention``.

A force sets how long it keeps each kind of data (issue 14, point 6):

- closed alerts (resolved or dismissed) and their sightings, ``RETENTION_ALERT_DAYS`` after closing;
  their action rows stay (``alert_ref``) as long as the audit log;
- the audit log and the alert action trail, ``RETENTION_AUDIT_DAYS``;
- exports, ``EXPORT_KEEP_HOURS`` (``analytics.prune_exports``, :func:`prune_old_exports`);
- the analytics store's days (Elasticsearch daily indices, or the embedded
  store's reports), ``ELASTICSEARCH_RETENTION_DAYS``, once the archive holds them
  (``analytics.prune_indices``, :func:`prune_analytics_days`);
- the archive, by the object store's lifecycle rules (docs/OPERATIONS.md section 7a).

The audit log is cut only from its start, and the chain's head remembers the
last entry removed, so ``audit verify`` still checks everything kept. Each run
is counted in ``peacewatch_retention_deleted_total`` and recorded in the audit log.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from alerts.models import Alert, AlertAction, Sighting
from analytics import audit
from peacewatch import metrics
from peacewatch.logs import log

logger = logging.getLogger(__name__)


@dataclass
class Deleted:
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, n: int) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + n
        if n:
            metrics.RETENTION_DELETED.labels(kind).inc(n)


def apply_retention(now: datetime | None = None) -> dict[str, int]:
    """Delete what is past its period; returns the counts (also in metrics and the audit log)."""
    now = now or timezone.now()
    deleted = Deleted()
    closed_before = now - timedelta(days=settings.RETENTION_ALERT_DAYS)
    audit_before = now - timedelta(days=settings.RETENTION_AUDIT_DAYS)
    with transaction.atomic():
        closed = Alert.objects.exclude(status__in=Alert.OPEN_STATUSES)
        # closed_at, or the last change for an alert the system closed without noting when.
        old = closed.filter(Q(closed_at__lt=closed_before) | Q(closed_at__isnull=True, updated_at__lt=closed_before))
        deleted.add("sightings", Sighting.objects.filter(alert__in=old).delete()[0])
        deleted.add("alerts", old.delete()[1].get(Alert._meta.label, 0))
    deleted.add("alert_actions", AlertAction.objects.filter(at__lt=audit_before).delete()[0])
    deleted.add("audit_entries", audit.prune_before(audit_before))
    log(logger, logging.INFO, "retention_applied", **deleted.counts)
    audit.record(None, "retention", **deleted.counts,
                 alert_days=settings.RETENTION_ALERT_DAYS, audit_days=settings.RETENTION_AUDIT_DAYS)  # fmt: skip
    return deleted.counts


def prune_analytics_days(now: datetime | None = None) -> list[str]:
    """Drop the analytics store's whole days past ``ELASTICSEARCH_RETENTION_DAYS`` that the archive holds in full."""
    from analytics.archive.guard import archive_holds
    from analytics.store import get_store

    keep_days = settings.ELASTICSEARCH_RETENTION_DAYS
    dropped = get_store().prune(keep_days, now=now, may_drop=archive_holds)
    if dropped:
        Deleted().add("analytics_days", len(dropped))
        audit.record(None, "retention", analytics_days=dropped, keep_days=keep_days)
    return dropped


def prune_old_exports(now: datetime | None = None) -> int:
    """Delete the analysts' exports, rows and files, older than ``EXPORT_KEEP_HOURS``; returns how many."""
    from analytics.exports import prune_exports

    keep_hours = settings.EXPORT_KEEP_HOURS
    n = prune_exports(before=(now or timezone.now()) - timedelta(hours=keep_hours))
    if n:
        Deleted().add("exports", n)
        audit.record(None, "retention", exports=n, export_hours=keep_hours)
    return n
