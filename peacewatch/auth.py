"""Sign-in lockout: django-axes' check, for sign-ins that come with a request.

Every sign-in from outside (the login page, the admin's, DRF's session login)
passes its request to ``authenticate``, and gets the lockout check. Code that
calls ``authenticate`` without one (a shell, a script, Django's test client)
has no client address to rate-limit; axes would raise there, so it is skipped.
"""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend


class LoginLockoutBackend(AxesStandaloneBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
