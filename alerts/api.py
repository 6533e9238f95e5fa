"""REST API of alerts: ``GET /api/v1/alerts/`` (filters, cursor pages) and ``PATCH /api/v1/alerts/{id}/``.

Thin: parse and check input, call the workflow, return the alert in the same
shape as the alert events (``alerts.events.AlertPayload``).

``?after_seq=N`` is the browsers' catch-up: every alert changed after change
N, in ``seq`` order, paged by a seq cursor. Changes commit in ``seq`` order
(``alerts.models.ChangeCounter``), so paging forward never skips one, even
when many alerts share a timestamp or change during the paging. Every list
answer carries ``last_seq``, the last change committed before the query: a
client that read the whole answer has seen every change up to it.
"""

from __future__ import annotations

import msgspec
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, mixins, serializers, viewsets
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response

from alerts.live import hub
from alerts.models import Alert, AlertAction
from alerts.services import alert_event, current_seq
from alerts.workflow import AlertChangeError, update_alert
from ingest import squads
from peacewatch import accountability as audit
from peacewatch import problems
from peacewatch.fields import StrictCharField
from peacewatch.pagination import Pages
from peacewatch.roles import OFFICER, has_role


class IsOfficer(BasePermission):
    message = "Only officers can see and work alerts."

    def has_permission(self, request, view) -> bool:
        return has_role(request.user, OFFICER)


class AlertFilters(serializers.Serializer):
    status = serializers.MultipleChoiceField(choices=Alert.Status.choices, required=False)
    severity = serializers.MultipleChoiceField(choices=Alert.Severity.choices, required=False)
    kind = serializers.MultipleChoiceField(choices=Alert.Kind.choices, required=False)
    since = serializers.DateTimeField(required=False, help_text="Only alerts changed at or after this time.")
    after_seq = serializers.IntegerField(
        required=False, min_value=0, max_value=2**63 - 1, help_text="Only alerts changed after change N."
    )
    open = serializers.ChoiceField(choices=["true", "false"], required=False)

    def validate(self, attrs):
        # A parameter given empty ("?since=") is a mistake, not "no filter".
        empty = [name for name in self.fields if name in self.initial_data and self.initial_data.get(name) == ""]
        if empty:
            raise ValidationError({name: ["must not be empty"] for name in empty})
        return attrs


class AlertChange(serializers.Serializer):
    status = serializers.ChoiceField(choices=Alert.Status.choices, required=False)
    assigned_to = StrictCharField(required=False, allow_null=True, allow_blank=True, max_length=150)
    note = StrictCharField(required=False, allow_blank=True, max_length=4000, trim_whitespace=False)

    def validate(self, attrs):
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise ValidationError({name: "unknown field" for name in sorted(unknown)})
        return attrs


class LocationOut(serializers.Serializer):
    lat = serializers.FloatField()
    lon = serializers.FloatField()


class AlertOut(serializers.Serializer):
    """The alert as the API returns it: the event payload of alerts/events.py (schema only)."""

    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Alert.Kind.choices)
    citizen = serializers.CharField(allow_null=True)
    peacescore = serializers.FloatField(allow_null=True)
    severity = serializers.ChoiceField(choices=Alert.Severity.choices)
    status = serializers.ChoiceField(choices=Alert.Status.choices)
    drone_id = serializers.CharField()
    location = LocationOut()
    report_id = serializers.CharField()
    observed_at = serializers.DateTimeField()
    raised_at = serializers.DateTimeField()
    sightings = serializers.IntegerField()
    first_observed_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    version = serializers.IntegerField()
    assigned_to = serializers.CharField(allow_null=True)
    note = serializers.CharField(allow_blank=True)
    acknowledged_by = serializers.CharField(allow_null=True)
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    closed_by = serializers.CharField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    citizen_id = serializers.CharField(allow_null=True)
    confidence = serializers.FloatField(allow_null=True)
    seq = serializers.IntegerField(help_text="The alert's latest change in the global change sequence.")


class AlertPages(Pages):
    page_size = 100
    max_page_size = 500
    ordering = ("-raised_at", "-id")

    def get_paginated_response_schema(self, schema):
        schema = super().get_paginated_response_schema(schema)
        schema["properties"]["last_seq"] = {"type": "integer", "description": "Last change committed before the query"}
        return schema


class ChangesSincePages(AlertPages):
    # Kept for clients of v1.0; two changes can share a timestamp, so prefer after_seq.
    ordering = ("updated_at", "id")


class ChangesAfterSeqPages(AlertPages):
    # seq is unique per alert and only grows: a plain cursor on it never skips a change.
    ordering = ("seq",)


def payload(alert: Alert) -> dict:
    return msgspec.to_builtins(alert_event(alert, "").alert)


class AlertViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    permission_classes = [IsAuthenticated, IsOfficer]
    queryset = Alert.objects.select_related("assigned_to", "acknowledged_by", "closed_by")
    serializer_class = AlertOut  # documents responses; payload() builds them
    http_method_names = ["get", "patch", "head", "options"]

    @property
    def paginator(self):
        if not hasattr(self, "_paginator"):
            params = self.request.query_params
            if "after_seq" in params:
                self._paginator = ChangesAfterSeqPages()
            elif "since" in params:
                self._paginator = ChangesSincePages()
            else:
                self._paginator = AlertPages()
        return self._paginator

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Alert.objects.none()
        return squads.visible_alerts(super().get_queryset(), squads.squads_of(self.request.user))

    def filter_queryset(self, queryset):
        filters = AlertFilters(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        values = filters.validated_data
        for name in ("status", "severity", "kind"):
            if values.get(name):
                queryset = queryset.filter(**{f"{name}__in": sorted(values[name])})
        if values.get("since"):
            queryset = queryset.filter(updated_at__gte=values["since"])
        if values.get("after_seq") is not None:
            queryset = queryset.filter(seq__gt=values["after_seq"])
        if values.get("open") is not None:
            in_open = {"status__in": Alert.OPEN_STATUSES}
            queryset = queryset.filter(**in_open) if values["open"] == "true" else queryset.exclude(**in_open)
        return queryset

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, many=True, enum=Alert.Status.values),
            OpenApiParameter("severity", str, many=True, enum=Alert.Severity.values),
            OpenApiParameter("kind", str, many=True, enum=Alert.Kind.values),
            OpenApiParameter(
                "since",
                {"type": "string", "format": "date-time"},
                description="RFC 3339; alerts changed at or after it, oldest first",
            ),
            OpenApiParameter(
                "after_seq",
                {"type": "integer", "minimum": 0, "maximum": 2**63 - 1},
                description="Alerts changed after change N, in seq order: the reconnect catch-up",
            ),
            OpenApiParameter("open", str, enum=["true", "false"], description="only open, or only closed, alerts"),
        ]
    )
    def list(self, request, *args, **kwargs):
        # Read before the page: every change up to it is committed, so it is in
        # this page or a later one (changes commit in seq order).
        last_seq = current_seq()
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        response = self.get_paginated_response([payload(alert) for alert in page])
        response.data["last_seq"] = last_seq
        return response

    @extend_schema(
        request=AlertChange,
        responses={
            200: AlertOut,
            409: OpenApiResponse(description="the alert's state does not allow it (already closed, say)"),
        },
    )
    def partial_update(self, request, pk=None):
        if not request.body:
            raise ValidationError(["send a JSON object with status, assigned_to or note"])
        change = AlertChange(data=request.data)
        change.is_valid(raise_exception=True)
        values = change.validated_data
        if not str(pk).isdigit() or not self.get_queryset().filter(pk=int(pk)).exists():
            raise NotFound(f"no alert {pk}")  # another squad's alert does not exist for this officer
        if not values:  # an empty patch changes nothing (RFC 7396): the alert as it is
            return Response(payload(self.get_queryset().get(pk=int(pk))))
        try:
            alert = update_alert(
                int(pk),
                by=request.user,
                status=values.get("status"),
                assigned_to=values.get("assigned_to", ...),
                note=values.get("note"),
                ip=audit.client_ip(request),
            )
        except Alert.DoesNotExist as exc:
            raise NotFound(f"no alert {pk}") from exc
        except AlertChangeError as exc:
            return problems.response(409 if exc.conflict else 400, str(exc), field=exc.field, request=request)
        transaction.on_commit(hub.request_relay)
        return Response(payload(alert))


class AlertActionOut(serializers.Serializer):
    """One step of an alert's history: who did what, when (``detail``: the note, or whom it was assigned to)."""

    at = serializers.DateTimeField()
    by = serializers.CharField(allow_null=True, source="by.username", default=None)
    action = serializers.ChoiceField(choices=["acknowledged", "resolved", "dismissed", "assigned", "noted"])
    detail = serializers.CharField(allow_blank=True)


class HistoryPages(Pages):
    page_size = 50
    max_page_size = 200
    ordering = ("at", "id")


class AlertHistoryView(generics.ListAPIView):
    """``GET /api/v1/alerts/{id}/history/``: an alert's accountability trail, oldest first."""

    permission_classes = [IsAuthenticated, IsOfficer]
    serializer_class = AlertActionOut
    pagination_class = HistoryPages

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return AlertAction.objects.none()
        visible = squads.visible_alerts(Alert.objects.all(), squads.squads_of(self.request.user))
        if not visible.filter(pk=self.kwargs["alert_id"]).exists():
            raise NotFound(f"no alert {self.kwargs['alert_id']}")  # another squad's alert does not exist here
        return AlertAction.objects.filter(alert_id=self.kwargs["alert_id"]).select_related("by")


class OfficerOut(serializers.Serializer):
    username = serializers.CharField()
    name = serializers.CharField(allow_blank=True, source="get_full_name")


class OfficerPages(Pages):
    page_size = 200
    max_page_size = 1000
    ordering = ("username",)


class OfficerListView(generics.ListAPIView):
    """``GET /api/v1/officers/``: the active officers an alert can be assigned to (the card's colleague list)."""

    permission_classes = [IsAuthenticated, IsOfficer]
    serializer_class = OfficerOut
    pagination_class = OfficerPages

    def get_queryset(self):
        # has_role's rule as a query: in the officer group, or a superuser.
        users = get_user_model().objects.filter(is_active=True)
        return users.filter(Q(groups__name=OFFICER) | Q(is_superuser=True)).distinct()
