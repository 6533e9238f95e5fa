"""Saved queries: own and shared ones listed, only the owner changes them, every change audited."""

import json

import pytest

from analytics.models import AuditEntry, SavedQuery
from analytics.query import QueryError
from tests.conftest import _user_with_role

pytestmark = pytest.mark.django_db

URL = "/api/v1/saved-queries/"
STRIKES = {"time": {"last": "7d"}, "words": {"any": ["strike"]}}


@pytest.fixture
def colleague(django_user_model):
    return _user_with_role(django_user_model, "analyst2", "analyst")


def create(client, **body):
    return client.post(URL, json.dumps(body), content_type="application/json")


def patch(client, pk, **body):
    return client.patch(f"{URL}{pk}/", json.dumps(body), content_type="application/json")


def names(client):
    return [q["name"] for q in client.get(URL).json()["results"]]


def test_an_analyst_saves_a_query_and_gets_it_back_normalized(client, analyst):
    client.force_login(analyst)
    response = create(client, name="Strikes", query={**STRIKES, "size": 50, "after": None})
    assert response.status_code == 201
    body = response.json()
    assert body["query"] == STRIKES  # defaults dropped: the stored form is as_json(parse_query(...))
    assert (body["name"], body["shared"], body["owner"], body["can_edit"]) == ("Strikes", False, "analyst1", True)
    assert set(body) == {"id", "name", "query", "shared", "owner", "created_at", "updated_at", "can_edit"}
    assert client.get(f"{URL}{body['id']}/").json() == body


def test_the_list_holds_own_queries_and_those_others_share(client, analyst, colleague):
    SavedQuery.objects.create(owner=colleague, name="Their shared", query=STRIKES, shared=True)
    SavedQuery.objects.create(owner=colleague, name="Their private", query=STRIKES)
    SavedQuery.objects.create(owner=analyst, name="Mine", query=STRIKES)
    client.force_login(analyst)
    body = client.get(URL).json()
    assert [q["name"] for q in body["results"]] == ["Mine", "Their shared"]  # most recently changed first
    assert [q["can_edit"] for q in body["results"]] == [True, False]
    assert body["results"][1]["owner"] == "analyst2"


def test_the_list_is_cursor_paginated(client, analyst):
    for n in range(5):
        SavedQuery.objects.create(owner=analyst, name=f"q{n}", query=STRIKES)
    client.force_login(analyst)
    seen, url = [], f"{URL}?page_size=2"
    while url:
        page = client.get(url).json()
        seen += [q["name"] for q in page["results"]]
        url = page["next"]
    assert seen == ["q4", "q3", "q2", "q1", "q0"]


def test_the_owner_renames_reshapes_and_shares_a_query(client, analyst):
    client.force_login(analyst)
    pk = create(client, name="Strikes", query=STRIKES).json()["id"]
    response = patch(client, pk, name="Strikes, alerts only", query={**STRIKES, "alerts_only": True}, shared=True)
    assert response.status_code == 200
    assert response.json()["query"] == {**STRIKES, "alerts_only": True}
    saved = SavedQuery.objects.get()
    assert (saved.name, saved.shared) == ("Strikes, alerts only", True)
    assert patch(client, pk, shared=False).json()["name"] == "Strikes, alerts only"  # partial


def test_others_get_403_on_a_shared_query_and_404_on_a_private_one(client, analyst, colleague):
    shared = SavedQuery.objects.create(owner=colleague, name="Shared", query=STRIKES, shared=True)
    private = SavedQuery.objects.create(owner=colleague, name="Private", query=STRIKES)
    client.force_login(analyst)
    assert client.get(f"{URL}{shared.pk}/").status_code == 200
    assert patch(client, shared.pk, name="Mine now").status_code == 403
    assert client.delete(f"{URL}{shared.pk}/").status_code == 403
    assert client.get(f"{URL}{private.pk}/").status_code == 404
    assert patch(client, private.pk, name="Mine now").status_code == 404
    assert client.delete(f"{URL}{private.pk}/").status_code == 404
    assert set(SavedQuery.objects.values_list("name", flat=True)) == {"Shared", "Private"}


def test_the_owner_deletes_a_query(client, analyst):
    client.force_login(analyst)
    pk = create(client, name="Strikes", query=STRIKES).json()["id"]
    assert client.delete(f"{URL}{pk}/").status_code == 204
    assert not SavedQuery.objects.exists()


def test_a_bad_query_or_a_taken_name_is_refused(client, analyst, colleague):
    client.force_login(analyst)
    bad = create(client, name="Bad", query={"time": {"last": "soon"}})
    assert bad.status_code == 400
    assert bad.json()["field"] == "query.time.last"
    assert create(client, name="Strikes", query=STRIKES).status_code == 201
    taken = create(client, name="Strikes", query=STRIKES)
    assert taken.status_code == 409
    assert "already" in taken.json()["detail"]
    unknown = create(client, name="Strikes", query=STRIKES, colour="red").json()
    assert unknown["errors"] == [{"field": "colour", "detail": "unknown field"}]
    client.force_login(colleague)
    assert create(client, name="Strikes", query=STRIKES).status_code == 201  # names are per owner
    pk = create(client, name="Other", query=STRIKES).json()["id"]
    assert patch(client, pk, name="Strikes").status_code == 409
    assert patch(client, pk, query={"size": -1}).json()["field"] == "query.size"


def test_the_model_refuses_a_query_that_cannot_run(analyst):
    with pytest.raises(QueryError):
        SavedQuery.objects.create(owner=analyst, name="Bad", query={"nope": 1})


def test_only_analysts_reach_saved_queries(client, officer):
    assert client.get(URL).status_code == 403
    client.force_login(officer)
    assert client.get(URL).status_code == 403
    assert create(client, name="x", query={}).status_code == 403


def test_every_change_is_recorded_in_the_audit_log(client, analyst):
    client.force_login(analyst)
    pk = create(client, name="Strikes", query=STRIKES).json()["id"]
    patch(client, pk, shared=True)
    client.delete(f"{URL}{pk}/")
    entries = list(AuditEntry.objects.filter(action__startswith="saved_query").order_by("seq"))
    assert [e.action for e in entries] == ["saved_query.create", "saved_query.update", "saved_query.delete"]
    assert all(e.username == "analyst1" and e.query == STRIKES for e in entries)
    assert entries[0].detail == {"saved_query_id": pk, "name": "Strikes", "shared": False}
    assert entries[1].detail == {"saved_query_id": pk, "name": "Strikes", "changed": ["shared"]}
    assert entries[2].detail == {"saved_query_id": pk, "name": "Strikes"}
