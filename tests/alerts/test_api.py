"""The alerts REST API and the officer's workflow behind it."""

import json

import pytest
from django.test import Client

from alerts.consumer import process_batch
from alerts.events import decode_event
from alerts.models import Alert, AlertAction, OutboxEvent
from peacewatch.streams.batch import Record
from tests.factories import citizen, report

pytestmark = pytest.mark.django_db


def raise_alert(name="Jeanne Martin", score=12.5, **extra) -> Alert:
    process_batch([Record(value=json.dumps(report(citizens=[citizen(name, score)], **extra)).encode())])
    return Alert.objects.get(citizen=name, status__in=Alert.OPEN_STATUSES)


def patch(client, alert_id, body):
    return client.patch(f"/api/v1/alerts/{alert_id}/", body, content_type="application/json")


def test_officers_list_alerts_newest_first_in_the_event_shape(client, officer):
    first, second = raise_alert("A One"), raise_alert("B Two")
    client.force_login(officer)
    body = client.get("/api/v1/alerts/").json()
    assert [a["id"] for a in body["results"]] == [second.pk, first.pk]
    assert body["results"][0]["location"] == {"lat": 48.8566, "lon": 2.3522}
    assert set(body["results"][0]) >= {"citizen", "peacescore", "severity", "status", "sightings", "observed_at"}


def test_filters_by_status_and_severity(client, officer):
    raise_alert("Critical Person", 5)
    high = raise_alert("High Person", 15)
    Alert.objects.filter(pk=high.pk).update(status="acknowledged")
    client.force_login(officer)
    names = lambda q: [a["citizen"] for a in client.get(f"/api/v1/alerts/?{q}").json()["results"]]  # noqa: E731
    assert names("severity=critical") == ["Critical Person"]
    assert names("status=acknowledged") == ["High Person"]
    assert names("status=new&status=acknowledged") == ["High Person", "Critical Person"]
    assert names("open=false") == []


def test_since_returns_what_changed_oldest_first_so_a_browser_can_catch_up(client, officer):
    old = raise_alert("Old One")
    client.force_login(officer)
    mark = client.get("/api/v1/alerts/").json()["results"][0]["updated_at"]
    new = raise_alert("New One")
    patch(client, old.pk, {"status": "acknowledged"})
    body = client.get("/api/v1/alerts/", {"since": mark}).json()
    # Oldest change first: the new alert, then the old one acknowledged after it.
    assert [a["id"] for a in body["results"]] == [new.pk, old.pk]
    assert {a["id"]: a["status"] for a in body["results"]}[old.pk] == "acknowledged"


def test_lists_page_by_cursor(client, officer):
    for i in range(7):
        raise_alert(f"Person {i}")
    client.force_login(officer)
    page = client.get("/api/v1/alerts/", {"page_size": 3}).json()
    seen = [a["id"] for a in page["results"]]
    while page["next"]:
        page = client.get(page["next"]).json()
        seen += [a["id"] for a in page["results"]]
    assert len(seen) == len(set(seen)) == 7


def test_a_bad_filter_is_a_400_naming_it(client, officer):
    client.force_login(officer)
    response = client.get("/api/v1/alerts/", {"status": "sleeping", "since": "yesterday"})
    assert response.status_code == 400
    assert {error["field"] for error in response.json()["errors"]} == {"status", "since"}


def test_an_officer_works_an_alert_through_to_resolved(client, officer):
    alert = raise_alert()
    client.force_login(officer)
    acknowledged = patch(client, alert.pk, {"status": "acknowledged"}).json()
    assert acknowledged["status"] == "acknowledged"
    assert acknowledged["acknowledged_by"] == officer.username
    resolved = patch(client, alert.pk, {"status": "resolved", "note": "Helped home."}).json()
    assert (resolved["status"], resolved["closed_by"], resolved["note"]) == (
        "resolved",
        officer.username,
        "Helped home.",
    )
    assert resolved["version"] == 3
    actions = list(AlertAction.objects.filter(alert=alert).values_list("action", "by__username"))
    assert actions == [("acknowledged", "officer1"), ("resolved", "officer1"), ("noted", "officer1")]


def test_every_change_is_published_as_alert_updated(client, officer):
    alert = raise_alert()
    OutboxEvent.objects.update(published_at="2026-01-01T00:00:00Z")
    client.force_login(officer)
    patch(client, alert.pk, {"status": "dismissed"})
    [event] = [decode_event(bytes(e.payload)) for e in OutboxEvent.objects.filter(published_at__isnull=True)]
    assert (event.type, event.alert.id, event.alert.status) == ("alert.updated", alert.pk, "dismissed")


