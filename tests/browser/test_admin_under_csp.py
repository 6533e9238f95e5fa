"""The Django admin and the sign-in lockout in a real browser, under the production Content-Security-Policy.

The ``new_page`` fixture fails a test on any policy violation the browser reports.
"""

import pytest

from tests.test_second_factor import totp

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_admin_signs_in_and_uses_the_admin_without_policy_violations(stack, new_page, admin_user):
    page = new_page()
    page.goto(f"{stack.url}/admin/login/?next=/admin/")
    page.fill("#id_username", admin_user.username)
    page.fill("#id_password", "correct-horse-battery")
    page.press("#id_password", "Enter")
    # A staff account without a second factor sets one up first, from the key shown (and its QR code).
    page.wait_for_url(f"{stack.url}/accounts/second-factor/?next=/admin/")
    assert page.locator(".qr svg").count() == 1
    page.fill("#id_otp_token", totp(page.input_value("#totp-secret")))
    page.press("#id_otp_token", "Enter")
    page.wait_for_url(f"{stack.url}/admin/")
    for path in ("/admin/ingest/drone/", "/admin/ingest/drone/add/", "/admin/alerts/alert/", "/admin/auth/user/"):
        response = page.goto(f"{stack.url}{path}")
        assert response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
    # The admin's own scripts run under the policy: "select all" is JavaScript (actions.js).
    page.goto(f"{stack.url}/admin/auth/user/")
    page.check("#action-toggle")
    assert page.locator("input.action-select").first.is_checked()
    assert "selected" in page.locator(".action-counter").inner_text()


def test_the_lockout_page_shows_after_repeated_wrong_passwords(stack, new_page, officer, settings):
    page = new_page()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        page.goto(f"{stack.url}/accounts/login/")
        page.fill("#id_username", officer.username)
        page.fill("#id_password", "not the password")
        page.press("#id_password", "Enter")
        page.wait_for_load_state()
    assert "Too many failed sign-ins" in page.content()
