"""REST API of analytics, for analysts: search, citizen suggestions, saved queries, exports.

- ``POST /api/v1/reports/search``: a query in, hits and aggregations out.
- ``GET /api/v1/analytics/citizens/suggest``: names starting with what an analyst types.
- ``/api/v1/saved-queries/``: own and shared saved queries; only owners change them.
- ``/api/v1/exports/``: request an export (a Celery task writes the file),
  follow its progress, download it.

Thin: parse input, call the services (``analytics.search``,
``analytics.saved_queries``, ``analytics.exports``), which also write the
audit log.
"""

from __future__ import annotations

from functools import partial

from django.db import transaction
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import (
    APIException,
    NotFound,
    ParseError,
    PermissionDenied,
    Throttled,
    ValidationError,
)
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics import audit, exports, purpose, saved_queries, search
from analytics.models import Export, SavedQuery
from analytics.query import CursorError, QueryError, as_json, parse_query
from analytics.serializers import (
    SEARCH_RESULT_SCHEMA,
    ExportIn,
    ExportOut,
    SavedQueryIn,
    SavedQueryOut,
    search_request_schema,
)
from analytics.tasks import run_export
from peacewatch import problems
from peacewatch.fields import StrictCharField
from peacewatch.pagination import Pages
from peacewatch.roles import ANALYST, has_role


class NameTaken(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "name: you already have a saved query with this name"


class IsAnalyst(BasePermission):
    message = "Only analysts can search reports."

    def has_permission(self, request, view) -> bool:
        return has_role(request.user, ANALYST)


# --- Search ------------------------------------------------------------------------

SEARCH_EXAMPLE = {
    "purpose": "case 2026-1142: strike at the port",
    "time": {"last": "24h"},
    "words": {"any": ["strike", "protest"]},
    "score": {"max": 30},
    "aggs": ["histogram", "top_citizens", "score"],
    "size": 50,
    "sort": "newest",
}


class ReportSearchView(APIView):
    permission_classes = [IsAuthenticated, IsAnalyst]

    @extend_schema(
        operation_id="reports_search",
        summary="Search the stored reports",
        description=(
            "Filters (time, drones, citizen, words, peacescore, area, alerts only), the aggregations wanted "
            "and one page of hits, newest or oldest first. Pass a result's `next` as `after` for the next "
            "page. A bad query gets a 400 problem whose `detail` says what is wrong and `field` its JSON path. Every "
            "search is recorded in the audit log with its `purpose`, required while ANALYTICS_REQUIRE_PURPOSE "
            "is on (the default)."
        ),
        request={"application/json": search_request_schema()},
        responses={
            200: OpenApiResponse(SEARCH_RESULT_SCHEMA, description="hits and aggregations"),
            400: OpenApiResponse(description="the query cannot run: `detail` says why, `field` where"),
            404: OpenApiResponse(description="`after` is not a cursor this API returned"),
        },
        examples=[
            OpenApiExample("Agitated talk of strikes, last day", value=SEARCH_EXAMPLE, request_only=True),
            OpenApiExample(
                "An inverted range",
                value=problems.body(400, "time: from must be before to", field="time"),
                response_only=True,
                status_codes=["400"],
            ),
        ],
        tags=["reports"],
    )
    def post(self, request):
        try:
            data = request.data
        except ParseError as exc:
            error = QueryError("", f"malformed JSON: {exc.detail}")
            return self._refused(request, None, error)
        try:
            why, data = purpose.split(data)
            query = parse_query(data)
            result = search.search(query)
        except QueryError as exc:
            return self._refused(request, data, exc)
        # Who looked at whom: a citizen's timeline is a search filtered on that citizen.
        looked_at = {"looked_at": as_json(query)["citizen"]} if query.citizen else {}
        audit.record(
            request.user,
            "search",
            as_json(query),
            ip=audit.client_ip(request),
            total=result["total"],
            engine=result.get("engine"),
            purpose=why,
            **looked_at,
        )
        return Response(result)

    @staticmethod
    def _refused(request, data, error: QueryError) -> Response:
        # Refused searches are recorded too: who probes for what the API refuses is worth seeing.
        query = dict(data) if isinstance(data, dict) else None
        audit.record(request.user, "search", query, ip=audit.client_ip(request), refused=str(error))
        status_code = 404 if isinstance(error, CursorError) else 400
        return problems.response(status_code, str(error), field=error.field, request=request)


# --- Citizen suggestions ---------------------------------------------------------


class SuggestParams(serializers.Serializer):
    # Not trimmed: "jeanne " asks for names with more after "jeanne" (spacing is folded, not dropped).
    prefix = StrictCharField(min_length=1, max_length=200, trim_whitespace=False)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=search.SUGGEST_MAX, default=10)
    purpose = StrictCharField(required=False, trim_whitespace=False, max_length=purpose.MAX_LENGTH)


