"""Alerts: one open alert per citizen (or per drone for fleet alerts).

The database enforces "at most one open alert per subject" with a partial
unique index, and the alerts consumer writes through an upsert on that index,
so two consumers racing on the same citizen can never open two alerts.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q


class AlertSettings(models.Model):
    """The live alert thresholds; one row, edited by admins, read by every batch."""

    threshold = models.FloatField(
        default=settings.ALERT_THRESHOLD_DEFAULT,
        help_text="A citizen whose peacescore is below this raises an alert.",
    )
    critical_threshold = models.FloatField(
        default=settings.ALERT_CRITICAL_THRESHOLD_DEFAULT,
        help_text="Below this the alert is critical, otherwise high. Must be below the alert threshold.",
    )
    min_confidence = models.FloatField(
        null=True,
        blank=True,
        help_text="A recognition below this confidence (0-1) raises no alert; empty: every recognition counts.",
    )
    dismissal_quiet_minutes = models.PositiveIntegerField(
        default=settings.ALERT_DISMISSAL_QUIET_MINUTES_DEFAULT,
        help_text="After an officer dismisses an alert, new sightings of the same subject raise no alert "
        "for this many minutes (0: off).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "alert settings"
        verbose_name_plural = "alert settings"
        # The database holds the rule too: no path (shell, script, bulk update) stores critical >= alert.
        constraints = [
            models.CheckConstraint(
                condition=models.Q(critical_threshold__lt=models.F("threshold")),
                name="alertsettings_critical_below_threshold",
            )
        ]

    def __str__(self) -> str:
        return f"alert below {self.threshold:g}, critical below {self.critical_threshold:g}"

    def clean(self) -> None:
        errors = {}
        # At or above the alert threshold every alert would be critical: the
        # severity would tell officers nothing.
        if None not in (self.threshold, self.critical_threshold) and self.critical_threshold >= self.threshold:
            errors["critical_threshold"] = f"Must be below the alert threshold ({self.threshold:g})."
        if self.min_confidence is not None and not 0 <= self.min_confidence <= 1:
            errors["min_confidence"] = "A recognition confidence is between 0 and 1."
        if errors:
            raise ValidationError(errors)

    def validate_constraints(self, exclude=None) -> None:
        # The one constraint is clean()'s rule, which names the field at fault; Django's would add an
        # unnamed copy of the same error.
        return

    @classmethod
    def load(cls) -> AlertSettings:
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj

    def severity(self, peacescore: float) -> str:
        return Alert.Severity.CRITICAL if peacescore < self.critical_threshold else Alert.Severity.HIGH


class Alert(models.Model):
    class Kind(models.TextChoices):
        CITIZEN = "citizen"
        DRONE_OFFLINE = "drone_offline"
        # A large share of the fleet silent at once: the pipeline, not the drones, is the likely cause.
        PIPELINE = "pipeline"

    class Severity(models.TextChoices):
        HIGH = "high"
        CRITICAL = "critical"

    class Status(models.TextChoices):
        NEW = "new"
        ACKNOWLEDGED = "acknowledged"
        RESOLVED = "resolved"
        DISMISSED = "dismissed"

    OPEN_STATUSES = (Status.NEW, Status.ACKNOWLEDGED)

    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.CITIZEN)
    # What "one open alert per ..." is about: the citizen's subject id when reported,
    # else the name (v1.1); the drone id for drone_offline; "fleet" for pipeline.
    subject = models.CharField(max_length=200)
    citizen = models.CharField(max_length=200, null=True, blank=True)
    peacescore = models.FloatField(null=True, blank=True, help_text="Lowest peacescore seen while open.")
    severity = models.CharField(max_length=10, choices=Severity.choices)
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.NEW)
    # The latest sighting: where and when to go now.
    drone_id = models.CharField(max_length=64)
    lat = models.FloatField()
    lon = models.FloatField()
    report_id = models.CharField(max_length=64)
    observed_at = models.DateTimeField(help_text="When the latest sighting was observed.")
    first_observed_at = models.DateTimeField()
    raised_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    sightings = models.PositiveIntegerField(default=1)
    # Bumped on every change; clients keep the highest version they saw.
    version = models.PositiveIntegerField(default=1)
    # The change sequence (CONTRACT section 3 v1.1): the value ChangeCounter gave
    # this alert's latest change. Global over all alerts, so "every alert changed
    # after N" is one indexed range: the browsers' reconnect catch-up.
    seq = models.BigIntegerField(default=0, editable=False)
    citizen_id = models.CharField(max_length=64, null=True, blank=True, help_text="The subject id, when reported.")
    confidence = models.FloatField(null=True, blank=True, help_text="Recognition confidence of the latest sighting.")

    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True, default="")
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "subject"],
                condition=Q(status__in=["new", "acknowledged"]),
                name="one_open_alert_per_subject",
            )
        ]
        indexes = [
            models.Index(fields=["status", "-raised_at"], name="alert_status_raised"),
            models.Index(fields=["updated_at"], name="alert_updated"),
            models.Index(fields=["seq"], name="alert_seq"),
        ]
        ordering = ["-raised_at"]

    def __str__(self) -> str:
        return f"{self.kind} alert #{self.pk} {self.subject} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class Sighting(models.Model):
    """One report that saw an alerted subject; the key that makes replays harmless."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="sighting_set")
    report_id = models.CharField(max_length=64)
    subject = models.CharField(max_length=200)
    peacescore = models.FloatField(null=True)
    drone_id = models.CharField(max_length=64)
    lat = models.FloatField()
    lon = models.FloatField()
    observed_at = models.DateTimeField()

    class Meta:
        # A report is identified by (drone_id, report_id) (CONTRACT v1.1): two drones may reuse an id.
        # report_id leads the index: the consumer looks a batch's sightings up by report id alone.
        constraints = [
            models.UniqueConstraint(fields=["report_id", "drone_id", "subject"], name="one_sighting_per_drone_report")
        ]

    def __str__(self) -> str:
        return f"{self.subject} in report {self.report_id}"


