"""The alerts consumer's pure core, on plain lists of records (no broker)."""

import json

import pytest

from alerts.consumer import pending_events, process_batch
from alerts.events import decode_event
from alerts.models import Alert, AlertSettings, OutboxEvent, Sighting
from alerts.services import alert_event
from alerts.workflow import update_alert
from peacewatch.streams.batch import Record
from tests.factories import citizen, report

pytestmark = pytest.mark.django_db


def records(*docs):
    return [Record(value=json.dumps(doc).encode(), offset=i) for i, doc in enumerate(docs)]


def events_of(outcome):
    return [decode_event(message.value) for message in outcome.messages]


def test_it_raises_one_alert_for_a_citizen_below_the_threshold():
    outcome = process_batch(records(report(citizens=[citizen("Jeanne Martin", 12.5), citizen("Paul Durand", 81)])))
    alert = Alert.objects.get()
    assert (alert.citizen, alert.peacescore, alert.severity, alert.status) == ("Jeanne Martin", 12.5, "high", "new")
    assert (alert.lat, alert.lon, alert.drone_id, alert.sightings) == (48.8566, 2.3522, "pw-00042", 1)
    [event] = events_of(outcome)
    assert event.type == "alert.created"
    assert event.alert.id == alert.pk
    assert event.alert.citizen == "Jeanne Martin"
    assert event.alert.location.lat == 48.8566


def test_a_score_exactly_at_the_threshold_raises_nothing():
    process_batch(records(report(citizens=[citizen("Calm Person", 20.0)])))
    assert not Alert.objects.exists()


def test_below_ten_is_critical():
    process_batch(records(report(citizens=[citizen("Very Agitated", 9.9)])))
    assert Alert.objects.get().severity == "critical"


def test_it_keeps_one_open_alert_per_citizen_and_counts_sightings():
    first = report(citizens=[citizen("Jeanne Martin", 15)], sent_at="2026-11-28T04:00:00Z")
    later = report(
        citizens=[citizen("Jeanne Martin", 8)],
        sent_at="2026-11-28T04:01:00Z",
        location={"lat": 48.86, "lon": 2.36},
        drone_id="pw-00007",
    )
    process_batch(records(first))
    outcome = process_batch(records(later))
    alert = Alert.objects.get()
    assert alert.sightings == 2
    assert alert.peacescore == 8  # lowest score seen
    assert alert.severity == "critical"
    assert (alert.lat, alert.lon, alert.drone_id) == (48.86, 2.36, "pw-00007")  # last location
    assert [e.type for e in events_of(outcome)] == ["alert.updated"]
    assert events_of(outcome)[0].alert.sightings == 2


def test_an_older_sighting_arriving_late_does_not_move_the_alert_back():
    process_batch(records(report(citizens=[citizen("A B", 15)], sent_at="2026-11-28T04:05:00Z")))
    process_batch(
        records(
            report(citizens=[citizen("A B", 18)], sent_at="2026-11-28T04:00:00Z", location={"lat": 1.0, "lon": 1.0})
        )
    )
    alert = Alert.objects.get()
    assert alert.lat == 48.8566
    assert alert.sightings == 2


def test_several_sightings_in_one_batch_make_one_alert():
    outcome = process_batch(records(*[report(citizens=[citizen("Same Person", 10 + i)]) for i in range(5)]))
    alert = Alert.objects.get()
    assert alert.sightings == 5
    assert [e.type for e in events_of(outcome)] == ["alert.created"]


def test_a_sighting_event_shows_the_alert_as_the_api_does_officers_work_included(officer):
    jeanne = {**citizen("Jeanne Martin", 15), "id": "s-42"}
    process_batch(records(report(citizens=[jeanne], sent_at="2026-11-28T04:00:00Z")))
    alert = Alert.objects.get()
    update_alert(alert.pk, by=officer, status="acknowledged", assigned_to=officer.username, note="On my way")
    outcome = process_batch(
        records(report(citizens=[{**jeanne, "peacescore": 9.5}], sent_at="2026-11-28T04:01:30.250Z"))
    )
    [event] = events_of(outcome)
    as_stored = alert_event(Alert.objects.select_related("assigned_to", "acknowledged_by").get(), "alert.updated")
    assert event == as_stored
    assert (event.alert.assigned_to, event.alert.acknowledged_by, event.alert.status) == (
        officer.username,
        officer.username,
        "acknowledged",
    )
    assert (event.alert.sightings, event.alert.peacescore, event.alert.citizen_id) == (2, 9.5, "s-42")
    assert event.alert.observed_at.isoformat() == "2026-11-28T04:01:30.250000+00:00"
    assert event.alert.first_observed_at.isoformat() == "2026-11-28T04:00:00+00:00"


def test_replaying_a_batch_changes_nothing():
    batch = records(report(citizens=[citizen("Jeanne Martin", 12)]), report(citizens=[citizen("Other One", 3)]))
    process_batch(batch)
    replay = process_batch(batch)
    assert Alert.objects.count() == 2
    assert Sighting.objects.count() == 2
    assert sum(a.sightings for a in Alert.objects.all()) == 2
    assert replay.messages == []


def test_a_closed_alert_lets_the_next_sighting_open_a_new_one():
    process_batch(records(report(citizens=[citizen("Jeanne Martin", 12)])))
    Alert.objects.update(status=Alert.Status.RESOLVED)
    process_batch(records(report(citizens=[citizen("Jeanne Martin", 11)])))
    assert list(Alert.objects.order_by("id").values_list("status", flat=True)) == ["resolved", "new"]


def test_the_threshold_changes_at_run_time_without_a_restart():
    settings_row = AlertSettings.load()
    settings_row.threshold = 50
    settings_row.save()
    process_batch(records(report(citizens=[citizen("Mildly Upset", 45)])))
    assert Alert.objects.get().citizen == "Mildly Upset"


def test_invalid_records_are_skipped_and_counted_not_alerted():
    batch = [
        Record(value=b"garbage"),
        *records(report(citizens=[citizen("Bad Schema", 5)], location={"lat": 123, "lon": 0})),
    ]
    outcome = process_batch(batch)
    assert not Alert.objects.exists()
    assert outcome.counts["invalid_skipped"] == 2
    assert outcome.dead_letters == []  # the indexer owns dead letters


def test_events_stay_in_the_outbox_until_delivered():
    outcome = process_batch(records(report(citizens=[citizen("Jeanne Martin", 12)])))
    assert OutboxEvent.objects.filter(published_at__isnull=True).count() == 1
    assert len(pending_events().messages) == 1  # a crash now would republish it
    outcome.after_delivery()
    assert not OutboxEvent.objects.filter(published_at__isnull=True).exists()
    assert pending_events().messages == []


def test_published_events_are_pruned_and_unpublished_ones_kept():
    from datetime import UTC, datetime, timedelta

    from alerts.services import prune_outbox

    outcome = process_batch(records(report(citizens=[citizen("Jeanne Martin", 12)])))
    outcome.after_delivery()
    process_batch(records(report(citizens=[citizen("Not Yet Published", 3)])))
    assert prune_outbox(before=datetime.now(tz=UTC) - timedelta(hours=1)) == 0  # too recent
    assert prune_outbox(before=datetime.now(tz=UTC) + timedelta(seconds=1)) == 1
    assert list(OutboxEvent.objects.values_list("published_at", flat=True)) == [None]
