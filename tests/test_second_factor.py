"""A second factor for local accounts, required for staff (issue 14, point 2), through the real sign-in pages.

The codes are computed here from the key the set-up page shows, with RFC 6238
written out below: what an authenticator app does.
"""

import base64
import hashlib
import hmac
import re
import time

import pytest

from analytics.models import AuditEntry
from tests.conftest import _user_with_role

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


def totp(secret_b32: str, at: float | None = None) -> str:
    """RFC 6238: HMAC-SHA1 over the 30-second step count, dynamically truncated to 6 digits."""
    counter = int((time.time() if at is None else at) // 30)
    mac = hmac.new(base64.b32decode(secret_b32), counter.to_bytes(8, "big"), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    return f"{(int.from_bytes(mac[offset : offset + 4], 'big') & 0x7FFFFFFF) % 1_000_000:06d}"


@pytest.fixture
def staff_admin(django_user_model):
    return _user_with_role(django_user_model, "admin2", "admin", is_staff=True)


def sign_in(client, username: str, code: str = ""):
    return client.post("/accounts/login/", {"username": username, "password": PASSWORD, "otp_token": code})


def set_up(client) -> str:
    """Open the set-up page, read the key, confirm it with a code; returns the key."""
    page = client.get("/accounts/second-factor/?next=/admin/")
    assert page.status_code == 200
    secret = re.search(r'id="totp-secret" value="([A-Z2-7=]+)"', page.content.decode()).group(1)
    assert "<svg" in page.content.decode()  # the QR code, inline
    response = client.post("/accounts/second-factor/", {"otp_token": totp(secret), "next": "/admin/"})
    assert response.status_code == 302 and response.url == "/admin/"
    return secret


def test_staff_reach_nothing_but_the_set_up_page_until_they_have_a_second_factor(client, staff_admin):
    assert sign_in(client, "admin2").status_code == 302
    response = client.get("/admin/ingest/drone/")
    assert response.status_code == 302 and response.url.startswith("/accounts/second-factor/?next=/admin/")
    assert client.get("/api/v1/drones/").status_code == 403
    secret = set_up(client)
    assert client.get("/admin/ingest/drone/").status_code == 200
    assert client.get("/api/v1/drones/").status_code == 200
    (entry,) = AuditEntry.objects.filter(action="auth.second_factor")
    assert (entry.username, entry.detail["change"]) == ("admin2", "set up")
    assert len(secret) >= 32  # 160-bit key


def test_an_account_with_an_authenticator_signs_in_only_with_its_code(client, staff_admin):
    sign_in(client, "admin2")
    secret = set_up(client)
    client.post("/accounts/logout/")

    refused = sign_in(client, "admin2")  # the password alone
    assert refused.status_code == 200 and "one-time code" in refused.content.decode()
    assert sign_in(client, "admin2", "000000").status_code == 200
    failures = AuditEntry.objects.filter(action="auth.sign_in_failed", username="admin2").count()
    assert failures == 2
    time.sleep(1.1)  # after a wrong code the authenticator is throttled for a moment (django-otp)
    # The next step's code: the one used to set up may not be used twice.
    assert sign_in(client, "admin2", totp(secret, time.time() + 30)).status_code == 302
    assert client.get("/admin/ingest/drone/").status_code == 200


def test_a_wrong_password_says_nothing_about_a_second_factor(client, staff_admin):
    sign_in(client, "admin2")
    set_up(client)
    client.post("/accounts/logout/")
    response = client.post("/accounts/login/", {"username": "admin2", "password": "wrong", "otp_token": "123456"})
    page = response.content.decode()
    assert "didn't match" in page and "authenticator:" not in page


def test_a_wrong_code_on_the_set_up_page_confirms_nothing(client, staff_admin):
    sign_in(client, "admin2")
    client.get("/accounts/second-factor/")
    response = client.post("/accounts/second-factor/", {"otp_token": "000000"})
    assert response.status_code == 200 and "wrong or expired" in response.content.decode()
    assert client.get("/admin/").status_code == 302


def test_officers_and_analysts_need_no_second_factor(client, officer, analyst):
    sign_in(client, "officer1")
    assert client.get("/").status_code == 200
    sign_in(client, "analyst1")
    assert client.get("/analytics/").status_code == 200


def test_a_redirect_after_set_up_stays_on_this_site(client, staff_admin):
    sign_in(client, "admin2")
    page = client.get("/accounts/second-factor/")
    secret = re.search(r'id="totp-secret" value="([A-Z2-7=]+)"', page.content.decode()).group(1)
    response = client.post("/accounts/second-factor/", {"otp_token": totp(secret), "next": "https://evil.example/"})
    assert response.url == "/"
