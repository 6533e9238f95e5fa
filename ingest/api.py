"""``GET /api/v1/drones/``: the fleet and its health, for officers and admins."""

from __future__ import annotations

from django.conf import settings
from rest_framework import mixins, serializers, viewsets
from rest_framework.permissions import BasePermission, IsAuthenticated

from ingest import squads
from ingest.models import Drone, DroneState
from peacewatch.pagination import Pages
from peacewatch.roles import OFFICER, has_role


class IsOfficerOrAdmin(BasePermission):
    message = "Only officers and admins can see the fleet."

    def has_permission(self, request, view) -> bool:
        return has_role(request.user, OFFICER) or request.user.has_perm("ingest.view_drone")


class DroneFilters(serializers.Serializer):
    online = serializers.BooleanField(required=False, allow_null=True, default=None)
    state = serializers.ChoiceField(choices=DroneState.choices, required=False)
    status = serializers.ChoiceField(choices=Drone.Status.choices, required=False)
    squad = serializers.CharField(required=False, max_length=100)
    low_battery = serializers.BooleanField(required=False, allow_null=True, default=None)


class DroneHealth(serializers.ModelSerializer):
    location = serializers.SerializerMethodField()
    # One rule (Drone.state): a retired drone is never online, whatever it still sends.
    state = serializers.ChoiceField(choices=DroneState.choices, read_only=True)
    online = serializers.SerializerMethodField()
    low_battery = serializers.BooleanField(read_only=True)

    class Meta:
        model = Drone
        fields = [
            "drone_id",
            "name",
            "squad",
            "status",
            "state",
            "online",
            "offline_since",
            "last_seen_at",
            "location",
            "battery_pct",
            "low_battery",
            "firmware",
            "reports_received",
            "reports_missing",
            "registered_at",
        ]

    def get_online(self, drone: Drone) -> bool:
        return drone.state == DroneState.ONLINE

    def get_location(self, drone: Drone) -> dict | None:
        if drone.last_lat is None or drone.last_lon is None:
            return None
        return {"lat": drone.last_lat, "lon": drone.last_lon}


class DronePages(Pages):
    page_size = 200
    max_page_size = 1000
    ordering = ("drone_id",)


class DroneViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    permission_classes = [IsAuthenticated, IsOfficerOrAdmin]
    serializer_class = DroneHealth
    pagination_class = DronePages
    queryset = Drone.objects.all()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Drone.objects.none()
        return squads.visible_drones(super().get_queryset(), squads.squads_of(self.request.user))

    def filter_queryset(self, queryset):
        filters = DroneFilters(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        values = filters.validated_data
        if values.get("online") is not None:
            online = queryset.in_state(DroneState.ONLINE)
            queryset = online if values["online"] else queryset.exclude(pk__in=online.values("pk"))
        if values.get("state"):
            queryset = queryset.in_state(values["state"])
        if values.get("status"):
            queryset = queryset.filter(status=values["status"])
        if values.get("squad"):
            queryset = queryset.filter(squad=values["squad"])
        if values.get("low_battery") is not None:
            low = {"battery_pct__lt": settings.DRONE_LOW_BATTERY_PCT}
            queryset = queryset.filter(**low) if values["low_battery"] else queryset.exclude(**low)
        return queryset
