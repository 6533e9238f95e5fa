"""Sign-in lockout: django-axes' check, for sign-ins that come with a request, and a limit per address.

Every sign-in from outside (the login page, the admin's, DRF's session login)
passes its request to ``authenticate``, and gets the lockout checks. Code that
calls ``authenticate`` without one (a shell, a script, Django's test client)
has no client address to rate-limit; axes would raise there, so it is skipped.

Axes locks one username at one address (LOGIN_FAILURE_LIMIT): a police station
shares one NAT address, and a lock per username alone would let anyone lock an
officer out. Against one address trying many usernames (password spraying), the
failures of all usernames from that address also count, to a higher limit
(LOGIN_ADDRESS_FAILURE_LIMIT) over the same cool-off.
"""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from axes.exceptions import AxesBackendPermissionDenied
from axes.helpers import get_client_ip_address
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.utils import timezone


def address_failures(ip_address: str | None) -> int:
    """Failed sign-ins from this address, whatever the username, within the cool-off."""
    if not ip_address:
        return 0
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    attempts = AccessAttempt.objects.filter(ip_address=ip_address, attempt_time__gte=since)
    return attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0


class LoginLockoutBackend(AxesStandaloneBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        if address_failures(get_client_ip_address(request)) >= settings.LOGIN_ADDRESS_FAILURE_LIMIT:
            request.axes_locked_out = True  # AxesMiddleware answers with the lockout page (429)
            raise AxesBackendPermissionDenied("too many failed sign-ins from this address")
        return super().authenticate(request, username=username, password=password, **kwargs)
