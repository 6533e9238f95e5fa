"""The drone registry: registered drones with their credentials and live health.

Registry fields (name, squad, status, token) change only through the verbs in
``ingest/fleet.py``; health fields are written by the ``drones`` consumer
(``ingest/health.py``) from the report stream, and by offline detection
(``alerts/fleet.py``). ``UnknownDrone`` counts reports
whose ``drone_id`` nobody registered, so admins can register or investigate them.
"""

from __future__ import annotations

import msgspec
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from ingest.reports import DroneId


def validate_drone_id(value: str) -> None:
    """The report's own rule for ``drone_id`` (CONTRACT section 1), not a copy of it."""
    try:
        msgspec.convert(value, DroneId)
    except msgspec.ValidationError as exc:
        raise ValidationError("1-64 characters of letters, digits, '.', '_' or '-'.", code="invalid") from exc


class DroneState(models.TextChoices):
    """What a person is told about a drone, from one rule (``Drone.state``): retired wins over what the stream says."""

    ONLINE = "online", "Online"
    OFFLINE = "offline", "Offline"
    NEVER_SEEN = "never_seen", "Never seen"
    RETIRED = "retired", "Retired"


class DroneQuerySet(models.QuerySet):
    def low_battery(self) -> DroneQuerySet:
        return self.filter(battery_pct__lt=settings.DRONE_LOW_BATTERY_PCT)

    def in_state(self, state: str) -> DroneQuerySet:
        """The drones whose ``state`` is ``state``: the same rule as the property, as a query."""
        if state == DroneState.RETIRED:
            return self.filter(status=Drone.Status.RETIRED)
        active = self.filter(status=Drone.Status.ACTIVE)
        if state == DroneState.ONLINE:
            return active.filter(online=True)
        if state == DroneState.NEVER_SEEN:
            return active.filter(online=False, last_seen_at__isnull=True)
        return active.filter(online=False, last_seen_at__isnull=False)


class Drone(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        RETIRED = "retired"

    drone_id = models.CharField(
        max_length=64, unique=True, validators=[validate_drone_id], help_text="The drone_id of its reports."
    )
    name = models.CharField(max_length=200, blank=True)
    squad = models.CharField(max_length=100, blank=True, db_index=True, help_text="Squad or region.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    registered_at = models.DateTimeField(default=timezone.now)
    # sha256 of the ingest token, never the token itself (ingest/tokens.py).
    # Indexed: the ingest endpoint finds the drone from its token by equality.
    token_hash = models.CharField(max_length=128, blank=True, db_index=True)
    token_issued_at = models.DateTimeField(null=True, blank=True)

    # Live health, kept current from the stream by the `drones` consumer.
    last_seen_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_lat = models.FloatField(null=True, blank=True)
    last_lon = models.FloatField(null=True, blank=True)
    battery_pct = models.FloatField(null=True, blank=True)
    firmware = models.CharField(max_length=64, blank=True)
    last_seq = models.BigIntegerField(null=True, blank=True)
    reports_received = models.BigIntegerField(default=0)
    reports_missing = models.BigIntegerField(default=0, help_text="Counted from gaps in seq.")
    reports_clock_skew = models.BigIntegerField(
        default=0,
        help_text="Reports whose sent_at ran more than MAX_CLOCK_SKEW_S ahead of their Kafka time "
        "(the Kafka time was used): a drone clock to fix.",
    )
    online = models.BooleanField(default=False, db_index=True)
    offline_since = models.DateTimeField(null=True, blank=True)
    # Written by offline detection only (alerts/fleet.py), never by the drones consumer.
    in_storm = models.BooleanField(
        default=False,
        help_text="Went silent in a fleet silence storm: covered by the one pipeline alert, "
        "no drone_offline alert of its own.",
    )

    objects = DroneQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.drone_id} ({self.name})" if self.name else self.drone_id

    @property
    def state(self) -> str:
        """Online, offline, never seen or retired. A retired drone is never online, whatever it still sends."""
        if self.status == self.Status.RETIRED:
            return DroneState.RETIRED
        if self.online:
            return DroneState.ONLINE
        return DroneState.OFFLINE if self.last_seen_at is not None else DroneState.NEVER_SEEN

    @property
    def low_battery(self) -> bool:
        return self.battery_pct is not None and self.battery_pct < settings.DRONE_LOW_BATTERY_PCT


class UnknownDrone(models.Model):
    """A drone_id seen in reports but not registered; its reports are stored and alert as usual."""

    drone_id = models.CharField(max_length=64, unique=True)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now, db_index=True)
    reports = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return self.drone_id
