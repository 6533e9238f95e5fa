"""Alert rules: raising alerts from reports, and the event outbox.

``raise_alerts`` is the single place a report becomes an alert. It is
idempotent: a sighting, keyed by (drone, report, subject), is recorded once,
so a replayed batch neither opens a second alert nor counts a sighting twice.
The subject is the citizen's id when the report gives one (CONTRACT v1.1),
else the name. A subject an officer dismissed stays quiet for the live
``dismissal_quiet_minutes``: its sightings are recorded on the dismissed
alert, which stays closed, and counted, but raise nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import DateTimeField
from django.utils import timezone

from alerts.events import CREATED, UPDATED, AlertEvent, AlertPayload, EventLocation, encode_event
from alerts.models import Alert, AlertSettings, ChangeCounter, OutboxEvent, Sighting
from ingest.reports import Received
from peacewatch import metrics
from peacewatch.db import lock_single_row


@dataclass(frozen=True, slots=True)
class Observation:
    """A subject seen in a report, below threshold (or a drone gone silent)."""

    kind: str
    subject: str
    citizen: str | None
    peacescore: float | None
    drone_id: str
    lat: float
    lon: float
    report_id: str
    observed_at: datetime
    citizen_id: str | None = None
    confidence: float | None = None


def observations_from(
    received: Iterable[Received], threshold: float, min_confidence: float | None = None
) -> list[Observation]:
    """Every citizen below ``threshold`` recognised with at least ``min_confidence`` (pure)."""
    found = []
    for item in received:
        report = item.report
        for citizen in report.citizens:
            if citizen.peacescore >= threshold:
                continue
            confidence = citizen.confidence
            # No confidence reported counts as certain: first-wave drones send
            # none, and a minimum set for the newer recognisers must not
            # silence every alert of the older ones.
            if confidence is not None and min_confidence is not None and confidence < min_confidence:
                continue
            found.append(
                Observation(
                    kind=Alert.Kind.CITIZEN,
                    # Two people may share a name, and one name may be spelled
                    # two ways: the recogniser's id, when given, says who it is.
                    subject=citizen.name if citizen.id is None else citizen.id,
                    citizen=citizen.name,
                    peacescore=citizen.peacescore,
                    drone_id=report.drone_id,
                    lat=report.location.lat,
                    lon=report.location.lon,
                    report_id=item.report_id,
                    observed_at=item.observed_at,
                    citizen_id=citizen.id,
                    confidence=confidence,
                )
            )
    return found


_USER_FIELDS = ("assigned_to", "acknowledged_by", "closed_by")
# The alert table's columns an event is made of, named after the event's own fields (AlertPayload).
_EVENT_COLUMNS = (
    *(name for name in AlertPayload.__struct_fields__ if name not in ("location", *_USER_FIELDS)),
    "lat",
    "lon",
    *(f"{name}_id" for name in _USER_FIELDS),
)
_DATETIME_COLUMNS = frozenset(name for name in _EVENT_COLUMNS if isinstance(Alert._meta.get_field(name), DateTimeField))


def alert_event(alert: Alert, event_type: str) -> AlertEvent:
    officers = [getattr(alert, name) for name in _USER_FIELDS]
    usernames = {user.pk: user.get_username() for user in officers if user is not None}
    return AlertEvent(event_type, _payload({name: getattr(alert, name) for name in _EVENT_COLUMNS}, usernames))


def _events_from_rows(rows: Sequence[dict]) -> list[tuple[int, int, AlertEvent]]:
    """(alert id, seq, event) for alert rows read straight from the table (``_EVENT_COLUMNS``).

    The alerts consumer's path: the same event ``alert_event`` makes from an
    ``Alert``, without building a model instance per alert, which cost more
    than the statements that wrote them.
    """
    user_ids = {row[f"{name}_id"] for row in rows for name in _USER_FIELDS} - {None}
    usernames = {}
    if user_ids:
        User = get_user_model()
        usernames = dict(User.objects.filter(pk__in=user_ids).values_list("pk", User.USERNAME_FIELD))
    return [
        (row["id"], row["seq"], AlertEvent(CREATED if row["version"] == 1 else UPDATED, _payload(row, usernames)))
        for row in rows
    ]


def _payload(row: Mapping, usernames: Mapping[int, str]) -> AlertPayload:
    """An alert's event payload from its columns (``_EVENT_COLUMNS``) and its officers' usernames by user id."""
    values = dict(row)
    for name in _DATETIME_COLUMNS:
        # PostgreSQL reads them aware; SQLite, read raw, naive in UTC (USE_TZ), as Django's converters know.
        if values[name] is not None and values[name].tzinfo is None:
            values[name] = values[name].replace(tzinfo=UTC)
    location = EventLocation(lat=values.pop("lat"), lon=values.pop("lon"))
    officers = {name: usernames.get(values.pop(f"{name}_id")) for name in _USER_FIELDS}
    return AlertPayload(location=location, **officers, **values)


# --- the change sequence ------------------------------------------------------------
class ChangeSeq:
    """The alert change sequence inside one transaction (see ``ChangeCounter`` for why a locked row)."""

    def __init__(self, last: int) -> None:
        self.last = last

    def next(self) -> int:
        self.last += 1
        return self.last


@contextmanager
def numbered_changes() -> Iterator[ChangeSeq]:
    """Number this transaction's alert changes; use inside ``transaction.atomic()``, before touching alerts.

    Locks the counter row until the transaction ends: taken first, it orders
    every alert-changing transaction (no deadlock with alert row locks) and
    makes changes visible in ``seq`` order.
    """
    table = connection.ops.quote_name(ChangeCounter._meta.db_table)
    # No counter row (a flushed test database): start after the highest seq in use.
    alerts = connection.ops.quote_name(Alert._meta.db_table)
    create = (
        f"INSERT INTO {{table}} (id, value) SELECT 1, COALESCE(MAX(seq), 0) FROM {alerts} WHERE 1 = 1"
        " ON CONFLICT (id) DO NOTHING"
    )
    (value,) = lock_single_row(ChangeCounter, ("value",), create)
    seq = ChangeSeq(value)
    first = seq.last
    yield seq
    if seq.last != first:
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET value = %s WHERE id = 1", [seq.last])


def current_seq() -> int:
    """The last change number committed (0 before any)."""
    return ChangeCounter.objects.filter(pk=1).values_list("value", flat=True).first() or 0


def raise_alerts(observations: Sequence[Observation], alert_settings: AlertSettings) -> list[PendingEvent]:
    """Open or update one alert per subject for the new observations, atomically.

    Returns the outbox events written (one per alert created or updated).
    """
    if not observations:
        return []
    with transaction.atomic(), numbered_changes() as seq:
        fresh = _drop_known_sightings(observations)
        if not fresh:
            return []
        per_subject: dict[tuple[str, str], list[Observation]] = {}
        for obs in fresh:
            per_subject.setdefault((obs.kind, obs.subject), []).append(obs)
        now = timezone.now()
        quiet = _quiet_after_dismissal(per_subject, alert_settings.dismissal_quiet_minutes, now)
        alerting = [group for key, group in per_subject.items() if key not in quiet]
        # Each observation time in the database's form once: sightings and alerts both write them.
        adapt = connection.ops.adapt_datetimefield_value
        db_times = {t: adapt(t) for t in {obs.observed_at for obs in fresh}}
        upserted = _upsert_open_alerts(alerting, alert_settings, now, seq, db_times) if alerting else {}
        _insert_sightings(fresh, {key: row["id"] for key, row in upserted.items()} | quiet, db_times)
        events = _write_outbox(_events_from_rows(sorted(upserted.values(), key=lambda row: row["seq"])))
    # Counted once committed: a rolled-back batch is replayed and counted then.
    for (kind, _subject), row in upserted.items():
        metrics.ALERTS_RAISED.labels(kind, "created" if row["version"] == 1 else "updated").inc()
    for kind, subject in quiet:
        metrics.ALERT_SIGHTINGS_QUIETED.labels(kind).inc(len(per_subject[(kind, subject)]))
    return events


def _quiet_after_dismissal(
    subjects: Iterable[tuple[str, str]], quiet_minutes: int, now: datetime
) -> dict[tuple[str, str], int]:
    """(kind, subject) -> its dismissed alert, for subjects still in their quiet time after a dismissal.

    Quiet when the subject's newest alert was dismissed less than
    ``quiet_minutes`` ago (arrival time, not the drone's clock: a lagging
    consumer catching up must not re-raise what an officer just dismissed).
    An alert opened since, or resolved last, means the subject is not quiet.
    """
    if not quiet_minutes:
        return {}
    wanted = set(subjects)
    cutoff = now - timedelta(minutes=quiet_minutes)
    # Every alert that matters changed after the cutoff (the dismissal itself,
    # or anything raised after it), so the updated_at index bounds this to
    # the last quiet_minutes of alert activity, however long the history.
    # Sorted here, not by the database: asked for ORDER BY id, SQLite walked
    # the whole table in id order instead of using that index.
    recent = sorted(
        Alert.objects.filter(subject__in={subject for _kind, subject in wanted}, updated_at__gte=cutoff)
        .order_by()
        .values_list("id", "kind", "subject", "status", "closed_at")
    )
    newest = {(kind, subject): (pk, status, closed_at) for pk, kind, subject, status, closed_at in recent}
    return {
        key: pk
        for key, (pk, status, closed_at) in newest.items()
        if key in wanted and status == Alert.Status.DISMISSED and closed_at is not None and closed_at >= cutoff
    }


def _insert_sightings(
    fresh: Sequence[Observation], alert_ids: dict[tuple[str, str], int], db_times: Mapping[datetime, object]
) -> None:
    # Plain executemany: the ORM's bulk_create builds a model per row, which
    # cost more than the rest of the alerts consumer put together.
    table = connection.ops.quote_name(Sighting._meta.db_table)
    rows = [
        (
            alert_ids[(obs.kind, obs.subject)],
            obs.report_id,
            obs.subject,
            obs.peacescore,
            obs.drone_id,
            obs.lat,
            obs.lon,
            db_times[obs.observed_at],
        )
        for obs in fresh
    ]
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} (alert_id, report_id, subject, peacescore, drone_id, lat, lon, observed_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            rows,
        )


_LOOKUP_IDS = 500  # ids per statement, well under SQLite's bound-parameter limit


def _drop_known_sightings(observations: Sequence[Observation]) -> list[Observation]:
    # A report is (drone_id, report_id) (CONTRACT v1.1): two drones may send the same
    # report_id. Looked up by report id alone, the unique index's first column (one
    # probe per id; "drone IN ... AND report IN ..." made the database probe every
    # pair), and the set below keeps only the exact triples.
    report_ids = list({obs.report_id for obs in observations})
    table = connection.ops.quote_name(Sighting._meta.db_table)
    known: set[tuple[str, str, str]] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(report_ids), _LOOKUP_IDS):
            chunk = report_ids[start : start + _LOOKUP_IDS]
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(f"SELECT drone_id, report_id, subject FROM {table} WHERE report_id IN ({marks})", chunk)
            known.update(map(tuple, cursor.fetchall()))
    seen: set[tuple[str, str, str]] = set()
    fresh = []
    for obs in observations:
        key = (obs.drone_id, obs.report_id, obs.subject)
        if key not in known and key not in seen:
            seen.add(key)
            fresh.append(obs)
    return fresh


_UPSERT_ROWS = 500  # rows per statement, well under SQLite's bound-parameter limit


def _upsert_open_alerts(
    groups: list[list[Observation]],
    alert_settings: AlertSettings,
    now: datetime,
    seq: ChangeSeq,
    db_times: Mapping[datetime, object],
) -> dict[tuple[str, str], dict]:
    """INSERT ... ON CONFLICT on the partial unique index: no read-then-write race.

    One statement per chunk of subjects (each group is one subject, so no two
    rows of a statement hit the same open alert, and each takes one change
    number). Works on SQLite (>= 3.35) and PostgreSQL alike. ``version`` is 1
    only for a row the statement inserted, which tells created from updated.
    Returns (kind, subject) -> the alert's columns as written (``_EVENT_COLUMNS``),
    what its event needs, read back by the same statement rather than a second query.
    """
    table = connection.ops.quote_name(Alert._meta.db_table)
    newer = f"excluded.observed_at >= {table}.observed_at"
    now_value = connection.ops.adapt_datetimefield_value(now)
    rows = []
    for group in groups:
        latest = max(group, key=lambda o: o.observed_at)
        first = min(group, key=lambda o: o.observed_at)
        scores = [o.peacescore for o in group if o.peacescore is not None]
        lowest = min(scores) if scores else None
        severity = alert_settings.severity(lowest) if lowest is not None else Alert.Severity.HIGH
        rows.append(
            [
                latest.kind,
                latest.subject,
                latest.citizen,
                lowest,
                severity,
                latest.drone_id,
                latest.lat,
                latest.lon,
                latest.report_id,
                db_times[latest.observed_at],
                db_times[first.observed_at],
                now_value,
                now_value,
                len(group),
                seq.next(),
                latest.citizen_id,
                latest.confidence,
            ]
        )
    result: dict[tuple[str, str], dict] = {}
    returning = ", ".join(("subject", *_EVENT_COLUMNS))
    for start in range(0, len(rows), _UPSERT_ROWS):
        chunk = rows[start : start + _UPSERT_ROWS]
        values = ", ".join(
            ["(%s, %s, %s, %s, %s, 'new', %s, %s, %s, %s, %s, %s, %s, %s, %s, 1, '', %s, %s, %s)"] * len(chunk)
        )
        sql = f"""
            INSERT INTO {table} (kind, subject, citizen, peacescore, severity, status, drone_id, lat, lon,
                                 report_id, observed_at, first_observed_at, raised_at, updated_at, sightings,
                                 version, note, seq, citizen_id, confidence)
            VALUES {values}
            ON CONFLICT (kind, subject) WHERE status IN ('new', 'acknowledged') DO UPDATE SET
                peacescore = CASE WHEN {table}.peacescore IS NULL OR excluded.peacescore < {table}.peacescore
                                  THEN excluded.peacescore ELSE {table}.peacescore END,
                severity = CASE WHEN excluded.severity = 'critical' THEN 'critical' ELSE {table}.severity END,
                citizen = CASE WHEN {newer} THEN excluded.citizen ELSE {table}.citizen END,
                drone_id = CASE WHEN {newer} THEN excluded.drone_id ELSE {table}.drone_id END,
                lat = CASE WHEN {newer} THEN excluded.lat ELSE {table}.lat END,
                lon = CASE WHEN {newer} THEN excluded.lon ELSE {table}.lon END,
                report_id = CASE WHEN {newer} THEN excluded.report_id ELSE {table}.report_id END,
                observed_at = CASE WHEN {newer} THEN excluded.observed_at ELSE {table}.observed_at END,
                confidence = CASE WHEN {newer} THEN excluded.confidence ELSE {table}.confidence END,
                citizen_id = COALESCE(excluded.citizen_id, {table}.citizen_id),
                seq = excluded.seq,
                sightings = {table}.sightings + excluded.sightings,
                updated_at = excluded.updated_at,
                version = {table}.version + 1
            RETURNING {returning}
        """
        with connection.cursor() as cursor:
            cursor.execute(sql, [param for row in chunk for param in row])
            for subject, *values in cursor.fetchall():
                row = dict(zip(_EVENT_COLUMNS, values, strict=True))
                result[(row["kind"], subject)] = row
    return result


def close_system_alert(kind: str, subject: str, *, reason: str = "condition cleared") -> list[PendingEvent]:
    """Resolve the open alert of ``kind`` for ``subject`` on the system's behalf (e.g. a drone back online)."""
    from alerts.models import AlertAction

    with transaction.atomic(), numbered_changes() as seq:
        # of=("self",): PostgreSQL cannot lock the nullable side of the joins to users.
        alert = (
            Alert.objects.select_for_update(of=("self",))
            .filter(kind=kind, subject=subject, status__in=Alert.OPEN_STATUSES)
            .select_related("assigned_to", "acknowledged_by")
            .first()
        )
        if alert is None:
            return []
        now = timezone.now()
        alert.status, alert.closed_at, alert.closed_by = Alert.Status.RESOLVED, now, None
        alert.updated_at = now
        alert.version += 1
        alert.seq = seq.next()
        alert.save(update_fields=["status", "closed_at", "closed_by", "updated_at", "version", "seq"])
        AlertAction.objects.create(alert=alert, at=now, by=None, action="resolved", detail=reason)
        return write_events([(alert, UPDATED)])


