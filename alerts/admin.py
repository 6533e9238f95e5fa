"""The admin: live alert settings (validated by ``AlertSettings.clean``), alerts read-only."""

from django.contrib import admin

from alerts.models import Alert, AlertAction, AlertSettings, Sighting
from peacewatch.admin import AuditedAdmin


@admin.register(AlertSettings)
class AlertSettingsAdmin(AuditedAdmin):
    # The change form validates through AlertSettings.clean (ModelForm runs the
    # model's full_clean): no critical threshold at or above the alert threshold.
    list_display = (
        "__str__",
        "threshold",
        "critical_threshold",
        "min_confidence",
        "dismissal_quiet_minutes",
        "updated_at",
    )

    def has_add_permission(self, request):
        return not AlertSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


class SightingInline(admin.TabularInline):
    model = Sighting
    extra = 0
    can_delete = False
    fields = ("observed_at", "peacescore", "drone_id", "lat", "lon", "report_id", "subject")
    readonly_fields = fields
    ordering = ("-observed_at",)

    def has_add_permission(self, request, obj=None):
        return False


class AlertActionInline(admin.TabularInline):
    model = AlertAction
    extra = 0
    can_delete = False
    fields = ("at", "by", "action", "detail")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Alert)
class AlertAdmin(AuditedAdmin):
    list_display = (
        "id",
        "kind",
        "subject",
        "peacescore",
        "severity",
        "status",
        "drone_id",
        "sightings",
        "observed_at",
        "raised_at",
    )
    list_filter = ("status", "severity", "kind")
    search_fields = ("subject", "drone_id", "report_id")
    date_hierarchy = "raised_at"
    list_per_page = 50
    # Everything is read-only here: alerts change through the officers'
    # workflow (alerts/workflow.py), which checks transitions, records who did
    # what and publishes alert.updated. An admin edit would bypass all three.
    readonly_fields = (
        "status",
        "assigned_to",
        "note",
        "kind",
        "subject",
        "citizen",
        "peacescore",
        "severity",
        "drone_id",
        "lat",
        "lon",
        "report_id",
        "observed_at",
        "first_observed_at",
        "raised_at",
        "updated_at",
        "sightings",
        "quiet_sightings",
        "citizen_id",
        "confidence",
        "version",
        "acknowledged_by",
        "acknowledged_at",
        "closed_by",
        "closed_at",
    )
    inlines = [AlertActionInline, SightingInline]

    @admin.display(description="sightings after dismissal (quiet, raised no alert)")
    def quiet_sightings(self, alert: Alert) -> int:
        # Every sighting while the alert was open added one to ``sightings``;
        # those recorded during the quiet time after a dismissal did not.
        return alert.sighting_set.count() - alert.sightings

    def has_add_permission(self, request):
        # Alerts come from the stream only; an admin cannot invent one.
        return False
