"""Sessions end after a shift and after inactivity.

Django's own expiry slides: a session saved on a request gets a new expiry.
So the session remembers when its user signed in and when they were last
seen, and :class:`SessionLimitsMiddleware` signs out a session older than
``SESSION_MAX_AGE`` (a shift; 12 h by default) or idle for longer than
``SESSION_IDLE_TIMEOUT`` (1 h). The live map's WebSocket counts as use (an
officer watching it is at work), but not past the shift: the live hub's user
check closes it then (``alerts.live.still_signed_in_officers``).
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.contrib.auth import logout

from peacewatch.logs import log

logger = logging.getLogger(__name__)

SIGNED_IN_AT = "pw_signed_in_at"
SEEN_AT = "pw_seen_at"
SEEN_EVERY_S = 60  # how stale "last seen" may be: no session write on every request


def on_sign_in(sender, request, user, **kwargs) -> None:
    session = getattr(request, "session", None)
    if session is not None:
        now = time.time()
        session[SIGNED_IN_AT] = session[SEEN_AT] = now


def ended(session, now: float, *, idle: bool = True) -> str | None:
    """Why this signed-in session is over ("shift" or "idle"), or None while it may go on."""
    signed_in_at = session.get(SIGNED_IN_AT)
    if not isinstance(signed_in_at, int | float) or now - signed_in_at > settings.SESSION_MAX_AGE:
        # A session from before these limits has no start: it ends as a shift would.
        return "shift"
    seen_at = session.get(SEEN_AT, signed_in_at)
    if idle and isinstance(seen_at, int | float) and now - seen_at > settings.SESSION_IDLE_TIMEOUT:
        return "idle"
    return None


class SessionLimitsMiddleware:
    """Sign out a session past its shift or idle too long; otherwise note that its user was seen."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = time.time()
            reason = ended(request.session, now)
            if reason is not None:
                log(logger, logging.INFO, "session_ended", username=user.get_username(), reason=reason)
                request.session_end_reason = reason  # for the audit entry of the sign-out
                logout(request)  # the request goes on as anonymous: pages ask to sign in, the API says 403
            elif now - request.session.get(SEEN_AT, 0) >= SEEN_EVERY_S:
                request.session[SEEN_AT] = now
        return self.get_response(request)