@pytest.mark.parametrize(
    ("steps", "status", "reason"),
    [
        ([], "resolved", "cannot go from new to resolved (allowed: acknowledged, dismissed)"),
        (["acknowledged", "resolved"], "acknowledged", "cannot go from resolved to acknowledged"),
        (["dismissed"], "acknowledged", "cannot go from dismissed to acknowledged"),
        (["acknowledged"], "acknowledged", "already acknowledged"),
    ],
)
def test_an_illegal_transition_is_a_409_with_the_reason(client, officer, steps, status, reason):
    alert = raise_alert()
    client.force_login(officer)
    for step in steps:
        assert patch(client, alert.pk, {"status": step}).status_code == 200
    response = patch(client, alert.pk, {"status": status})
    assert response.status_code == 409  # the alert's state, not the input, refuses it
    assert reason in response.json()["detail"] and response.json()["field"] == "status"


def test_alerts_are_assigned_to_officers_only(client, officer, analyst):
    alert = raise_alert()
    client.force_login(officer)
    assert patch(client, alert.pk, {"assigned_to": officer.username}).json()["assigned_to"] == officer.username
    refused = patch(client, alert.pk, {"assigned_to": analyst.username})
    assert refused.status_code == 400 and "not an active officer" in refused.json()["detail"]
    assert patch(client, alert.pk, {"assigned_to": None}).json()["assigned_to"] is None


def test_unknown_fields_and_empty_changes_are_refused(client, officer):
    alert = raise_alert()
    client.force_login(officer)
    assert patch(client, alert.pk, {"citizen": "Someone Else"}).status_code == 400
    unchanged = patch(client, alert.pk, {})  # an empty patch changes nothing
    assert (unchanged.status_code, unchanged.json()["version"]) == (200, alert.version)
    assert patch(client, 999999, {"status": "acknowledged"}).status_code == 404


def test_analysts_and_anonymous_users_cannot_touch_alerts(client, analyst):
    alert = raise_alert()
    assert client.get("/api/v1/alerts/").status_code == 403
    client.force_login(analyst)
    assert client.get("/api/v1/alerts/").status_code == 403
    assert patch(client, alert.pk, {"status": "acknowledged"}).status_code == 403


def test_a_browser_write_without_the_csrf_token_is_refused(officer):
    alert = raise_alert()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(officer)
    assert patch(browser, alert.pk, {"status": "acknowledged"}).status_code == 403
    browser.get("/")  # sets the csrftoken cookie, as the live map page does
    token = browser.cookies["csrftoken"].value
    ok = browser.patch(
        f"/api/v1/alerts/{alert.pk}/",
        {"status": "acknowledged"},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert ok.status_code == 200


def test_the_live_map_is_for_officers(client, officer, analyst):
    client.force_login(analyst)
    assert client.get("/").status_code == 302  # analysts land on analytics
    client.force_login(officer)
    page = client.get("/")
    assert page.status_code == 200
    assert b'id="live-config"' in page.content


def test_the_openapi_schema_describes_the_alerts_api(client, officer):
    client.force_login(officer)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    assert "/api/v1/alerts/" in schema.content.decode()


def test_an_alerts_history_says_who_did_what_and_when_oldest_first(client, officer, django_user_model):
    from peacewatch.roles import ensure_groups

    colleague = django_user_model.objects.create_user("officer2", password="x", first_name="Ana", last_name="Lind")
    colleague.groups.add(ensure_groups()["officer"])
    alert = raise_alert()
    client.force_login(officer)
    patch(client, alert.pk, {"status": "acknowledged"})
    patch(client, alert.pk, {"assigned_to": "officer2", "note": "On my way."})

    history = client.get(f"/api/v1/alerts/{alert.pk}/history/").json()["results"]
    assert [(h["action"], h["by"], h["detail"]) for h in history] == [
        ("acknowledged", "officer1", ""),
        ("assigned", "officer1", "officer2"),
        ("noted", "officer1", "On my way."),
    ]
    assert client.get("/api/v1/alerts/999999/history/").status_code == 404


def test_the_colleagues_an_alert_can_be_assigned_to_are_the_active_officers(
    client, officer, analyst, django_user_model
):
    from peacewatch.roles import ensure_groups

    colleague = django_user_model.objects.create_user("officer2", password="x", first_name="Ana", last_name="Lind")
    colleague.groups.add(ensure_groups()["officer"])
    gone = django_user_model.objects.create_user("officer3", password="x", is_active=False)
    gone.groups.add(ensure_groups()["officer"])
    client.force_login(officer)

    listed = client.get("/api/v1/officers/").json()["results"]
    assert listed == [{"username": "officer1", "name": ""}, {"username": "officer2", "name": "Ana Lind"}]
    client.force_login(analyst)
    assert client.get("/api/v1/officers/").status_code == 403
