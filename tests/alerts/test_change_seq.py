"""The alert change sequence (CONTRACT section 3 v1.1) and the ``after_seq`` catch-up built on it."""

import json
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from alerts.consumer import process_batch
from alerts.events import decode_event
from alerts.fleet import detect_offline
from alerts.models import Alert, OutboxEvent
from alerts.services import close_system_alert, current_seq
from alerts.workflow import update_alert
from ingest.models import Drone
from peacewatch.streams.batch import Record
from tests.factories import citizen, report

pytestmark = pytest.mark.django_db


def raise_batch(*names, score=12.5, **extra):
    doc = report(citizens=[citizen(name, score) for name in names], **extra)
    return process_batch([Record(value=json.dumps(doc).encode())])


def seqs_of(outcome) -> list[int]:
    return [decode_event(message.value).alert.seq for message in outcome.messages]


def catch_up(client, after: int, page_size: int, between_pages=lambda page: None) -> tuple[dict, int]:
    """What a browser does: page ``after_seq`` to the end; returns {id: newest row} and where it got to."""
    seen: dict[int, dict] = {}
    page = client.get("/api/v1/alerts/", {"after_seq": after, "page_size": page_size}).json()
    reached, number = after, 0
    while True:
        for row in page["results"]:
            seen[row["id"]] = row
            reached = max(reached, row["seq"])
        if not page["next"]:
            return seen, max(reached, page["last_seq"])
        number += 1
        between_pages(number)
        page = client.get(page["next"]).json()


def test_every_kind_of_alert_change_takes_the_next_seq_and_its_event_carries_it(officer, settings):
    created = raise_batch("Jeanne Martin", "Paul Durand")
    sighting = raise_batch("Jeanne Martin", score=9.0)
    jeanne = Alert.objects.get(citizen="Jeanne Martin")
    changes = [
        seqs_of(created),
        seqs_of(sighting),
        [update_alert(jeanne.pk, by=officer, status="acknowledged").seq],
        [update_alert(jeanne.pk, by=officer, note="On my way").seq],
        [update_alert(jeanne.pk, by=officer, assigned_to=officer.username).seq],
    ]
    Drone.objects.create(drone_id="pw-00099", last_seen_at=timezone.now() - timedelta(hours=1), online=True)
    changes.append([decode_event(e.payload).alert.seq for e in detect_offline(now=timezone.now())])
    changes.append([decode_event(e.payload).alert.seq for e in close_system_alert("drone_offline", "pw-00099")])
    flat = [seq for step in changes for seq in step]
    assert flat == list(range(flat[0], flat[0] + 8))  # dense and in order: one number per change
    assert current_seq() == flat[-1]
    # The outbox row knows its change too (how a web process tells "not yet published" from "lost").
    assert sorted(OutboxEvent.objects.values_list("seq", flat=True)) == flat
    assert Alert.objects.get(pk=jeanne.pk).seq == changes[4][0]


def test_events_carry_confidence_and_citizen_id_null_when_unknown():
    doc = report(citizens=[{"name": "Jeanne Martin", "peacescore": 12.5, "confidence": 0.97}])
    outcome = process_batch([Record(value=json.dumps(doc).encode())])
    [event] = [json.loads(m.value) for m in outcome.messages]
    assert event["alert"]["confidence"] == 0.97
    assert "citizen_id" in event["alert"]
    assert event["alert"]["seq"] == Alert.objects.get().seq > 0
    no_confidence = process_batch([Record(value=json.dumps(report(citizens=[citizen("Other", 3)])).encode())])
    assert json.loads(no_confidence.messages[0].value)["alert"]["confidence"] is None


def test_after_seq_returns_every_alert_changed_after_n_in_seq_order_with_its_seq(client, officer):
    raise_batch("A One")
    mark = current_seq()
    raise_batch("B Two")
    old = Alert.objects.get(citizen="A One")
    update_alert(old.pk, by=officer, status="acknowledged")
    client.force_login(officer)
    body = client.get("/api/v1/alerts/", {"after_seq": mark}).json()
    assert [(a["citizen"], a["status"]) for a in body["results"]] == [("B Two", "new"), ("A One", "acknowledged")]
    assert [a["seq"] for a in body["results"]] == [mark + 1, mark + 2]
    assert body["last_seq"] == mark + 2
    assert client.get("/api/v1/alerts/", {"after_seq": body["last_seq"]}).json()["results"] == []


def test_after_seq_paging_never_skips_an_alert_changed_during_paging(client, officer):
    names = [f"Person {i:02}" for i in range(40)]
    raise_batch(*names)  # one batch: every alert shares one updated_at
    assert Alert.objects.values("updated_at").distinct().count() == 1
    ids = list(Alert.objects.order_by("seq").values_list("id", flat=True))
    client.force_login(officer)

    def officers_work_meanwhile(page_number):
        # Between pages, change an alert already paged and one not yet reached:
        # with a timestamp + offset cursor the rows shift under the reader.
        update_alert(ids[page_number], by=officer, status="acknowledged")
        update_alert(ids[-page_number], by=officer, note=f"page {page_number}")

    seen, reached = catch_up(client, after=0, page_size=7, between_pages=officers_work_meanwhile)
    current = {a.pk: a.version for a in Alert.objects.all()}
    assert set(seen) == set(current)  # no alert skipped
    assert {pk: row["version"] for pk, row in seen.items()} == current  # and each in its latest version
    assert reached == current_seq()


def test_since_still_works_for_older_clients(client, officer):
    raise_batch("Old One")
    client.force_login(officer)
    body = client.get("/api/v1/alerts/", {"since": "2000-01-01T00:00:00Z"}).json()
    assert [a["citizen"] for a in body["results"]] == ["Old One"]


def test_a_bad_after_seq_is_a_400_naming_it(client, officer):
    client.force_login(officer)
    for bad in ("-1", str(10**30), "1e3"):
        response = client.get("/api/v1/alerts/", {"after_seq": bad})
        assert response.status_code == 400 and response.json()["field"] == "after_seq", bad


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_get_dense_unique_seqs(officer):
    """Writers at once (truly concurrent on PostgreSQL): no seq twice, none skipped."""
    raise_batch(*[f"Target {i}" for i in range(4)])
    targets = list(Alert.objects.values_list("id", flat=True))
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(8):
                if n % 2:
                    raise_batch(f"Writer {n} {i}", "Shared Person")
                else:
                    update_alert(targets[n % len(targets)], by=officer, note=f"{n}-{i}")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    seqs = sorted(OutboxEvent.objects.values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))  # dense, no duplicate
    assert current_seq() == seqs[-1]
