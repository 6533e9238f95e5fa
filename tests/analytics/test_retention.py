"""Retention periods (issue 14, point 6): what is past its time goes, counted, recorded, the chain intact."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from alerts.consumer import process_batch as raise_alerts
from alerts.models import Alert, AlertAction, Sighting
from alerts.workflow import acknowledge_alert, resolve_alert
from analytics import audit
from analytics.archive.consumer import process_batch as archive_batch
from analytics.archive.storage import get_archive
from analytics.models import AuditEntry
from analytics.query import parse_query, plan
from analytics.retention import apply_retention, prune_analytics_days
from analytics.store import get_store
from analytics.store.embedded import EmbeddedStore
from analytics.tasks import apply_retention as apply_retention_task
from analytics.tokens import word_token
from ingest.reports import decode_report
from ingest.simulator import Fleet
from peacewatch import metrics
from peacewatch.streams import kafka
from peacewatch.streams.batch import Record
from tests.analytics.corpus import give_ids
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


AGGS = ["histogram", "top_citizens", "top_drones", "top_words", "score", "grid"]
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def archived(reports) -> None:
    topic = kafka.topic("reports")
    records = [
        Record(value=r.raw, topic=topic, partition=0, offset=i, timestamp=int(r.observed_at.timestamp() * 1000))
        for i, r in enumerate(reports)
    ]
    archive_batch(records, get_archive())


def test_the_embedded_store_forgets_whole_days_past_the_period_once_the_archive_holds_them(settings, tmp_path):
    settings.ELASTICSEARCH_RETENTION_DAYS = 2
    fleet = Fleet(drones=12, seed=14)
    reports = [decode_report(give_ids(v)) for _, v in fleet.backfill(1500, NOW - timedelta(days=4), timedelta(days=4))]
    boundary = datetime(2026, 11, 26, tzinfo=UTC)  # midnight of NOW less two days
    kept = [r for r in reports if r.observed_at >= boundary]
    old = [r for r in reports if r.observed_at < boundary]
    assert old and kept
    store = get_store()
    store.index(reports)
    archived(old[:-1])  # the last old report has not reached the archive yet
    before = local_value(metrics.RETENTION_DELETED, kind="analytics_days")

    first_run = prune_analytics_days(now=NOW)

    old_days = sorted({r.observed_at.date().isoformat() for r in old})
    assert first_run == old_days[:-1]  # the day missing a report in the archive is kept
    archived(old)
    assert prune_analytics_days(now=NOW) == old_days[-1:]
    assert prune_analytics_days(now=NOW) == []

    # What is left answers every query exactly as a store that only ever held the kept days.
    reference = EmbeddedStore(tmp_path / "reference.sqlite3")
    reference.index(kept)
    everything = {"time": {"from": "2026-11-20T00:00:00Z", "to": "2026-11-29T00:00:00Z"}, "aggs": AGGS, "size": 50}
    words = {**everything, "words": {"any": sorted({w for r in old for w in r.report.words})[:20]}}
    named = {**everything, "citizen": {"name": old[0].report.citizens[0].name}} if old[0].report.citizens else words
    for query in (everything, words, named):
        answer = store.search(plan(parse_query(query), now=NOW))
        expected = reference.search(plan(parse_query(query), now=NOW))
        assert answer | {"as_of": None} == expected | {"as_of": None}, query  # as_of: when each store got them
    assert store.count() == len(kept)
    # The full-text index forgot the old reports too: a later report given a freed row id
    # must not inherit their words.
    for token in sorted({word_token(w) for r in old for w in r.report.words})[:30]:
        match = "SELECT COUNT(*) FROM words WHERE words MATCH ?"
        phrase = f'"{token}"'
        assert store.db.execute(match, (phrase,)).fetchone() == reference.db.execute(match, (phrase,)).fetchone()
    reference.close()

    assert local_value(metrics.RETENTION_DELETED, kind="analytics_days") == before + len(old_days)
    recorded = [e.detail for e in AuditEntry.objects.filter(action="retention").order_by("seq")]
    assert [d["analytics_days"] for d in recorded] == [old_days[:-1], old_days[-1:]]
