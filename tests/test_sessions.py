"""Sessions end after a shift and after inactivity (issue 14, point 2), through the real sign-in page."""

import time
from importlib import import_module

import pytest
from django.conf import settings

from analytics.models import AuditEntry
from peacewatch.sessions import SEEN_AT, SIGNED_IN_AT

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


def sign_in(client, username: str) -> None:
    response = client.post("/accounts/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302 and not response.url.startswith("/accounts/login/")


def age_session(client, **seconds_ago) -> None:
    """Move the session's clock marks back, as if that much time had passed."""
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key=client.cookies["sessionid"].value)
    now = time.time()
    for mark, ago in seconds_ago.items():
        session[{"signed_in": SIGNED_IN_AT, "seen": SEEN_AT}[mark]] = now - ago
    session.save()


def test_a_session_ends_after_its_shift_even_while_in_use(client, analyst):
    sign_in(client, "analyst1")
    assert client.get("/analytics/").status_code == 200
    age_session(client, signed_in=settings.SESSION_MAX_AGE + 60, seen=5)
    response = client.get("/analytics/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")
    assert client.post("/api/v1/reports/search", {}, content_type="application/json").status_code == 403
    ended = AuditEntry.objects.get(action="auth.sign_out")
    assert (ended.username, ended.detail["reason"]) == ("analyst1", "shift")


def test_a_session_ends_after_inactivity(client, analyst):
    sign_in(client, "analyst1")
    age_session(client, signed_in=600, seen=settings.SESSION_IDLE_TIMEOUT + 60)
    response = client.get("/analytics/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")
    assert AuditEntry.objects.get(action="auth.sign_out").detail["reason"] == "idle"


def test_use_keeps_a_session_alive_within_its_shift(client, analyst):
    sign_in(client, "analyst1")
    # Idle for most of the limit, then used: the clock restarts.
    age_session(client, signed_in=600, seen=settings.SESSION_IDLE_TIMEOUT - 120)
    assert client.get("/analytics/").status_code == 200
    age_session(client, signed_in=700)  # marks the sign-in older, keeps the fresh "seen"
    assert client.get("/analytics/").status_code == 200
    assert not AuditEntry.objects.filter(action="auth.sign_out").exists()


def test_signing_out_is_recorded_as_the_users_own(client, analyst):
    sign_in(client, "analyst1")
    client.post("/accounts/logout/")
    assert AuditEntry.objects.get(action="auth.sign_out").detail["reason"] == "signed out"


def test_the_session_cookie_lasts_no_longer_than_a_shift(client, analyst):
    sign_in(client, "analyst1")
    assert client.cookies["sessionid"]["max-age"] == settings.SESSION_MAX_AGE
