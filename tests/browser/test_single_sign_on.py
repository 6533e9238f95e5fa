"""Single sign-on (issue 14, point 2) in a real Chromium, against a real OpenID Connect provider and the real stack.

The provider is panva's oidc-provider (npm) on loopback: the browser signs in
on its pages, PeaceWatch exchanges the code, checks the ID token's signature
and reads the person's roles and squads from the claims.
"""

import time

import pytest

from ingest.models import Drone
from tests.factories import citizen, report
from tests.identity_provider import IdentityProvider
from tests.kafka import produce_sync

pytestmark = pytest.mark.django_db(transaction=True)

ACCOUNTS = {
    "nora.north": {"roles": ["officer"], "squads": ["north"], "given_name": "Nora", "family_name": "North"},
    "ada.admin": {"roles": ["admin"], "squads": ["*"]},
    "carl.clerk": {"roles": ["canteen"]},  # nothing PeaceWatch knows
}


@pytest.fixture
def provider(tmp_path):
    idp = IdentityProvider(directory=tmp_path / "directory.json")
    yield idp
    idp.stop()


@pytest.fixture
def stack_env(provider, stack_port) -> dict[str, str]:
    """The stack (tests/browser/conftest.py) with single sign-on at ``provider``."""
    provider.start(f"http://127.0.0.1:{stack_port}/oidc/callback/", ACCOUNTS)
    return provider.relying_party_env()


def sign_on(page, stack, provider, login: str) -> None:
    """Through the provider's own pages: PeaceWatch's button, the provider's sign-in, its consent."""
    page.goto(f"{stack.url}/accounts/login/")
    page.get_by_role("link", name="Sign in with Test Police Identity").click()
    page.wait_for_url("http://127.0.0.1:*/interaction/*")
    assert page.url.startswith(provider.issuer)
    page.fill('input[name="login"]', login)
    page.fill('input[name="password"]', "whatever-the-provider-checks")
    page.click('button[type="submit"]')
    page.get_by_role("button", name="Continue").click()  # consent to PeaceWatch reading the claims


def alerts_raised(*names: str, timeout: float = 20) -> dict:
    from alerts.models import Alert

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = dict(Alert.objects.filter(citizen__in=names).values_list("citizen", "pk"))
        if len(found) == len(names):
            return found
        time.sleep(0.1)
    raise AssertionError(f"alerts for {names} not raised, only {found}")


def test_an_officer_signs_in_at_the_provider_and_sees_only_their_squads_alerts(stack, provider, new_page):
    from analytics.models import AuditEntry
    from peacewatch.models import SignOnIdentity

    Drone.objects.create(drone_id="pw-north-1", squad="north", token_hash="x" * 64)
    Drone.objects.create(drone_id="pw-south-1", squad="south", token_hash="y" * 64)
    produce_sync([
        report(drone_id="pw-north-1", citizens=[citizen("Nina Before", 5.0)]),
        report(drone_id="pw-south-1", citizens=[citizen("Sam Before", 5.0)]),
    ])  # fmt: skip
    before = alerts_raised("Nina Before", "Sam Before")

    page = new_page()
    sign_on(page, stack, provider, "nora.north")
    page.wait_for_url(f"{stack.url}/")
    page.wait_for_function("window.peacewatchLive && window.peacewatchLive.connection === 'live'", timeout=15000)

    # The first load (REST): her squad's alert, not the other squad's.
    page.locator("#alert-list li", has_text="Nina Before").wait_for(timeout=5000)
    assert page.locator("#alert-list li", has_text="Sam Before").count() == 0
    assert not page.evaluate(f"window.peacewatchLive.hasMarker({before['Sam Before']})")
    # Live (WebSocket): the same.
    produce_sync([
        report(drone_id="pw-south-1", citizens=[citizen("Sam Live", 5.0)]),
        report(drone_id="pw-north-1", citizens=[citizen("Nina Live", 5.0)]),
    ])  # fmt: skip
    live = alerts_raised("Sam Live", "Nina Live")
    page.locator("#alert-list li", has_text="Nina Live").wait_for(timeout=5000)
    assert page.evaluate(f"window.peacewatchLive.hasMarker({live['Nina Live']})")
    assert page.locator("#alert-list li", has_text="Sam Live").count() == 0
    assert not page.evaluate(f"window.peacewatchLive.hasMarker({live['Sam Live']})")
    # The API the page uses says the same to anyone asking with her session.
    listed = page.evaluate("fetch('/api/v1/alerts/').then(r => r.json())")
    assert {a["citizen"] for a in listed["results"]} == {"Nina Before", "Nina Live"}

    identity = SignOnIdentity.objects.select_related("user").get(subject="nora.north")
    assert identity.issuer == provider.issuer
    user = identity.user
    assert (user.username, user.first_name, user.has_usable_password()) == ("nora.north", "Nora", False)
    assert set(user.groups.values_list("name", flat=True)) == {"officer", "squad:north"}
    signed_in = AuditEntry.objects.filter(action="auth.sign_in", user=user).get()
    assert signed_in.detail["backend"] == "peacewatch.single_sign_on.SingleSignOnBackend"


def test_roles_come_from_the_provider_at_each_sign_in_and_no_role_means_no_entry(
    stack, provider, new_page, analyst, django_user_model
):
    from analytics.models import AuditEntry

    page = new_page()
    sign_on(page, stack, provider, "carl.clerk")
    page.wait_for_url(f"{stack.url}/accounts/login/?sign_on=failed")
    assert "did not sign you in" in page.get_by_role("alert").inner_text()
    assert not django_user_model.objects.filter(username="carl.clerk").exists()
    refused = AuditEntry.objects.get(action="auth.sign_in_failed", username="carl.clerk")
    assert refused.detail["method"] == "single sign-on"

    # The provider makes him an analyst: his next sign-in gets him in, as one.
    provider.set_account("carl.clerk", {"roles": ["analyst"]})
    page = new_page()
    sign_on(page, stack, provider, "carl.clerk")
    page.wait_for_url(f"{stack.url}/analytics/")  # an analyst's landing page
    assert set(django_user_model.objects.get(username="carl.clerk").groups.values_list("name", flat=True)) == {
        "analyst"
    }
    # And takes it back: the next sign-in ends with the role gone and no entry.
    provider.set_account("carl.clerk", {"roles": []})
    page = new_page()
    sign_on(page, stack, provider, "carl.clerk")
    page.wait_for_url(f"{stack.url}/accounts/login/?sign_on=failed")
    assert AuditEntry.objects.filter(action="auth.sign_in_failed", username="carl.clerk").count() == 2

    # Local accounts still sign in on the same page (break-glass).
    page = new_page()
    page.goto(f"{stack.url}/accounts/login/")
    page.fill("#id_username", analyst.username)
    page.fill("#id_password", "correct-horse-battery")
    page.press("#id_password", "Enter")
    page.wait_for_url(f"{stack.url}/analytics/")


def test_an_admin_from_the_provider_reaches_the_admin_site_with_the_providers_second_factor(
    stack, provider, new_page, django_user_model
):
    page = new_page()
    sign_on(page, stack, provider, "ada.admin")
    page.wait_for_url(f"{stack.url}/admin/")  # not sent to set up PeaceWatch's own TOTP
    page.get_by_role("link", name="Drones").first.wait_for(timeout=5000)
    ada = django_user_model.objects.get(username="ada.admin")
    assert ada.is_staff and not ada.is_superuser
    assert set(ada.groups.values_list("name", flat=True)) == {"admin", "squad:*"}
