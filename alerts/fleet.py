"""Fleet health alerts: the ``drones`` consumer and offline detection, around ``ingest.health``.

``ingest.health`` keeps each drone's health and says what changed (drones
back from offline, drones gone silent with their last position); this module
decides what officers are told, and writes the alert change and its outbox
event in the same transaction as the drone change, so the two never disagree
after a crash.

Drone rows are always locked and written before any alert changes (alert
changes lock the change counter, ``alerts.services.numbered_changes``): the
consumer and offline detection take their locks in the same order.

Fleet silence storm: when at least FLEET_SILENCE_STORM_FRACTION of the online
fleet, and at least FLEET_SILENCE_STORM_MIN_DRONES drones, go quiet at once,
the pipeline (a consumer, the broker, a gateway) is the likely cause, not
thousands of drones. Offline detection then raises one ``pipeline`` alert
(subject "fleet") instead of a drone_offline alert per drone; the drones are
still marked offline, flagged ``in_storm``. While it is open, every drone that
goes silent joins it. It resolves itself at the first check where more than
half of its drones report again. Its drones still silent get their own
drone_offline alert once it has been closed for DRONE_OFFLINE_AFTER_S (the
fleet had time to catch up), so a drone lost during an outage is not missed.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from alerts.consumer import outcome_for_events
from alerts.models import Alert, AlertSettings
from alerts.services import Observation, PendingEvent, close_system_alert, raise_alerts
from ingest import health
from ingest.health import SilentDrone
from peacewatch.logs import log
from peacewatch.streams.batch import BatchOutcome, KafkaRecord

logger = logging.getLogger(__name__)

FLEET = "fleet"  # the subject of the pipeline alert: one open at a time
_SUBJECTS_PER_QUERY = 900  # under SQLite's oldest bound-parameter limit


def process_batch(records: list[KafkaRecord]) -> BatchOutcome:
    """The ``drones`` consumer: health from a batch of reports; a drone back online closes its alert."""
    seen, invalid = health.read_batch(records)
    with transaction.atomic():
        back = health.record_health(seen)
        events = _close_offline_alerts(back)
    outcome = outcome_for_events(events)
    outcome.records = len(records)
    outcome.counts.update(Counter(drones_seen=len(seen), invalid_skipped=invalid))
    return outcome


def _close_offline_alerts(drone_ids: list[str]) -> list[PendingEvent]:
    # Ask first which have an open alert: after a storm thousands of drones
    # come back in one batch, none with an alert of its own.
    with_alert: set[str] = set()
    for start in range(0, len(drone_ids), _SUBJECTS_PER_QUERY):
        with_alert.update(
            Alert.objects.filter(
                kind=Alert.Kind.DRONE_OFFLINE,
                subject__in=drone_ids[start : start + _SUBJECTS_PER_QUERY],
                status__in=Alert.OPEN_STATUSES,
            ).values_list("subject", flat=True)
        )
    events: list[PendingEvent] = []
    for drone_id in sorted(with_alert):
        events += close_system_alert(Alert.Kind.DRONE_OFFLINE, drone_id, reason="drone reporting again")
    return events


def detect_offline(now: datetime) -> list[PendingEvent]:
    """Mark drones silent for DRONE_OFFLINE_AFTER_S offline and alert officers; safe to run twice.

    One drone_offline alert per silent drone, or one pipeline alert for a
    fleet silence storm. Returns the outbox events written.
    """
    with transaction.atomic():
        silent = health.lock_silent(now)
        storm_open = Alert.objects.filter(
            kind=Alert.Kind.PIPELINE, subject=FLEET, status__in=Alert.OPEN_STATUSES
        ).exists()
        storm_ends = storm_open and _fleet_reports_again()
        if storm_ends:
            health.release_storm_returned()
        # Before this check's own silences are marked: those may start a storm, they do not end one.
        stragglers = health.lock_storm_stragglers() if not storm_open and _storm_long_over(now) else []
        joins_storm = storm_open and not storm_ends  # while a storm is open, every new silence is part of it
        starts_storm = bool(silent) and not joins_storm and _is_storm(now, len(silent))
        if silent:
            health.mark_offline(silent, now, in_storm=joins_storm or starts_storm)

        # Drone rows are written; now the alerts.
        events: list[PendingEvent] = []
        if storm_ends:
            events += close_system_alert(Alert.Kind.PIPELINE, FLEET, reason="the fleet is reporting again")
            log(logger, logging.INFO, "fleet_silence_storm_over")
        if starts_storm:
            events += raise_alerts([_storm_observation(silent, now)], AlertSettings.load())
        alone = stragglers + ([] if joins_storm or starts_storm else silent)
        if alone:
            events += raise_alerts([_offline_observation(d) for d in alone], AlertSettings.load())
    return events


def _is_storm(now: datetime, silent: int) -> bool:
    """Whether this silence is the fleet's, not each drone's.

    Counted over drones quiet for half the offline delay, not only those
    already past it: a stopped pipeline silences every drone at once, but they
    cross DRONE_OFFLINE_AFTER_S one by one over a report interval, so the
    first check sees only a part of them past it. Every one of them is
    already quiet by then (reports every minute, offline after three).
    """
    quiet_since = now - timedelta(seconds=settings.DRONE_OFFLINE_AFTER_S / 2)
    online, quiet = health.online_fleet(quiet_since=quiet_since)
    storm = quiet >= settings.FLEET_SILENCE_STORM_MIN_DRONES and quiet >= settings.FLEET_SILENCE_STORM_FRACTION * online
    if storm:
        log(logger, logging.WARNING, "fleet_silence_storm", online=online, quiet=quiet, silent=silent)
    return storm


def _fleet_reports_again() -> bool:
    """More than half of the storm's drones report again.

    With no drone left in it (all retired, say) nothing says the pipeline is
    back: the alert stays for an officer to resolve.
    """
    members, back = health.storm_tally()
    return members > 0 and 2 * back > members


def _storm_long_over(now: datetime) -> bool:
    """Drones are left in an ended storm, and the fleet has had DRONE_OFFLINE_AFTER_S to report since it ended."""
    if not health.storm_stragglers_exist():
        return False
    ended = (
        Alert.objects.filter(kind=Alert.Kind.PIPELINE, subject=FLEET, closed_at__isnull=False)
        .order_by("-closed_at")
        .values_list("closed_at", flat=True)
        .first()
    )
    return ended is None or ended <= now - timedelta(seconds=settings.DRONE_OFFLINE_AFTER_S)


def _offline_observation(drone: SilentDrone) -> Observation:
    return Observation(
        kind=Alert.Kind.DRONE_OFFLINE,
        subject=drone.drone_id,
        citizen=None,
        peacescore=None,
        drone_id=drone.drone_id,
        lat=drone.lat if drone.lat is not None else 0.0,
        lon=drone.lon if drone.lon is not None else 0.0,
        # One silence, one key: detecting it twice records one sighting, one alert.
        report_id=f"offline:{int(drone.last_seen_at.timestamp())}",
        observed_at=drone.last_seen_at,
    )


def _storm_observation(silent: Sequence[SilentDrone], now: datetime) -> Observation:
    placed = [d for d in silent if d.lat is not None and d.lon is not None]
    # Where the silence is on the map: the centroid of the silent drones' last
    # positions (a plain mean, right for one city's fleet; it would mislead
    # only across the antimeridian), 0,0 when none ever sent one.
    lat = sum(d.lat for d in placed) / len(placed) if placed else 0.0
    lon = sum(d.lon for d in placed) / len(placed) if placed else 0.0
    return Observation(
        kind=Alert.Kind.PIPELINE,
        subject=FLEET,
        citizen=None,
        peacescore=None,
        drone_id=FLEET,  # no one drone: the whole fleet
        lat=lat,
        lon=lon,
        report_id=f"storm:{int(now.timestamp())}",
        observed_at=max(d.last_seen_at for d in silent),  # when the fleet was last heard
    )
