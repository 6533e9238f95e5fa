"""A second factor (TOTP, RFC 6238) for local accounts, required for staff (admins, auditors).

Staff accounts can change the fleet, users and roles, or read who looked at
whom: a password alone is not enough. Sign-in asks for the one-time code of an
account that has an authenticator; a staff account without one is sent, right
after its password, to set one up, and reaches nothing else until it has
(:class:`SecondFactorMiddleware`). Other accounts may set one up too, and are
then asked for it. Codes come from django-otp's TOTP devices (throttled after
failures); a wrong code counts as a failed sign-in for the lockout
(``peacewatch/auth.py``) and the audit log. A lost authenticator: an admin
deletes the user's TOTP device in the admin (*OTP_TOTP → TOTP devices*), and
the user sets up a new one at their next sign-in.
"""

from __future__ import annotations

import base64
from urllib.parse import quote

import django_otp
import segno
from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django_otp.plugins.otp_totp.models import TOTPDevice

from peacewatch import accountability as audit
from peacewatch import problems
from peacewatch.single_sign_on import signed_in_here

SETUP_URL = "/accounts/second-factor/"
# Reachable before the second factor: signing in and out, setting it up, and what needs no user.
OPEN_PREFIXES = ("/accounts/", "/static/", "/healthz", "/readyz", "/favicon.ico")


def required_for(user) -> bool:
    """Whether this signed-in user must pass a second factor before anything else."""
    return settings.SECOND_FACTOR_FOR_STAFF and (user.is_staff or user.is_superuser)


def _code(value: str | None) -> str:
    return "".join((value or "").split())


class SignInForm(AuthenticationForm):
    """Username and password, and the one-time code once the account has an authenticator."""

    otp_token = forms.CharField(
        required=False,
        max_length=12,
        label="One-time code",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def clean(self):
        cleaned = super().clean()  # the password first: no hint whether the account has a second factor
        user = self.get_user()
        if user is not None and django_otp.user_has_device(user, confirmed=True):
            token = _code(cleaned.get("otp_token"))
            device = django_otp.match_token(user, token) if token else None
            if device is None:
                # The lockout and the audit log count it like a wrong password.
                user_login_failed.send(
                    sender=__name__, credentials={"username": user.get_username()}, request=self.request
                )
                raise forms.ValidationError(
                    "Give the one-time code from your authenticator: this one is missing, wrong or already used.",
                    code="otp",
                )
            user.otp_device = device  # django_otp marks the session verified at login
        return cleaned


class SecondFactorMiddleware:
    """Staff without a verified second factor reach only sign-in, sign-out and the set-up page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and required_for(user)
            and not user.is_verified()
            and not signed_in_here(request)  # the identity provider asked for its own second factor
            and not request.path.startswith(OPEN_PREFIXES)
        ):
            if request.path.startswith("/api/"):
                detail = f"a second factor is required for this account: set it up at {SETUP_URL}"
                return problems.response(403, detail, request=request)
            return redirect(f"{SETUP_URL}?next={quote(request.get_full_path())}")
        return self.get_response(request)


def _secret(device: TOTPDevice) -> str:
    return base64.b32encode(device.bin_key).decode()


@login_required
def setup(request: HttpRequest) -> HttpResponse:
    """Set up an authenticator (or, for an account that has one, give its code for this session)."""
    user = request.user
    next_url = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = "/"
    has_one = django_otp.user_has_device(user, confirmed=True)
    if has_one and user.is_verified():
        return render(request, "registration/second_factor.html", {"done": True, "next": next_url})
    # Without a confirmed authenticator: one waiting for its first code (kept across reloads).
    pending = None if has_one else TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if not has_one and pending is None:
        pending = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
    error = ""
    if request.method == "POST":
        token = _code(request.POST.get("otp_token"))
        device = django_otp.match_token(user, token) if has_one and token else None
        if pending is not None and token and pending.verify_token(token):
            pending.confirmed = True
            pending.save(update_fields=["confirmed"])
            device = pending
            audit.record(user, "auth.second_factor", ip=audit.client_ip(request), change="set up")
        if device is not None:
            django_otp.login(request, device)
            return redirect(next_url)
        error = "That code is wrong or expired: give the code your authenticator shows now."
        user_login_failed.send(sender=__name__, credentials={"username": user.get_username()}, request=request)
    context = {"has_one": has_one, "error": error, "next": next_url, "required": required_for(user)}
    if pending is not None:
        # The QR code is inline SVG (no script, no image request): allowed by the page's policy.
        context |= {
            "secret": _secret(pending),
            "config_url": pending.config_url,
            "qr": mark_safe(
                segno.make(pending.config_url, error="m").svg_inline(scale=4, title="Authenticator set-up code")
            ),
        }
    return render(request, "registration/second_factor.html", context)
