"""The analysts' audit trail: every search, saved-query change and export, with who and from where.

Reports describe real people's whereabouts, so looking at them is itself
something to account for. Entry points call :func:`record` next to the work;
nothing edits or deletes an entry afterwards (the admin is read-only).
"""

from __future__ import annotations

import logging

from analytics.models import AuditEntry
from peacewatch.logs import log

logger = logging.getLogger(__name__)


def record(user, action: str, query: dict | None = None, *, ip: str | None = None, **detail) -> AuditEntry:
    """Write one entry; ``detail`` holds what identifies the action (ids, names, totals)."""
    authenticated = user is not None and user.is_authenticated
    entry = AuditEntry.objects.create(
        user=user if authenticated else None,
        username=user.get_username() if authenticated else "",
        action=AuditEntry.Action(action),
        query=query,
        detail=detail,
        ip=ip or None,
    )
    log(logger, logging.INFO, "analytics_audit", action=action, username=entry.username, **detail)
    return entry


def client_ip(request) -> str | None:
    """The client's address as the server saw it.

    Behind a reverse proxy this is the proxy unless daphne runs with
    ``--proxy-headers``, which makes REMOTE_ADDR the forwarded client; a
    client-supplied X-Forwarded-For is not trusted here on purpose.
    """
    return request.META.get("REMOTE_ADDR") or None