class ChangeCounter(models.Model):
    """The one change sequence of all alerts: a single row, advanced in the changing transaction.

    A counter row rather than a PostgreSQL SEQUENCE: ``nextval`` is not
    transactional, so change 11 could become visible before change 10 and a
    reader paging "after 10" would never see 10. Every alert-changing
    transaction locks this row first (``alerts.services.ChangeSeq``) and keeps
    the lock until it commits, so changes become visible in ``seq`` order,
    values are dense (a rolled-back change gives its numbers back), and, taken
    before any alert row, the lock cannot deadlock with them. The price:
    alert-changing transactions run one at a time, which they nearly did anyway
    (SQLite has one writer; on PostgreSQL they contend on the same open alerts).
    """

    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"alert change {self.value}"


class OutboxEvent(models.Model):
    """Alert events written in the same transaction as the alert change.

    Publishing to Kafka happens after the commit; a crash in between leaves the
    row unpublished and the next run publishes it, so no alert event is lost.
    """

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="+")
    payload = models.BinaryField()
    # The change's seq: lets a web process tell an event not yet published from one its reader missed.
    seq = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["published_at", "id"], name="outbox_pending")]

    def __str__(self) -> str:
        return f"event {self.pk} of alert {self.alert_id}"


class AlertAction(models.Model):
    """Who did what to an alert, and when: the alert's accountability trail.

    Kept when its alert is deleted (``alert`` becomes null, ``alert_ref`` still
    says which alert it was): accountability outlives the alert.
    """

    alert = models.ForeignKey(Alert, null=True, on_delete=models.SET_NULL, related_name="actions")
    alert_ref = models.BigIntegerField(null=True, db_index=True)
    at = models.DateTimeField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=20)  # acknowledged | resolved | dismissed | assigned | noted
    detail = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.action} by {self.by} at {self.at:%Y-%m-%d %H:%M:%S}"
