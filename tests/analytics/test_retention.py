"""Retention periods (issue 14, point 6): what is past its time goes, counted, recorded, the chain intact."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.consumer import process_batch as raise_alerts
from alerts.models import Alert, AlertAction, Sighting
from alerts.workflow import acknowledge_alert, resolve_alert
from analytics import audit
from analytics.models import AuditEntry
from analytics.retention import apply_retention
from analytics.tasks import apply_retention as apply_retention_task
from peacewatch import metrics
from peacewatch.streams.batch import Record
from tests.factories import citizen, report
from tests.test_metrics import local_value

pytestmark = pytest.mark.django_db


def alert_for(name: str) -> Alert:
    raise_alerts([Record(value=json.dumps(report(citizens=[citizen(name, 5.0)])).encode())])
    return Alert.objects.get(citizen=name)


def closed_days_ago(alert: Alert, officer, days: int) -> None:
    acknowledge_alert(alert.pk, by=officer)
    resolve_alert(alert.pk, by=officer)
    Alert.objects.filter(pk=alert.pk).update(closed_at=timezone.now() - timedelta(days=days))


def test_closed_alerts_past_their_period_go_with_their_sightings_and_leave_their_actions(officer, settings):
    settings.RETENTION_ALERT_DAYS = 365
    old, recent, still_open = alert_for("Old Case"), alert_for("Recent Case"), alert_for("Open Case")
    closed_days_ago(old, officer, 400)
    closed_days_ago(recent, officer, 30)
    before = local_value(metrics.RETENTION_DELETED, kind="alerts")

    counts = apply_retention()

    assert set(Alert.objects.values_list("citizen", flat=True)) == {"Recent Case", "Open Case"}
    assert not Sighting.objects.filter(alert_id=old.pk).exists()
    assert list(AlertAction.objects.filter(alert_ref=old.pk).values_list("action", flat=True)) == [
        "acknowledged",
        "resolved",
    ]
    assert (counts["alerts"], counts["sightings"]) == (1, 1)
    assert local_value(metrics.RETENTION_DELETED, kind="alerts") == before + 1
    assert still_open.pk in set(Alert.objects.values_list("pk", flat=True))
    recorded = AuditEntry.objects.get(action="retention")
    assert (recorded.detail["alerts"], recorded.detail["alert_days"]) == (1, 365)


def test_the_audit_log_is_cut_from_its_start_and_still_verifies(analyst):
    entries = [audit.record(analyst, "search", {}, n=n) for n in range(5)]

    removed = audit.prune_before(entries[3].at)

    kept = set(AuditEntry.objects.values_list("seq", flat=True))
    assert kept == {entries[3].seq, entries[4].seq}
    assert removed >= 3
    result = audit.verify()
    assert result.intact, [str(b) for b in result.breaks]
    assert result.checked == 2


def test_the_daily_task_cuts_what_is_past_the_audit_period_and_records_that_it_did(analyst, settings):
    settings.RETENTION_AUDIT_DAYS = 100
    old = [audit.record(analyst, "search", {}, n=n) for n in range(3)]
    later = timezone.now() + timedelta(days=101)  # as if the daily task ran 101 days from now

    counts = apply_retention(now=later)

    assert not AuditEntry.objects.filter(seq__in=[e.seq for e in old]).exists()
    assert counts["audit_entries"] >= 3
    (ran,) = AuditEntry.objects.filter(action="retention")
    assert ran.detail["audit_entries"] == counts["audit_entries"]
    assert audit.verify().intact
    assert apply_retention_task()["audit_entries"] == 0  # the task, now: nothing more is old


def test_an_entry_deleted_after_a_cut_is_still_found(analyst):
    entries = [audit.record(analyst, "search", {}, n=n) for n in range(4)]
    audit.prune_before(entries[1].at)
    AuditEntry.objects.filter(seq=entries[2].seq).delete()
    assert not audit.verify().intact
