"""A dismissed subject stays quiet for a while: a false positive does not come straight back."""

import json
from datetime import timedelta

import pytest
from django.db.models import F

from alerts.consumer import process_batch
from alerts.models import Alert, AlertSettings, Sighting
from alerts.workflow import acknowledge_alert, dismiss_alert, resolve_alert
from peacewatch import metrics
from peacewatch.streams.batch import Record
from tests.conftest import sign_in_with_second_factor
from tests.factories import citizen, report
from tests.test_metrics import local_value

pytestmark = pytest.mark.django_db


def seen(name: str = "Jeanne Martin", score: float = 12.0, **extra):
    return process_batch([Record(value=json.dumps(report(citizens=[citizen(name, score)], **extra)).encode())])


def quieted() -> float:
    return local_value(metrics.ALERT_SIGHTINGS_QUIETED, kind="citizen")


def time_passes(alert: Alert, minutes: int) -> None:
    Alert.objects.filter(pk=alert.pk).update(closed_at=F("closed_at") - timedelta(minutes=minutes))


@pytest.fixture
def dismissed(officer) -> Alert:
    seen()
    return dismiss_alert(Alert.objects.get().pk, by=officer)


def test_a_dismissed_subject_seen_again_within_the_quiet_time_raises_no_alert_and_is_counted(dismissed):
    before = quieted()
    outcome = seen(score=4)
    assert outcome.messages == []  # no event: no officer's screen changes
    assert list(Alert.objects.values_list("status", flat=True)) == ["dismissed"]
    assert quieted() == before + 1
    # The auditor's view: the sighting is kept on the dismissed alert, which stays as dismissed.
    assert Sighting.objects.filter(alert=dismissed).count() == 2
    alert = Alert.objects.get()
    assert (alert.sightings, alert.peacescore, alert.version, alert.seq) == (
        dismissed.sightings,
        dismissed.peacescore,
        dismissed.version,
        dismissed.seq,
    )


def test_after_the_quiet_time_a_sighting_raises_a_new_alert(dismissed):
    seen()
    time_passes(dismissed, 31)
    outcome = seen()
    assert list(Alert.objects.order_by("id").values_list("status", flat=True)) == ["dismissed", "new"]
    assert Alert.objects.get(status="new").sightings == 1
    assert len(outcome.messages) == 1


def test_a_sighting_quieted_once_does_not_raise_an_alert_when_replayed_after_the_quiet_time(dismissed):
    quiet_report = report(citizens=[citizen("Jeanne Martin", 12.0)])
    record = [Record(value=json.dumps(quiet_report).encode())]
    process_batch(record)
    time_passes(dismissed, 31)
    assert process_batch(record).messages == []
    assert Alert.objects.count() == 1


def test_resolving_an_alert_does_not_quiet_its_subject(officer):
    seen()
    alert = Alert.objects.get()
    acknowledge_alert(alert.pk, by=officer)
    resolve_alert(alert.pk, by=officer)
    seen()
    assert list(Alert.objects.order_by("id").values_list("status", flat=True)) == ["resolved", "new"]


def test_a_quiet_time_of_zero_turns_quieting_off(dismissed):
    row = AlertSettings.load()
    row.dismissal_quiet_minutes = 0
    row.save()
    seen()
    assert list(Alert.objects.order_by("id").values_list("status", flat=True)) == ["dismissed", "new"]


def test_the_quiet_time_is_the_live_setting(dismissed):
    row = AlertSettings.load()
    row.dismissal_quiet_minutes = 120
    row.save()
    time_passes(dismissed, 90)
    seen()
    assert Alert.objects.count() == 1


def test_only_the_dismissed_subject_is_quiet(dismissed):
    seen("Someone Else")
    assert Alert.objects.get(status="new").citizen == "Someone Else"


def test_a_subject_alerted_again_since_its_dismissal_goes_on_updating_its_open_alert(dismissed):
    row = AlertSettings.load()
    row.dismissal_quiet_minutes = 0
    row.save()
    seen()
    row.dismissal_quiet_minutes = 30
    row.save()
    seen()
    reopened = Alert.objects.get(status="new")
    assert reopened.sightings == 2


def readonly_value(page, name: str) -> str:
    for fieldset in page.context["adminform"]:
        for line in fieldset:
            for field in line:
                if field.field["name"] == name:
                    return field.contents()
    raise AssertionError(f"no field {name} on the page")


def test_the_admin_shows_an_auditor_how_often_a_dismissed_subject_was_seen_during_the_quiet_time(
    client, admin_user, dismissed
):
    seen()
    seen()
    sign_in_with_second_factor(client, admin_user)
    page = client.get(f"/admin/alerts/alert/{dismissed.pk}/change/")
    assert (readonly_value(page, "status"), readonly_value(page, "sightings")) == ("Dismissed", "1")
    assert readonly_value(page, "quiet_sightings") == "2"
