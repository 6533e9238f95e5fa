"""The officer's side of an alert: status changes, assignment, notes.

Each change is a verb on one alert, checked against the legal transitions,
recorded (who, what, when) and written with its ``alert.updated`` event to the
outbox in the same transaction, so every officer's screen hears of it.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from alerts.events import UPDATED
from alerts.models import Alert, AlertAction
from alerts.services import numbered_changes, write_events
from peacewatch import accountability as audit
from peacewatch.roles import OFFICER, has_role

Status = Alert.Status

# new -> acknowledged -> resolved; dismissed (a false positive) from any open state.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.NEW: frozenset({Status.ACKNOWLEDGED, Status.DISMISSED}),
    Status.ACKNOWLEDGED: frozenset({Status.RESOLVED, Status.DISMISSED}),
    Status.RESOLVED: frozenset(),
    Status.DISMISSED: frozenset(),
}
MAX_NOTE = 4000


class AlertChangeError(ValueError):
    """An officer asked for something the workflow does not allow; the message says why.

    ``field`` names the input at fault; ``conflict`` says the alert's current
    state, not the input, is why (a 409 over HTTP rather than a 400).
    """

    def __init__(self, message: str, *, field: str | None = None, conflict: bool = False) -> None:
        super().__init__(message)
        self.field, self.conflict = field, conflict


def update_alert(
    alert_id: int,
    *,
    by,
    status: str | None = None,
    assigned_to: str | object | None = ...,
    note: str | None = None,
    ip: str | None = None,
) -> Alert:
    """Apply an officer's changes to one alert atomically; ``...`` means "leave as is".

    The audit log gets the change in the same transaction (``ip``: where it came from).
    """
    with transaction.atomic(), numbered_changes() as seq:
        alert = Alert.objects.select_for_update().get(pk=alert_id)
        now = timezone.now()
        actions: list[AlertAction] = []
        if status is not None and status != alert.status:
            _change_status(alert, status, by, now)
            actions.append(AlertAction(alert=alert, alert_ref=alert.pk, at=now, by=by, action=status))
        elif status is not None:
            raise AlertChangeError(f"alert {alert_id} is already {status}", field="status", conflict=True)
        if assigned_to is not ...:
            officer = _officer(assigned_to) if assigned_to else None
            alert.assigned_to = officer
            actions.append(
                AlertAction(
                    alert=alert,
                    alert_ref=alert.pk,
                    at=now,
                    by=by,
                    action="assigned",
                    detail=officer.username if officer else "",
                )
            )
        if note is not None:
            if len(note) > MAX_NOTE:
                raise AlertChangeError(f"the note is {len(note)} characters, the limit is {MAX_NOTE}", field="note")
            alert.note = note
            actions.append(AlertAction(alert=alert, alert_ref=alert.pk, at=now, by=by, action="noted", detail=note))
        if not actions:
            raise AlertChangeError("nothing to change: give status, assigned_to or note")
        alert.updated_at = now
        alert.version = F("version") + 1
        alert.seq = seq.next()
        alert.save()
        alert.refresh_from_db()
        AlertAction.objects.bulk_create(actions)
        write_events([(alert, UPDATED)])
        audit.record(
            by,
            "alert.change",
            ip=ip,
            alert_id=alert.pk,
            kind=alert.kind,
            subject=alert.subject,
            changes=[{"action": action.action, "detail": action.detail} for action in actions],
        )
    return alert


def acknowledge_alert(alert_id: int, *, by) -> Alert:
    return update_alert(alert_id, by=by, status=Status.ACKNOWLEDGED)


def resolve_alert(alert_id: int, *, by) -> Alert:
    return update_alert(alert_id, by=by, status=Status.RESOLVED)


def dismiss_alert(alert_id: int, *, by) -> Alert:
    return update_alert(alert_id, by=by, status=Status.DISMISSED)


def _change_status(alert: Alert, status: str, by, now) -> None:
    if status not in Status.values:
        raise AlertChangeError(f"unknown status {status!r}; one of {', '.join(Status.values)}", field="status")
    if status not in TRANSITIONS[alert.status]:
        allowed = ", ".join(sorted(TRANSITIONS[alert.status])) or "none, it is closed"
        raise AlertChangeError(
            f"cannot go from {alert.status} to {status} (allowed: {allowed})", field="status", conflict=True
        )
    alert.status = status
    if status == Status.ACKNOWLEDGED:
        alert.acknowledged_by, alert.acknowledged_at = by, now
    else:
        alert.closed_by, alert.closed_at = by, now


def _officer(username: str):
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None or not has_role(user, OFFICER):
        raise AlertChangeError(f"{username!r} is not an active officer", field="assigned_to")
    return user