class SuggestionOut(serializers.Serializer):
    name = serializers.CharField(help_text="a name as reports gave it")
    count = serializers.IntegerField(help_text=f"sightings under it in the last {search.SUGGEST_DAYS} days")


class SuggestionsOut(serializers.Serializer):
    prefix = serializers.CharField()
    results = SuggestionOut(many=True)


class CitizenSuggestView(APIView):
    permission_classes = [IsAuthenticated, IsAnalyst]

    @extend_schema(
        operation_id="citizens_suggest",
        summary="Suggest citizens' names as an analyst types",
        description=(
            "Names starting with `prefix`, compared without regard to case, accents or spacing "
            f'("jeanne mart" finds "Jeanne Martín"), seen in the last {search.SUGGEST_DAYS} days of the '
            "index engine, most sightings first, at most `limit`. A list of names is itself a look at "
            "people: every call is recorded in the audit log with its `purpose`, required while "
            "ANALYTICS_REQUIRE_PURPOSE is on (the default)."
        ),
        parameters=[
            OpenApiParameter(
                "prefix",
                {"type": "string", "minLength": 1, "maxLength": 200},
                required=True,
                description="the start of a name",
            ),
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": search.SUGGEST_MAX, "default": 10},
                description="at most this many names",
            ),
            OpenApiParameter(
                "purpose",
                {k: v for k, v in purpose.SCHEMA.items() if k != "example"},
                required=purpose.required(),
                description=purpose.SCHEMA["description"],
            ),
        ],
        responses={
            200: SuggestionsOut,
            400: OpenApiResponse(description="a parameter is missing or wrong: `field` names it"),
        },
        tags=["reports"],
    )
    def get(self, request):
        given = SuggestParams(data=request.query_params)
        given.is_valid(raise_exception=True)
        values = given.validated_data
        try:
            why = purpose.clean(values.get("purpose"))
        except QueryError as exc:
            return problems.response(400, str(exc), field=exc.field, request=request)
        found = search.suggest_citizens(values["prefix"], limit=values["limit"])
        audit.record(
            request.user,
            "citizen.suggest",
            None,
            ip=audit.client_ip(request),
            prefix=values["prefix"],
            names=[item["name"] for item in found],
            purpose=why,
        )
        return Response({"prefix": values["prefix"], "results": found})


# --- Saved queries -----------------------------------------------------------------


class SavedQueryPages(Pages):
    page_size = 100
    max_page_size = 500
    # Recently changed first: what an analyst is working on is at the top.
    ordering = ("-updated_at", "-id")


