"""API shapes of analytics: saved queries, exports, and the OpenAPI schema of a query.

The query's schema is derived from :class:`analytics.query.Query` itself, so
the API document cannot drift from what :func:`parse_query` accepts.
"""

from __future__ import annotations

from functools import cache

import msgspec
from django.urls import reverse
from rest_framework import serializers

from analytics import purpose
from analytics.models import Export, SavedQuery
from analytics.query import Query, QueryError, parse_query


def _runnable_query(value) -> None:
    try:
        parse_query(value)
    except QueryError as exc:
        raise serializers.ValidationError(exc.as_dict()) from exc


class Strict(serializers.Serializer):
    """Input that refuses fields it does not know (a typo should not pass silently)."""

    def validate(self, attrs):
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError({name: "unknown field" for name in sorted(unknown)})
        return attrs


class SavedQueryOut(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True)
    can_edit = serializers.SerializerMethodField()

    class Meta:
        model = SavedQuery
        fields = ["id", "name", "query", "shared", "owner", "created_at", "updated_at", "can_edit"]
        read_only_fields = fields

    def get_can_edit(self, saved: SavedQuery) -> bool:
        request = self.context.get("request")
        return bool(request and saved.owner_id == request.user.pk)


class SavedQueryIn(Strict):
    name = serializers.CharField(max_length=200)
    query = serializers.JSONField(validators=[_runnable_query])
    shared = serializers.BooleanField(default=False)


class ExportIn(Strict):
    query = serializers.JSONField(validators=[_runnable_query])
    format = serializers.ChoiceField(choices=Export.Format.choices, default=Export.Format.CSV)
    purpose = serializers.CharField(
        required=False,
        allow_null=True,
        trim_whitespace=False,  # purpose.clean judges and tidies it
        help_text=purpose.SCHEMA["description"],
        min_length=purpose.MIN_LENGTH,
        max_length=purpose.MAX_LENGTH,
    )

    def validate(self, attrs):
        attrs = super().validate(attrs)
        try:
            attrs["purpose"] = purpose.clean(attrs.get("purpose"))
        except QueryError as exc:
            raise serializers.ValidationError({purpose.FIELD: exc.as_dict()}) from exc
        return attrs


class ExportOut(serializers.ModelSerializer):
    progress = serializers.FloatField(read_only=True, help_text="0..1; 1 once done")
    download_url = serializers.SerializerMethodField(help_text="Set once the export is done")

    class Meta:
        model = Export
        fields = [
            "id",
            "status",
            "format",
            "query",
            "total",
            "rows_written",
            "progress",
            "download_url",
            "error",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_download_url(self, export: Export) -> str | None:
        if export.status != Export.Status.DONE:
            return None
        return reverse("export-download", args=[export.pk])


# --- OpenAPI schema of the query and of search results ---------------------------


@cache
def search_request_schema() -> dict:
    """A search body: a query, plus the purpose of access beside it (analytics/purpose.py)."""
    from django.conf import settings

    schema = query_schema()
    body = {**schema, "properties": {"purpose": purpose.SCHEMA, **schema["properties"]}}
    if settings.ANALYTICS_REQUIRE_PURPOSE:
        body["required"] = ["purpose", *schema.get("required", [])]
    return body


def query_schema() -> dict:
    """Query's JSON Schema, inlined and made OpenAPI 3.0 (``nullable`` instead of a null type and so on)."""
    schema = msgspec.json.schema(Query)
    return _openapi(schema, schema["$defs"])


def _openapi(node, defs: dict):
    if isinstance(node, list):
        return [_openapi(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _openapi(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
    options = node.get("anyOf")
    if options and {"type": "null"} in options:
        rest = [o for o in options if o != {"type": "null"}]
        inner = _openapi(rest[0], defs) if len(rest) == 1 else {"anyOf": _openapi(rest, defs)}
        extra = {k: _openapi(v, defs) for k, v in node.items() if k != "anyOf"}
        return {**inner, **extra, "nullable": True}
    out = {k: _openapi(v, defs) for k, v in node.items() if k != "$defs"}
    if out.get("required") == []:
        del out["required"]  # OpenAPI 3.0 wants at least one name there
    # JSON Schema's numeric exclusive bounds are booleans beside the bound in OpenAPI 3.0.
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if not isinstance(out.get(exclusive, True), bool):
            out[bound], out[exclusive] = out[exclusive], True
    return out


_BUCKETS = {
    "type": "array",
    "items": {"type": "object", "properties": {"key": {"type": "string"}, "count": {"type": "integer"}}},
}
_CITIZEN_BUCKETS = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "key": {"type": "string", "description": "the citizen's id when reports gave one, else the name"},
            "name": {"type": "string", "description": "the name most often seen for this key among the matches"},
            "count": {"type": "integer"},
        },
    },
}
_HIT = {
    "type": "object",
    "properties": {
        "report_id": {"type": "string"},
        "observed_at": {"type": "string", "format": "date-time"},
        "time_source": {"type": "string", "description": "drone (sent_at) or broker (Kafka record time)"},
        "clock_skew": {
            "type": "boolean",
            "description": "sent_at ran more than MAX_CLOCK_SKEW_S ahead of the broker time, which was used instead",
        },
        "drone_id": {"type": "string"},
        "location": {"type": "object", "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}}},
        "citizens": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "key": {"type": "string", "description": "id when the report gave one, else the name"},
                    "peacescore": {"type": "number"},
                },
            },
        },
        "words": {"type": "array", "items": {"type": "string"}},
        "alert": {"type": "boolean", "description": "some citizen below the live alert threshold"},
        "cursor": {"type": "string"},
    },
}
SEARCH_RESULT_SCHEMA = {
    "type": "object",
    "properties": {
        "engine": {"type": "string", "enum": ["embedded", "elasticsearch"]},
        "took_ms": {"type": "number"},
        "query": {
            "type": "object",
            "description": "the resolved query: absolute range, histogram interval, grid precision",
            "properties": {
                "from": {"type": "string", "format": "date-time"},
                "to": {"type": "string", "format": "date-time"},
                "interval": {"type": "string"},
                "grid_precision": {"type": "integer"},
            },
        },
        "total": {"type": "integer"},
        "hits": {"type": "array", "items": _HIT},
        "next": {"type": "string", "nullable": True, "description": "pass as `after` for the next page"},
        "aggregations": {
            "type": "object",
            "description": "only those asked for in `aggs`",
            "properties": {
                "histogram": {
                    "type": "object",
                    "properties": {"interval": {"type": "string"}, "buckets": _BUCKETS},
                },
                "top_citizens": _CITIZEN_BUCKETS,
                "top_drones": _BUCKETS,
                "top_words": _BUCKETS,
                "score": {
                    "type": "object",
                    "properties": {
                        "count": {"type": "integer"},
                        "min": {"type": "number", "nullable": True},
                        "max": {"type": "number", "nullable": True},
                        "avg": {"type": "number", "nullable": True},
                        "percentiles": {"type": "object", "additionalProperties": {"type": "number", "nullable": True}},
                    },
                },
                "grid": {
                    "type": "object",
                    "properties": {
                        "precision": {"type": "integer"},
                        "cells": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "key": {"type": "string", "description": "zoom/x/y"},
                                    "count": {"type": "integer"},
                                    "bounds": {
                                        "type": "object",
                                        "properties": {
                                            side: {"type": "number"} for side in ("north", "south", "west", "east")
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}
QUERY_ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {"type": "string", "description": "what is wrong, prefixed by the field"},
        "field": {"type": "string", "description": "JSON path of the culprit, empty for the whole body"},
    },
}