# --- outbox -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PendingEvent:
    """An alert event in the outbox, waiting to be published on peacewatch.alerts."""

    id: int
    alert_id: int
    payload: bytes


_OUTBOX_ROWS = 300


def write_events(changes: Sequence[tuple[Alert, str]]) -> list[PendingEvent]:
    """Write the event of each (changed alert, event type) to the outbox; call inside the alert's transaction."""
    return _write_outbox([(alert.pk, alert.seq, alert_event(alert, event_type)) for alert, event_type in changes])


def _write_outbox(events: Sequence[tuple[int, int, AlertEvent]]) -> list[PendingEvent]:
    """Write (alert id, seq, event) to the outbox, in that order; call inside the alerts' transaction."""
    if not events:
        return []
    table = connection.ops.quote_name(OutboxEvent._meta.db_table)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    encoded = [(alert_id, seq, encode_event(event)) for alert_id, seq, event in events]
    written: list[PendingEvent] = []
    with connection.cursor() as cursor:
        for start in range(0, len(encoded), _OUTBOX_ROWS):
            chunk = encoded[start : start + _OUTBOX_ROWS]
            values = ", ".join(["(%s, %s, %s, %s, NULL)"] * len(chunk))
            params = [p for alert_id, seq, payload in chunk for p in (alert_id, seq, payload, now)]
            cursor.execute(
                f"INSERT INTO {table} (alert_id, seq, payload, created_at, published_at) VALUES {values}"
                " RETURNING id, alert_id, payload",
                params,
            )
            written += [PendingEvent(pk, alert_id, bytes(payload)) for pk, alert_id, payload in cursor.fetchall()]
    return written


def pending_events(limit: int = 5000) -> list[PendingEvent]:
    rows = (
        OutboxEvent.objects.filter(published_at__isnull=True)
        .order_by("id")
        .values_list("id", "alert_id", "payload")[:limit]
    )
    return [PendingEvent(pk, alert_id, bytes(payload)) for pk, alert_id, payload in rows]


def mark_published(event_ids: Sequence[int]) -> None:
    if event_ids:
        OutboxEvent.objects.filter(pk__in=list(event_ids)).update(published_at=datetime.now(tz=UTC))


def prune_outbox(*, before: datetime) -> int:
    """Delete events published before ``before``; unpublished ones are never touched."""
    deleted, _ = OutboxEvent.objects.filter(published_at__lt=before).delete()
    return deleted