@extend_schema_view(
    list=extend_schema(summary="Own saved queries and those other analysts share", tags=["saved queries"]),
    retrieve=extend_schema(tags=["saved queries"]),
    create=extend_schema(
        request=SavedQueryIn,
        responses={201: SavedQueryOut, 409: OpenApiResponse(description="you have a saved query of this name")},
        tags=["saved queries"],
    ),
    partial_update=extend_schema(
        request=SavedQueryIn,
        responses={200: SavedQueryOut, 409: OpenApiResponse(description="you have a saved query of this name")},
        description="Owner only.",
        tags=["saved queries"],
    ),
    destroy=extend_schema(description="Owner only.", tags=["saved queries"]),
)
class SavedQueryViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    permission_classes = [IsAuthenticated, IsAnalyst]
    serializer_class = SavedQueryOut
    pagination_class = SavedQueryPages
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the types, no user
            return SavedQuery.objects.none()
        # Someone else's private query is not there at all (404), a shared one is (403 on change).
        return saved_queries.visible_to(self.request.user)

    def create(self, request):
        values = self._input(request.data)
        try:
            saved = saved_queries.save_query(request.user, ip=audit.client_ip(request), **values)
        except saved_queries.NameTaken as exc:
            raise NameTaken from exc
        return Response(self.get_serializer(saved).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        saved = self._owned(self.get_object())
        if not request.body:
            raise ValidationError(["send a JSON object with name, query or shared"])
        values = self._input(request.data, partial=True)
        try:
            saved = saved_queries.update_saved_query(saved, by=request.user, ip=audit.client_ip(request), **values)
        except saved_queries.NameTaken as exc:
            raise NameTaken from exc
        return Response(self.get_serializer(saved).data)

    def perform_destroy(self, instance: SavedQuery) -> None:
        saved_queries.delete_saved_query(self._owned(instance), by=self.request.user, ip=audit.client_ip(self.request))

    def _owned(self, saved: SavedQuery) -> SavedQuery:
        if not saved_queries.can_edit(saved, self.request.user):
            raise PermissionDenied("Only its owner can change or delete a saved query.")
        return saved

    def _input(self, data, *, partial: bool = False) -> dict:
        given = SavedQueryIn(data=data, partial=partial)
        given.is_valid(raise_exception=True)
        return dict(given.validated_data)


# --- Exports -----------------------------------------------------------------------


class ExportPages(Pages):
    page_size = 50
    max_page_size = 200
    ordering = ("-created_at", "-id")


@extend_schema_view(
    list=extend_schema(summary="Own exports, newest first", tags=["exports"]),
    retrieve=extend_schema(summary="An export's status and progress", tags=["exports"]),
)
class ExportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    permission_classes = [IsAuthenticated, IsAnalyst]
    serializer_class = ExportOut
    pagination_class = ExportPages

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the types, no user
            return Export.objects.none()
        # Only one's own: someone else's export is 404 here and for download.
        return Export.objects.filter(owner=self.request.user)

    @extend_schema(
        summary="Export every report matching a query",
        description=(
            "Queues the export (202); a worker writes the file. Poll the export for `progress`, then "
            "fetch `download_url`. The query's `size`, `after` and `aggs` do not matter: every match is "
            "exported. Recorded in the audit log."
        ),
        request=ExportIn,
        responses={202: ExportOut, 400: OpenApiResponse(description="bad query or format"), 429: None},
        examples=[
            OpenApiExample(
                "Last week's alerts as CSV",
                value={"query": {"time": {"last": "7d"}, "alerts_only": True}, "purpose": "weekly review 2026-48"},
            )
        ],
        tags=["exports"],
    )
    def create(self, request):
        given = ExportIn(data=request.data)
        given.is_valid(raise_exception=True)
        values = given.validated_data
        try:
            export = exports.create_export(
                request.user,
                query=values["query"],
                format=values["format"],
                purpose=values.get("purpose"),
                ip=audit.client_ip(request),
            )
        except exports.TooManyExports as exc:
            raise Throttled(detail=str(exc)) from exc
        transaction.on_commit(partial(run_export.delay, export.pk))
        return Response(self.get_serializer(export).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Download a finished export",
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="the CSV file"),
            (200, "application/x-ndjson"): OpenApiResponse(OpenApiTypes.BINARY, description="one hit per line"),
            404: None,
            409: OpenApiResponse(description="not done yet, or failed"),
        },
        tags=["exports"],
    )
    def download(self, request, pk=None):
        export = self.get_object()
        if export.status != Export.Status.DONE:
            return problems.response(409, f"the export is {export.status}, not done", request=request)
        try:
            handle = open(export.file_path, "rb")  # noqa: SIM115 - FileResponse closes it
        except FileNotFoundError as exc:
            raise NotFound("the export's file is gone") from exc
        # The file leaves the system here: who took it, and when, belongs in the trail too.
        audit.record(
            request.user,
            "export.download",
            export.query,
            ip=audit.client_ip(request),
            export_id=export.pk,
            format=export.format,
            rows=export.rows_written,
        )
        return FileResponse(
            handle,
            as_attachment=True,
            filename=export.download_name,
            content_type=exports.CONTENT_TYPES[export.format],
        )
