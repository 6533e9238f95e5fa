"""Who an alert is about (CONTRACT v1.1): the subject id when the report gives one, else the name.

The pure core on plain records first, then the real runner on the real
embedded broker for the keys a replay or a second drone would hit.
"""

import asyncio
import json

import pytest

from alerts.consumer import process_batch
from alerts.events import decode_event
from alerts.models import Alert, Sighting
from peacewatch.streams.batch import Record
from tests.factories import citizen, report
from tests.kafka import consumed, produce_sync, run_consumer_until


def records(*docs):
    return [Record(value=json.dumps(doc).encode(), offset=i) for i, doc in enumerate(docs)]


def known(name: str, subject_id: str, score: float = 12.0, **extra) -> dict:
    return {**citizen(name, score), "id": subject_id, **extra}


@pytest.mark.django_db
def test_two_people_sharing_a_name_but_not_an_id_get_two_alerts():
    process_batch(records(report(citizens=[known("Jean Dupont", "rec:1001"), known("Jean Dupont", "rec:2002")])))
    alerts = Alert.objects.order_by("citizen_id")
    assert [(a.subject, a.citizen, a.citizen_id) for a in alerts] == [
        ("rec:1001", "Jean Dupont", "rec:1001"),
        ("rec:2002", "Jean Dupont", "rec:2002"),
    ]


@pytest.mark.django_db
def test_one_id_under_two_spellings_is_one_alert_named_as_last_seen():
    process_batch(records(report(citizens=[known("Jeanne Martin", "rec:7")], sent_at="2026-11-28T04:00:00Z")))
    outcome = process_batch(records(report(citizens=[known("Jeanne Martín", "rec:7")], sent_at="2026-11-28T04:01:00Z")))
    # A late report from before both keeps the latest spelling.
    process_batch(records(report(citizens=[known("J. Martin", "rec:7")], sent_at="2026-11-28T03:59:00Z")))
    alert = Alert.objects.get()
    assert (alert.subject, alert.citizen, alert.citizen_id, alert.sightings) == ("rec:7", "Jeanne Martín", "rec:7", 3)
    [event] = [decode_event(m.value) for m in outcome.messages]
    assert (event.type, event.alert.citizen, event.alert.citizen_id) == ("alert.updated", "Jeanne Martín", "rec:7")


@pytest.mark.django_db
def test_without_an_id_the_name_is_the_subject_as_before():
    process_batch(records(report(citizens=[citizen("Paul Martin", 9)]), report(citizens=[citizen("Paul Martin", 8)])))
    alert = Alert.objects.get()
    assert (alert.subject, alert.citizen, alert.citizen_id, alert.sightings) == ("Paul Martin", "Paul Martin", None, 2)


@pytest.mark.django_db
def test_the_same_report_id_from_two_drones_is_two_sightings_and_a_replay_none():
    one = report(report_id="shared-1", drone_id="pw-00001", citizens=[known("Jeanne Martin", "rec:7")])
    other = report(report_id="shared-1", drone_id="pw-00002", citizens=[known("Jeanne Martin", "rec:7")])
    process_batch(records(one, other))
    replay = process_batch(records(other, one))
    alert = Alert.objects.get()
    assert alert.sightings == 2
    assert sorted(Sighting.objects.values_list("drone_id", "report_id", "subject")) == [
        ("pw-00001", "shared-1", "rec:7"),
        ("pw-00002", "shared-1", "rec:7"),
    ]
    assert replay.messages == []


@pytest.mark.django_db(transaction=True)
def test_through_the_broker_namesakes_drones_reusing_report_ids_and_a_replay_alert_correctly(broker):
    docs = [
        report(report_id="r-1", drone_id="pw-00001", citizens=[known("Jean Dupont", "rec:1"), citizen("Calm", 80)]),
        report(report_id="r-1", drone_id="pw-00002", citizens=[known("Jean Dupont", "rec:2")]),
        report(report_id="r-2", drone_id="pw-00002", citizens=[known("Jean Dupond", "rec:2")]),
    ]
    produce_sync([*docs, docs[0], docs[2]])  # a drone resending two reports
    asyncio.run(run_consumer_until("alerts", consumed(5)))
    alerts = {a.subject: a for a in Alert.objects.all()}
    assert sorted(alerts) == ["rec:1", "rec:2"]
    assert (alerts["rec:1"].citizen, alerts["rec:1"].sightings) == ("Jean Dupont", 1)
    assert (alerts["rec:2"].citizen_id, alerts["rec:2"].sightings) == ("rec:2", 2)
    assert Sighting.objects.count() == 3
