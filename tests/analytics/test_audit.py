"""The analysts' part of the audit log: written by the services, readable by auditors, editable by nobody.

The chain, the other actions and who may read it: tests/test_audit_record.py.
"""

import pytest

from analytics import audit, saved_queries
from analytics.models import AuditEntry, Export, SavedQuery
from tests.conftest import sign_in_with_second_factor

pytestmark = pytest.mark.django_db

ADMIN_URL = "/admin/analytics/auditentry/"


def test_record_keeps_who_what_and_from_where(analyst):
    entry = audit.record(analyst, "search", {"time": {"last": "1h"}}, ip="10.0.0.7", total=3)
    assert (entry.user, entry.username, entry.action, entry.ip) == (analyst, "analyst1", "search", "10.0.0.7")
    assert (entry.query, entry.detail) == ({"time": {"last": "1h"}}, {"total": 3})
    assert entry.at is not None


def test_an_unknown_action_is_refused(analyst):
    with pytest.raises(ValueError):
        audit.record(analyst, "peek")


def test_the_trail_still_names_a_deleted_user(analyst):
    audit.record(analyst, "search", {})
    analyst.delete()
    entry = AuditEntry.objects.get(action="search")
    assert (entry.user, entry.username) == (None, "analyst1")


def test_admins_read_the_log_with_filters_and_search(client, admin_user, analyst):
    audit.record(analyst, "search", {"time": {"last": "1h"}}, total=3)
    audit.record(analyst, "export", {}, export_id=9, format="csv")
    sign_in_with_second_factor(client, admin_user)
    page = client.get(ADMIN_URL)
    assert page.status_code == 200
    assert page.context["cl"].result_count == AuditEntry.objects.count()  # sign-ins and role grants too
    assert client.get(ADMIN_URL, {"action__exact": "export"}).context["cl"].result_count == 1
    assert client.get(ADMIN_URL, {"q": "analyst1"}).context["cl"].result_count == 2
    entry = AuditEntry.objects.get(action="search")
    assert client.get(f"{ADMIN_URL}{entry.pk}/change/").status_code == 200  # a read-only view


def test_nobody_adds_changes_or_deletes_entries_not_even_a_superuser(client, admin_user, analyst):
    entry = audit.record(analyst, "search", {})
    sign_in_with_second_factor(client, admin_user)
    assert client.get(f"{ADMIN_URL}add/").status_code == 403
    client.post(f"{ADMIN_URL}{entry.pk}/change/", {"username": "someone else"})
    assert client.post(f"{ADMIN_URL}{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    client.post(ADMIN_URL, {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"})
    entry.refresh_from_db()
    assert entry.username == "analyst1"
    page = client.get(f"{ADMIN_URL}{entry.pk}/change/").content.decode()
    assert 'name="username"' not in page  # no editable field


def test_analysts_cannot_open_the_log(client, analyst):
    client.force_login(analyst)
    assert client.get(ADMIN_URL).status_code == 302  # to the admin login: not staff


def test_saved_queries_and_exports_are_in_the_admin_read_only(client, admin_user, analyst):
    saved = SavedQuery.objects.create(owner=analyst, name="Strikes", query={"time": {"last": "1h"}})
    export = Export.objects.create(owner=analyst, query={})
    sign_in_with_second_factor(client, admin_user)
    assert client.get("/admin/analytics/savedquery/").status_code == 200
    assert client.get("/admin/analytics/export/").status_code == 200
    assert client.get(f"/admin/analytics/export/{export.pk}/change/").status_code == 200
    assert client.get("/admin/analytics/savedquery/add/").status_code == 403
    client.post(f"/admin/analytics/savedquery/{saved.pk}/change/", {"name": "Renamed"})
    saved.refresh_from_db()
    assert saved.name == "Strikes"


def test_an_admin_deleting_a_saved_query_is_recorded_as_the_admin(client, admin_user, analyst):
    saved = SavedQuery.objects.create(owner=analyst, name="Strikes", query={"time": {"last": "1h"}})
    sign_in_with_second_factor(client, admin_user)
    response = client.post(f"/admin/analytics/savedquery/{saved.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not SavedQuery.objects.exists()
    entry = AuditEntry.objects.get(action="saved_query.delete")
    assert entry.username == "admin1"
    assert entry.detail == {"saved_query_id": saved.pk, "name": "Strikes", "by_admin": True, "owner": "analyst1"}


def test_only_the_owner_deletes_through_the_service(analyst, admin_user):
    saved = SavedQuery.objects.create(owner=analyst, name="Strikes", query={})
    with pytest.raises(saved_queries.NotOwner):
        saved_queries.delete_saved_query(saved, by=admin_user)
    assert not AuditEntry.objects.filter(action__startswith="saved_query").exists()
