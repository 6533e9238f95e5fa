"""The minimum recognition confidence of the live alert settings."""

import json

import pytest

from alerts.consumer import process_batch
from alerts.models import Alert, AlertSettings, Sighting
from peacewatch.streams.batch import Record
from tests.factories import citizen, report

pytestmark = pytest.mark.django_db


def records(*docs):
    return [Record(value=json.dumps(doc).encode(), offset=i) for i, doc in enumerate(docs)]


def recognised(name: str, confidence: float | None, score: float = 12.0) -> dict:
    person = citizen(name, score)
    if confidence is not None:
        person["confidence"] = confidence
    return person


@pytest.fixture
def min_confidence():
    def set_to(value):
        row = AlertSettings.load()
        row.min_confidence = value
        row.save()

    return set_to


def test_a_recognition_below_the_minimum_raises_nothing_and_one_above_carries_its_confidence(min_confidence):
    min_confidence(0.8)
    process_batch(records(report(citizens=[recognised("Doubtful Match", 0.79), recognised("Sure Match", 0.93)])))
    alert = Alert.objects.get()
    assert (alert.citizen, alert.confidence) == ("Sure Match", 0.93)
    assert list(Sighting.objects.values_list("subject", flat=True)) == ["Sure Match"]


def test_a_doubtful_recognition_neither_updates_an_open_alert_nor_counts_as_a_sighting(min_confidence):
    min_confidence(0.8)
    process_batch(records(report(citizens=[recognised("Jeanne Martin", 0.9)], sent_at="2026-11-28T04:00:00Z")))
    process_batch(records(report(citizens=[recognised("Jeanne Martin", 0.5, score=3)], sent_at="2026-11-28T04:01:00Z")))
    alert = Alert.objects.get()
    assert (alert.sightings, alert.peacescore, alert.confidence) == (1, 12.0, 0.9)


def test_a_recognition_exactly_at_the_minimum_alerts(min_confidence):
    min_confidence(0.8)
    process_batch(records(report(citizens=[recognised("Borderline", 0.8)])))
    assert Alert.objects.get().confidence == 0.8


def test_a_recognition_without_a_confidence_counts_as_certain(min_confidence):
    min_confidence(0.99)
    process_batch(records(report(citizens=[recognised("First Wave Drone Saw Me", None)])))
    alert = Alert.objects.get()
    assert (alert.citizen, alert.confidence) == ("First Wave Drone Saw Me", None)


def test_the_alert_carries_the_latest_sightings_confidence_not_the_last_to_arrive():
    process_batch(records(report(citizens=[recognised("A B", 0.91)], sent_at="2026-11-28T04:00:00Z")))
    process_batch(records(report(citizens=[recognised("A B", 0.84)], sent_at="2026-11-28T04:02:00Z")))
    process_batch(records(report(citizens=[recognised("A B", 0.99)], sent_at="2026-11-28T04:01:00Z")))  # late
    assert Alert.objects.get().confidence == 0.84
