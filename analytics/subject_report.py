"""Everything PeaceWatch holds about one subject, for oversight and subject-access requests.

``python manage.py subject report NAME_OR_ID`` (issue 14, point 6) gathers, for
a recognition id or a name: the alerts raised on them and every action taken
on each, the sightings those alerts hold, every stored report that saw them
(the analytics engines and the archive, through the same search as the
analysts' timeline, so the same rules), and who looked them up (the audit
log's searches and alert changes naming them). Running it is itself recorded.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import msgspec
from django.db.models import Q

from alerts.models import Alert, AlertAction, Sighting
from alerts.services import alert_event
from analytics import audit
from analytics.models import AuditEntry
from analytics.query import parse_query
from analytics.search import iter_hits

# The search model's longest range (analytics.query): ten years back from now.
LONGEST = timedelta(days=3650)


def _when(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _alerts(subject: str) -> list[dict]:
    alerts = list(Alert.objects.filter(Q(subject=subject) | Q(citizen=subject)).order_by("raised_at", "id"))
    actions: dict[int, list[dict]] = {}
    for action in AlertAction.objects.filter(alert_ref__in=[a.pk for a in alerts]).select_related("by"):
        actions.setdefault(action.alert_ref, []).append(
            {"at": _when(action.at), "by": action.by.get_username() if action.by else None,
             "action": action.action, "detail": action.detail}
        )  # fmt: skip
    rows = []
    for alert in alerts:
        row = msgspec.to_builtins(alert_event(alert, "").alert)
        row["subject"] = alert.subject
        row["note"] = alert.note
        row["actions"] = actions.get(alert.pk, [])
        rows.append(row)
    return rows


def _sightings(subject: str) -> list[dict]:
    sightings = Sighting.objects.filter(Q(subject=subject) | Q(alert__citizen=subject)).order_by("observed_at", "id")
    return [
        {"alert_id": s.alert_id, "observed_at": _when(s.observed_at), "drone_id": s.drone_id,
         "report_id": s.report_id, "lat": s.lat, "lon": s.lon, "peacescore": s.peacescore}
        for s in sightings
    ]  # fmt: skip


def _reports(subject: str, since: datetime, now: datetime, progress) -> list[dict]:
    """Every stored report that saw the subject, by id or by name, each once, oldest first."""
    seen: dict[tuple[str, str], dict] = {}
    for match in ({"key": subject}, {"name": subject, "match": "exact"}):
        query = parse_query({"time": {"from": since.isoformat(), "to": now.isoformat()}, "citizen": match,
                             "sort": "oldest"})  # fmt: skip
        for hit in iter_hits(query, now=now):
            seen.setdefault((hit["drone_id"], hit["report_id"]), hit)
            if progress is not None and len(seen) % 1000 == 0:
                progress(f"{len(seen):,} reports found")
    return sorted(seen.values(), key=lambda hit: (hit["observed_at"], hit["drone_id"], hit["report_id"]))


def _accesses(subject: str) -> list[dict]:
    """Who looked the subject up: searches filtered on them, changes to their alerts, earlier reports."""
    entries = AuditEntry.objects.filter(
        Q(action="search", detail__looked_at__key=subject)
        | Q(action="search", detail__looked_at__name=subject)
        | Q(action="alert.change", detail__subject=subject)
        | Q(action="subject.report", detail__subject=subject)
    ).order_by("seq")
    return [
        {"seq": e.seq, "at": _when(e.at), "username": e.username, "action": e.action, "ip": e.ip,
         "purpose": e.detail.get("purpose"), "detail": e.detail}
        for e in entries
    ]  # fmt: skip


def subject_report(
    subject: str, *, reason: str, since: datetime | None = None, progress: Callable[[str], None] | None = None
) -> dict:
    """The report, as JSON-ready data; recorded in the audit log with the reason given."""
    now = datetime.now(tz=UTC)
    since = max(since or now - LONGEST, now - LONGEST + timedelta(minutes=1))
    if progress:
        progress("alerts and sightings")
    alerts, sightings = _alerts(subject), _sightings(subject)
    if progress:
        progress("stored reports")
    reports = _reports(subject, since, now, progress)
    accesses = _accesses(subject)
    counts = {"alerts": len(alerts), "sightings": len(sightings), "reports": len(reports), "accesses": len(accesses)}
    audit.record(None, "subject.report", subject=subject, reason=reason, os_user=getpass.getuser(), **counts)
    return {
        "subject": subject,
        "generated_at": now.isoformat(),
        "reports_since": since.isoformat(),
        "counts": counts,
        "alerts": alerts,
        "sightings": sightings,
        "reports": reports,
        "accesses": accesses,
    }
