"""API shapes of analytics: saved queries, exports, and the OpenAPI schema of a query.

The query's schema is derived from :class:`analytics.query.Query` itself, so
the API document cannot drift from what :func:`parse_query` accepts.
"""

from __future__ import annotations

from functools import cache

import msgspec
from django.core.validators import RegexValidator
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from analytics import purpose
from analytics.models import Export, SavedQuery
from analytics.query import Query, QueryError, parse_query
from peacewatch.fields import StrictBooleanField, StrictCharField
from peacewatch.openapi import from_json_schema


def _runnable_query(value) -> None:
    if isinstance(value, dict):  # an export reads every match, a saved query is run anew: `after` does not matter
        value = {key: item for key, item in value.items() if key != "after"}
    try:
        parse_query(value)
    except QueryError as exc:
        raise serializers.ValidationError({exc.field: [str(exc)]} if exc.field else [str(exc)]) from exc


def query_schema() -> dict:
    """Query's JSON Schema, inlined and made OpenAPI 3.0 (``nullable`` instead of a null type and so on), with
    the rules :func:`analytics.query._check` applies that a schema can say. What it cannot (``from`` before
    ``to``, ``min`` not above ``max``, a box's south not above its north nor its west above its east, at most
    ten years) is in the descriptions."""
    schema = from_json_schema(msgspec.json.schema(Query))
    _no_nul(schema)
    props = schema["properties"]
    time = props["time"]
    time["properties"]["last"]["pattern"] = LAST_PATTERN
    for bound in ("from", "to"):
        time["properties"][bound]["format"] = "date-time"
    time["not"] = {"anyOf": [_given(last="string", **{bound: "string"}) for bound in ("from", "to")]}
    time["description"] += " Not both; from before to; ten years at most."
    props["score"]["description"] = (
        "peacescore range: keeps the reports where at least one citizen scores within it, and the citizen "
        "charts (`top_citizens`, `score`) count only the citizens within it. min must not be greater than max"
    )
    props["arrived_before"]["format"] = "date-time"
    props["arrived_before"]["description"] = (
        "only reports that had arrived (were stored) before this time: pass an answer's `as_of`, and later "
        "pages, counts and exports of the same query count the same reports, whatever arrived since"
    )
    props["area"]["oneOf"] = [_given(box="object"), _given(circle="object")]
    props["area"]["properties"]["box"]["description"] = "south not above north, west not above east"
    props["citizen"]["oneOf"] = [
        {**_given(name="string"), "not": _given(key="string")},
        {**_given(key="string"), "not": _given(name="string")},
    ]
    props["citizen"]["oneOf"][1]["properties"]["match"] = {"type": "string", "enum": ["exact"]}
    props["words"]["anyOf"] = [_given(any="array"), _given(all="array")]
    for branch in props["words"]["anyOf"]:
        for name in branch["required"]:
            branch["properties"][name] = {**props["words"]["properties"][name], "minItems": 1}
    props["aggs"]["uniqueItems"] = True
    props["after"]["description"] = "the `next` of an earlier answer; anything else is a 404"
    return schema


# time.last: a number and a unit, ten years at most (analytics.query.MAX_RANGE_MS).
LAST_PATTERN = r"^([0-9]{1,4}[mh]|([0-9]{1,3}|[0-2][0-9]{3}|3[0-5][0-9]{2}|36[0-5][0-9]|3660)d)$"


def _given(**types: str) -> dict:
    """Schema: an object where each of these properties is present, of this type (so not null)."""
    return {"type": "object", "required": list(types), "properties": {name: {"type": t} for name, t in types.items()}}


def _no_nul(node) -> None:
    """Strings refuse U+0000 (the query is stored in PostgreSQL, which cannot hold it)."""
    if isinstance(node, list):
        for item in node:
            _no_nul(item)
    elif isinstance(node, dict):
        if node.get("type") == "string" and "pattern" not in node and "enum" not in node:
            node["pattern"] = "^[^\\u0000]*$"
        for value in node.values():
            _no_nul(value)


def stored_query_schema() -> dict:
    """A query kept (saved, exported): as the search takes it, ``after`` aside (ignored: it points into one page)."""
    schema = query_schema()
    after = {"description": "ignored here, whatever it holds"}
    return {**schema, "properties": {**schema["properties"], "after": after}}


@extend_schema_field({**stored_query_schema(), "description": "a query, as the search takes it (without `purpose`)"})
class QueryField(serializers.JSONField):
    """A query object; its full schema is the search body's (``POST /api/v1/reports/search``)."""


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
    name = StrictCharField(min_length=1, max_length=200, validators=[RegexValidator(r"\S", "must not be blank")])
    query = QueryField(validators=[_runnable_query])
    shared = StrictBooleanField(default=False)


class ExportIn(Strict):
    query = QueryField(validators=[_runnable_query])
    format = serializers.ChoiceField(choices=Export.Format.choices, default=Export.Format.CSV)
    purpose = StrictCharField(
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
            raise serializers.ValidationError({purpose.FIELD: [str(exc)]}) from exc
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
        "engine": {
            "type": "string",
            "description": "the engines that answered, joined by + (embedded, elasticsearch, archive): "
            "archive+embedded when the range starts before the index's retention",
            "example": "embedded",
        },
        "sources": {
            "type": "array",
            "description": "which engine answered which part of the range, with its count",
            "items": {
                "type": "object",
                "properties": {
                    "engine": {"type": "string"},
                    "from": {"type": "string", "format": "date-time"},
                    "to": {"type": "string", "format": "date-time"},
                    "total": {"type": "integer"},
                },
            },
        },
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
        "as_of": {
            "type": "string",
            "format": "date-time",
            "description": "the answer counts the reports that had arrived before this time (the query's "
            "`arrived_before` when it gave one); send it as `arrived_before` to count the same reports again",
        },
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
