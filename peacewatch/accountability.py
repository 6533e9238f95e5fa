"""How any app puts an action in the audit log without depending on the app that keeps it.

The audit log lives in ``analytics`` (``analytics.audit``), which already
depends on ``alerts`` and ``ingest``; so those call :func:`record` here, and
the audit log receives it by signal, synchronously, inside the caller's
transaction. Nothing listening is an error: an action must never go unrecorded.
"""

from __future__ import annotations

from django.dispatch import Signal

# Sent with user, action, query, ip and detail (a dict); analytics.apps connects the audit log.
action_taken = Signal()


class NotRecorded(RuntimeError):
    """No audit log is listening (the analytics app is not installed)."""


def record(user, action: str, query: dict | None = None, *, ip: str | None = None, **detail) -> None:
    if not action_taken.send(sender=None, user=user, action=action, query=query, ip=ip, detail=detail):
        raise NotRecorded(f"nothing records {action!r}: is the analytics app installed?")


def client_ip(request) -> str | None:
    """The client's address as the server saw it.

    Behind a reverse proxy this is the proxy unless daphne runs with
    ``--proxy-headers``, which makes REMOTE_ADDR the forwarded client; a
    client-supplied X-Forwarded-For is not trusted here on purpose.
    """
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None
