"""The drone registry in the Django admin: drones with their health, and unknown drones.

Registry changes go through ``ingest/fleet.py``. A new ingest token is shown
once, in a warning message, at creation and at rotation; only its hash is kept.
Health fields are read-only: the ``drones`` consumer owns them.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from ingest import fleet
from ingest.models import Drone, DroneState, UnknownDrone
from peacewatch import accountability as audit
from peacewatch.admin import AuditedAdmin, ReadOnlyAdmin, confirm_action, confirmed

HEALTH_FIELDS = (
    "online",
    "last_seen_at",
    "offline_since",
    "last_lat",
    "last_lon",
    "battery_pct",
    "firmware",
    "last_seq",
    "reports_received",
    "reports_missing",
    "reports_clock_skew",
    "in_storm",
)
EDITABLE_FIELDS = ("name", "squad")


def show_tokens_once(request, issued: list[tuple[Drone, str]]) -> None:
    if not issued:
        return
    rows = format_html_join(
        "",
        # static/js/copy_token.js wires the buttons (admin/base_site.html loads it on every admin page).
        '<li>{}: <code class="issued-token">{}</code> '
        '<button type="button" class="button copy-token" data-copy="{}" aria-label="Copy the token of {}">Copy</button>'
        "</li>",
        ((drone.drone_id, token, token, drone.drone_id) for drone, token in issued),
    )
    messages.warning(
        request,
        format_html(
            "Ingest token{} below: copy {} now, it will not be shown again. "
            "The drone sends it as <code>Authorization: Bearer &lt;token&gt;</code>.<ul>{}</ul>",
            "s" if len(issued) > 1 else "",
            "them" if len(issued) > 1 else "it",
            rows,
        ),
    )


class BatteryFilter(admin.SimpleListFilter):
    title = "battery"
    parameter_name = "battery"

    def lookups(self, request, model_admin):
        return [
            ("low", f"low (below {settings.DRONE_LOW_BATTERY_PCT:g}%)"),
            ("ok", "ok"),
            ("unknown", "unknown"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "low":
            return queryset.low_battery()
        if self.value() == "ok":
            return queryset.filter(battery_pct__gte=settings.DRONE_LOW_BATTERY_PCT)
        if self.value() == "unknown":
            return queryset.filter(battery_pct__isnull=True)
        return queryset


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return DroneState.choices

    def queryset(self, request, queryset):
        return queryset.in_state(self.value()) if self.value() else queryset


class SquadFilter(admin.SimpleListFilter):
    """Squads as the fleet has them; drones with none get a link that says so (Django's own filter
    draws an empty, unnamed link for them)."""

    title = "squad"
    parameter_name = "squad"
    NONE = "-"

    def lookups(self, request, model_admin):
        squads = Drone.objects.order_by("squad").values_list("squad", flat=True).distinct()
        return [(squad or self.NONE, squad or "(no squad)") for squad in squads]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        return queryset.filter(squad="" if self.value() == self.NONE else self.value())


@admin.register(Drone)
class DroneAdmin(AuditedAdmin):
    list_display = (
        "drone_id",
        "name",
        "squad",
        "state",
        "last_seen_at",
        "battery_pct",
        "reports_received",
        "reports_missing",
        "reports_clock_skew",
    )
    list_filter = (StateFilter, SquadFilter, BatteryFilter)
    search_fields = ("drone_id", "name", "squad")
    ordering = ("drone_id",)
    list_per_page = 50
    actions = ("retire", "reactivate", "issue_new_token")
    # The map link sits in the list's object tools (templates/admin/ingest/drone/change_list.html).
    change_list_template = "admin/ingest/drone/change_list.html"

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ("drone_id", *EDITABLE_FIELDS), "description": "A token is issued on save."})]
        return [
            (None, {"fields": ("drone_id", *EDITABLE_FIELDS, "status", "registered_at")}),
            ("Credentials", {"fields": ("token_issued_at",)}),
            ("Health (from the report stream)", {"fields": HEALTH_FIELDS}),
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        # drone_id names the drone in every report and alert: fixed once registered.
        # status changes through the retire / reactivate actions.
        return ("drone_id", "status", "registered_at", "token_issued_at", *HEALTH_FIELDS)

    def save_model(self, request, obj, form, change):
        if not change:
            show_tokens_once(request, [(obj, fleet.register_drone(obj, by=request.user, ip=audit.client_ip(request)))])
            return
        # Only the fields this form edits: a full save would write back the
        # health values read when the form loaded over newer ones from the stream.
        obj.save(update_fields=EDITABLE_FIELDS)

    @admin.display(description="state", ordering="status")
    def state(self, drone: Drone) -> str:
        # One rule for every screen (Drone.state): a retired drone is never shown online.
        return format_html(
            '<span class="drone-state drone-state-{}">{}</span>', drone.state, DroneState(drone.state).label
        )

    @admin.action(description="Retire selected drones (their tokens are refused)", permissions=["change"])
    def retire(self, request, queryset):
        if not confirmed(request):
            return confirm_action(
                self, request, queryset, verb="Retire",
                consequence="Their tokens are refused from now on (403): their reports stop reaching PeaceWatch "
                "until they are reactivated.",
            )  # fmt: skip
        changed = sum(fleet.retire_drone(drone, by=request.user, ip=audit.client_ip(request)) for drone in queryset)
        self.message_user(request, f"{changed} drone(s) retired.", messages.SUCCESS)

    @admin.action(description="Reactivate selected drones", permissions=["change"])
    def reactivate(self, request, queryset):
        changed = sum(fleet.reactivate_drone(drone, by=request.user, ip=audit.client_ip(request)) for drone in queryset)
        self.message_user(request, f"{changed} drone(s) reactivated.", messages.SUCCESS)

    @admin.action(description="Issue a new token (the old one stops working)", permissions=["change"])
    def issue_new_token(self, request, queryset):
        if not confirmed(request):
            return confirm_action(
                self, request, queryset, verb="Issue new tokens to",
                consequence="Their current tokens stop working at once: each drone is refused (401) until its new "
                "token, shown once on the next page, is installed on it.",
            )  # fmt: skip
        show_tokens_once(
            request,
            [(drone, fleet.rotate_token(drone, by=request.user, ip=audit.client_ip(request))) for drone in queryset],
        )


@admin.register(UnknownDrone)
class UnknownDroneAdmin(ReadOnlyAdmin):
    """Read-only: rows come from the stream. Register the ones that belong to the fleet."""

    list_display = ("drone_id", "reports", "first_seen_at", "last_seen_at")
    search_fields = ("drone_id",)
    ordering = ("-last_seen_at",)
    list_per_page = 50
    actions = ("register",)

    def has_register_permission(self, request):
        return request.user.has_perm("ingest.add_drone")

    @admin.action(description="Register selected as drones", permissions=["register"])
    def register(self, request, queryset):
        registered, already = fleet.register_unknown(queryset, by=request.user, ip=audit.client_ip(request))
        show_tokens_once(request, registered)
        if already:
            self.message_user(request, f"Already registered: {', '.join(already)}.", messages.INFO)
