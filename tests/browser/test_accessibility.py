"""The pages, checked by axe-core (WCAG 2.1 A and AA, and axe's best practices) at laptop and phone size.

Sign-in, the live map (with its legend, a card's details and a bulk confirmation open), the 403
page, analytics with results, the citizen timeline, the API reference, and the admin: its sign-in, the
second factor's set-up, the lists and forms an administrator works in and a confirmation.

Zero violations is the rule: a failure lists each rule broken and the elements at fault.
"""

from urllib.parse import urlencode

import pytest

from tests.browser.accessibility import violations
from tests.browser.test_alert_list import raise_alerts, silence_a_drone
from tests.browser.test_analytics import sign_in as analyst_sign_in
from tests.browser.test_analytics import wait_idle, web  # noqa: F401 (a fixture)
from tests.browser.test_live_map import sign_in as officer_sign_in
from tests.test_second_factor import totp

pytestmark = pytest.mark.django_db(transaction=True)
VIEWPORTS = [(1440, 900), (390, 844)]


def check(page, what: str, *, cssom: bool = True) -> None:
    found = violations(page, cssom=cssom)
    assert not found, f"{what}: {found}"
    # And on a phone, nothing wider than the screen: wide tables scroll inside their own box.
    if page.viewport_size["width"] < 600:
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], f"{what}: {widths[0]} px wide on a {widths[1]} px screen"


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_the_officers_pages_have_no_accessibility_violations(stack, new_page, officer, viewport):
    raise_alerts(12, critical_every=4)
    silence_a_drone()
    page = new_page(viewport)
    page.goto(f"{stack.url}/accounts/login/")
    check(page, "sign-in page")
    officer_sign_in(page, stack, officer.username)
    page.locator("#alert-list li").nth(12).wait_for()
    check(page, "live map")
    page.click(".map-legend summary")
    first = page.locator("#alert-list li").first
    first.locator("button.details-toggle").click()
    first.locator(".details-history li").first.wait_for()
    page.click("#select-shown")
    page.click("#bulk-acknowledged")
    check(page, "live map with the legend, a card's details and a bulk confirmation open")
    page.goto(f"{stack.url}/analytics/")
    check(page, "the page an officer gets for analytics (403)")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_the_analysts_pages_have_no_accessibility_violations(web, new_page, analyst, viewport):  # noqa: F811
    page = new_page(viewport)
    analyst_sign_in(page, web, analyst.username)
    check(page, "analytics with results")
    top = page.evaluate("window.peacewatchAnalytics.result.aggregations.top_citizens[0]")
    page.goto(f"{web.url}/analytics/citizen/?{urlencode({'name': top['name'], 'key': top['key']})}")
    page.wait_for_load_state("networkidle")
    check(page, "citizen timeline")
    page.goto(f"{web.url}/api/docs/")
    page.get_by_role("link", name="POST /api/v1/reports/search").click()
    check(page, "API reference, at the search operation")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_the_admin_pages_have_no_accessibility_violations(stack, new_page, admin_user, viewport):
    from ingest import fleet
    from ingest.models import Drone

    fleet.register_drone(Drone(drone_id="pw-north", squad="north"))
    fleet.register_drone(Drone(drone_id="pw-loose"))  # no squad: the squad filter still names its link
    page = new_page(viewport)
    page.goto(f"{stack.url}/admin/login/?next=/admin/")
    check(page, "admin sign-in")
    page.fill("#id_username", admin_user.username)
    page.fill("#id_password", "correct-horse-battery")
    page.press("#id_password", "Enter")
    page.wait_for_url(f"{stack.url}/accounts/second-factor/?next=/admin/")
    check(page, "second factor set-up")
    page.fill("#id_otp_token", totp(page.input_value("#totp-secret")))
    page.press("#id_otp_token", "Enter")
    page.wait_for_url(f"{stack.url}/admin/")
    for path in (
        "/admin/",
        "/admin/ingest/drone/",
        "/admin/ingest/drone/pw-north/change/",
        "/admin/alerts/alert/",
        "/admin/alerts/alertsettings/",
        "/admin/auth/user/",
    ):
        page.goto(f"{stack.url}{path}")
        check(page, path)
    # The add form's stylesheet @imports another, which axe can only read by injecting a <style>
    # that the policy refuses: checked without it (see accessibility.violations).
    page.goto(f"{stack.url}/admin/ingest/drone/add/")
    check(page, "/admin/ingest/drone/add/", cssom=False)
    page.goto(f"{stack.url}/admin/ingest/drone/")
    page.check("#action-toggle")
    page.select_option("select[name=action]", "retire")
    page.click("button[name=index]")
    page.get_by_role("heading", level=1, name="Retire 2 drones?").wait_for()
    check(page, "confirmation of an admin action")
