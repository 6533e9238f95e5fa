"""Sign-in, liveness and the admin: the pages `make run` promises."""

import json
import re

import pytest

from alerts.consumer import process_batch
from peacewatch.streams.batch import Record
from tests.conftest import _user_with_role, sign_in_with_second_factor
from tests.factories import citizen, report

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_signing_in(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_anonymous_users_are_sent_to_the_login_page(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_the_login_page_has_a_csrf_protected_form(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b"csrfmiddlewaretoken" in response.content
    assert b'autocomplete="current-password"' in response.content


def test_the_admin_lists_alerts_raised_from_reports(client, admin_user):
    process_batch([Record(value=json.dumps(report(citizens=[citizen("Jeanne Martin", 12.5)])).encode())])
    sign_in_with_second_factor(client, admin_user)
    response = client.get("/admin/alerts/alert/")
    assert response.status_code == 200
    assert b"Jeanne Martin" in response.content


def test_officers_cannot_open_the_admin(client, officer):
    client.force_login(officer)
    assert client.get("/admin/").status_code == 302


def test_demo_users_get_fresh_passwords_and_roles(capsys):
    from django.contrib.auth import authenticate
    from django.core.management import call_command

    call_command("demo_users")
    out = capsys.readouterr().out
    passwords = {line.split()[2]: line.split()[4] for line in out.splitlines() if " password " in line}
    assert set(passwords) == {"officer", "analyst", "admin", "auditor"}
    admin = authenticate(username="admin", password=passwords["admin"])
    assert admin is not None and admin.is_staff and not admin.is_superuser
    assert admin.has_perm("ingest.change_drone") and not admin.has_perm("analytics.view_auditentry")
    auditor = authenticate(username="auditor", password=passwords["auditor"])
    assert auditor.has_perm("analytics.view_auditentry") and not auditor.has_perm("ingest.change_drone")
    officer = authenticate(username="officer", password=passwords["officer"])
    assert sorted(officer.groups.values_list("name", flat=True)) == ["officer", "squad:*"]
    assert not officer.is_staff


def test_alerts_are_read_only_in_the_admin_so_changes_go_through_the_workflow(client, admin_user):
    process_batch([Record(value=json.dumps(report(citizens=[citizen("Jeanne Martin", 12.5)])).encode())])
    from alerts.models import Alert

    alert = Alert.objects.get()
    sign_in_with_second_factor(client, admin_user)
    page = client.get(f"/admin/alerts/alert/{alert.pk}/change/")
    assert page.status_code == 200
    assert b'name="status"' not in page.content
    client.post(f"/admin/alerts/alert/{alert.pk}/change/", {"status": "resolved"})
    alert.refresh_from_db()
    assert alert.status == "new"


def test_the_favicon_browsers_ask_for_exists(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("favicon.svg")


def nav_links(page) -> list[str]:
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', page.content.decode(), re.S).group(1)
    return re.findall(r">([^<]+)</a>", nav)


def test_each_person_sees_only_the_links_their_roles_open(client, officer, analyst, django_user_model):
    client.force_login(officer)
    assert nav_links(client.get("/")) == ["Live map"]  # not Analytics (403) nor the analysts' API docs
    assert client.get("/analytics/").status_code == 403
    client.force_login(analyst)
    assert nav_links(client.get("/analytics/")) == ["Analytics", "API"]
    admin = _user_with_role(django_user_model, "admin2", "admin", is_staff=True)
    sign_in_with_second_factor(client, admin)
    assert nav_links(client.get("/api/docs/")) == ["API", "Admin"]


def test_the_current_page_is_marked_for_screen_readers(client, officer):
    client.force_login(officer)
    assert '<a href="/" aria-current="page">Live map</a>' in client.get("/").content.decode()
