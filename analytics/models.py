"""What analysts keep in the database: saved queries, exports and the audit log.

The reports themselves live in the analytics store (``analytics/store/``), not
here. A query is kept as the normalized JSON of :class:`analytics.query.Query`
(``as_json(parse_query(...))``), so whatever is stored can be run again.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from analytics.query import QueryError, as_json, parse_query


def normalized_query(data) -> dict:
    """The stored form of a query; raises QueryError when it cannot run.

    A page cursor (``after``) is dropped: it points into one result set and
    means nothing once the query is kept for later.
    """
    if isinstance(data, dict):
        data = {key: value for key, value in data.items() if key != "after"}
    return as_json(parse_query(data))


class SavedQuery(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_queries")
    name = models.CharField(max_length=200)
    query = models.JSONField()
    shared = models.BooleanField(default=False, help_text="Other analysts can see and run it, not change it.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "saved queries"
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="one_saved_query_name_per_owner")]
        indexes = [models.Index(fields=["shared", "-updated_at"], name="savedquery_shared_updated")]
        ordering = ["-updated_at", "-id"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        # Every way in (API, admin, shell) stores only queries that can run.
        self.query = normalized_query(self.query)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        try:
            normalized_query(self.query)
        except QueryError as exc:
            raise ValidationError({"query": str(exc)}) from exc


class Export(models.Model):
    class Format(models.TextChoices):
        CSV = "csv"
        NDJSON = "ndjson"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="exports")
    query = models.JSONField()
    format = models.CharField(max_length=10, choices=Format.choices, default=Format.CSV)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(null=True, blank=True, help_text="Matching reports, counted at the start.")
    rows_written = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    # Absolute path under VAR_DIR/exports; set only once the file is complete.
    file_path = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["owner", "-created_at"], name="export_owner_created")]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"export {self.pk} ({self.format}, {self.status})"

    @property
    def progress(self) -> float:
        """0..1 for the page's progress bar; reports indexed after the count can push rows past the total."""
        if self.status == self.Status.DONE:
            return 1.0
        if not self.total:
            return 0.0
        return min(1.0, self.rows_written / self.total)

    @property
    def download_name(self) -> str:
        return f"peacewatch-reports-{self.created_at:%Y%m%d-%H%M}.{self.format}"


class AuditEntry(models.Model):
    """One thing someone did or tried that oversight may ask about: read-only, also for admins.

    Entries form a hash chain (``seq``, ``prev_hash``, ``hash``; see
    ``analytics.audit``): an entry edited, inserted or deleted by any means
    breaks it, and ``manage.py audit verify`` says where.
    """

    class Action(models.TextChoices):
        SEARCH = "search"
        CITIZEN_SUGGEST = "citizen.suggest"
        SAVED_QUERY_CREATE = "saved_query.create"
        SAVED_QUERY_UPDATE = "saved_query.update"
        SAVED_QUERY_DELETE = "saved_query.delete"
        EXPORT = "export"
        EXPORT_DOWNLOAD = "export.download"
        SIGN_IN = "auth.sign_in"
        SIGN_IN_FAILED = "auth.sign_in_failed"
        SIGN_OUT = "auth.sign_out"
        SECOND_FACTOR = "auth.second_factor"
        SUBJECT_REPORT = "subject.report"
        RETENTION = "retention"
        ALERT_CHANGE = "alert.change"
        DRONE_REGISTER = "drone.register"
        DRONE_TOKEN = "drone.token"
        DRONE_RETIRE = "drone.retire"
        DRONE_REACTIVATE = "drone.reactivate"
        USER_ROLES = "user.roles"
        ADMIN_ADD = "admin.add"
        ADMIN_CHANGE = "admin.change"
        ADMIN_DELETE = "admin.delete"

    # Position in the chain: 1, 2, 3... with no gap.
    seq = models.BigIntegerField(unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    # Kept so that the trail still names the person after the account is deleted.
    username = models.CharField(max_length=150)
    action = models.CharField(max_length=30, choices=Action.choices)
    query = models.JSONField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        verbose_name = "audit entry"
        verbose_name_plural = "audit log"
        indexes = [models.Index(fields=["action", "-at"], name="audit_action_at")]
        ordering = ["-seq"]

    def __str__(self) -> str:
        return f"{self.username} {self.action} at {self.at:%Y-%m-%d %H:%M:%S}"


class AuditChain(models.Model):
    """The chain's head (one row): the last entry's ``seq`` and ``hash``, and where the kept chain starts.

    Writers lock this row first, so entries get dense numbers in commit order.
    ``base_seq``/``base_hash`` are the last entry a retention run removed
    (0 and the genesis hash before any): verification starts from them.
    """

    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)
    base_seq = models.BigIntegerField(default=0)
    base_hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"audit chain at entry {self.seq}"
