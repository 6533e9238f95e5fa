"""The Django admin and the sign-in lockout in a real browser, under the production Content-Security-Policy.

The ``new_page`` fixture fails a test on any policy violation the browser reports.
"""

import pytest

from ingest import fleet, tokens
from ingest.models import Drone
from tests.test_second_factor import totp

pytestmark = pytest.mark.django_db(transaction=True)


def sign_in_to_the_admin(page, stack, admin_user) -> None:
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


def test_an_admin_signs_in_and_uses_the_admin_without_policy_violations(stack, new_page, admin_user):
    page = new_page()
    sign_in_to_the_admin(page, stack, admin_user)
    for path in ("/admin/ingest/drone/", "/admin/ingest/drone/add/", "/admin/alerts/alert/", "/admin/auth/user/"):
        response = page.goto(f"{stack.url}{path}")
        assert response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
    # The admin's own scripts run under the policy: "select all" is JavaScript (actions.js).
    page.goto(f"{stack.url}/admin/auth/user/")
    page.check("#action-toggle")
    assert page.locator("input.action-select").first.is_checked()
    assert "selected" in page.locator(".action-counter").inner_text()


@pytest.mark.parametrize("viewport", [(1440, 900), (390, 844)])
def test_a_new_token_is_issued_only_after_confirmation_and_copies_with_one_click(stack, new_page, admin_user, viewport):
    old = {drone_id: fleet.register_drone(Drone(drone_id=drone_id)) for drone_id in ("pw-a", "pw-b", "pw-c")}
    page = new_page(viewport)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.url)
    sign_in_to_the_admin(page, stack, admin_user)
    page.goto(f"{stack.url}/admin/ingest/drone/")
    page.check("#action-toggle")  # the whole page: the mistake this confirmation is for
    page.select_option("select[name=action]", "issue_new_token")
    page.click("button[name=index]")

    assert "Issue new tokens to 3 drones." in page.inner_text("#content")
    assert all(tokens.drone_for_token(token) for token in old.values())  # nothing changed yet
    page.click("input[type=submit][value^='Yes']")

    page.wait_for_selector("button.copy-token")
    assert page.locator("button.copy-token").count() == 3
    assert not any(tokens.drone_for_token(token) for token in old.values())
    first = page.locator("code.issued-token").first.inner_text()
    page.locator("button.copy-token").first.click()
    page.wait_for_function("document.querySelector('button.copy-token').textContent === 'Copied'")
    assert page.evaluate("navigator.clipboard.readText()") == first
    assert tokens.drone_for_token(first) is not None
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_the_lockout_page_shows_after_repeated_wrong_passwords(stack, new_page, officer, settings):
    page = new_page()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        page.goto(f"{stack.url}/accounts/login/")
        page.fill("#id_username", officer.username)
        page.fill("#id_password", "not the password")
        page.press("#id_password", "Enter")
        page.wait_for_load_state()
    assert "Too many failed sign-ins" in page.content()


@pytest.mark.parametrize("viewport", [(1440, 900), (390, 844)])
def test_alert_settings_refuse_a_critical_threshold_not_below_the_alert_one(stack, new_page, admin_user, viewport):
    from alerts.models import AlertSettings

    AlertSettings.load()
    page = new_page(viewport)
    sign_in_to_the_admin(page, stack, admin_user)
    page.goto(f"{stack.url}/admin/alerts/alertsettings/1/change/")
    page.fill("#id_threshold", "15")
    page.fill("#id_critical_threshold", "30")  # the finding: critical above the alert threshold was kept
    page.click("input[name=_save]")
    error = page.locator(".field-critical_threshold .errorlist")
    assert "below the alert threshold" in error.inner_text()
    settings = AlertSettings.load()
    assert settings.critical_threshold < settings.threshold  # nothing saved
