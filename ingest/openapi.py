"""``POST /api/v1/ingest/reports`` in the OpenAPI document (a drf-spectacular post-processing hook).

The endpoint is a plain async Django view (``ingest/http.py``), which
drf-spectacular does not see; this hook describes it, with the drone's bearer
token as its security scheme and the report's schema generated from the
decoder's own (``ingest.reports.json_schema``), plus what JSON Schema leaves
to the decoder's description (no control characters, 64-bit integers).
"""

from __future__ import annotations

from typing import Any

from ingest.http import MAX_ITEMS
from ingest.reports import json_schema
from peacewatch import problems
from peacewatch.openapi import from_json_schema, problem_response

NO_CONTROL_CHARACTERS = "^[^\\u0000-\\u001F\\u007F]*$"
INT64 = 2**63 - 1


def _as_decoded(node: Any) -> Any:
    """What the decoder takes, said in the schema: unknown fields kept, no control characters, 64-bit integers."""
    if isinstance(node, list):
        return [_as_decoded(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _as_decoded(value) for key, value in node.items()}
    if out.get("type") == "object":
        out.setdefault("additionalProperties", True)
    if out.get("type") == "string" and "pattern" not in out and "format" not in out and "enum" not in out:
        out["pattern"] = NO_CONTROL_CHARACTERS
    if out.get("type") == "integer":
        out.setdefault("minimum", -INT64 - 1)
        out.setdefault("maximum", INT64)
    return out


def report_schema() -> dict:
    schema = json_schema()
    report = from_json_schema(schema["$defs"]["Report"], schema["$defs"])
    return _as_decoded(report)


OUTCOME = {
    "type": "object",
    "description": (
        "One item's outcome, by its index in the body: accepted (with the report id, derived when the item "
        "had none), or rejected: then a problem (components/schemas/Problem, status 422) with `code`, the "
        "stable dead-letter code (schema, drone_mismatch, too_large...). A rejected item is on the "
        "dead-letter topic, unchanged."
    ),
    "required": ["index", "outcome"],
    "properties": {
        "index": {"type": "integer", "minimum": 0},
        "outcome": {"type": "string", "enum": ["accepted", "rejected"]},
        "report_id": {"type": "string"},
        "code": {"type": "string"},
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "field": {"type": "string"},
        "errors": problems.SCHEMA["properties"]["errors"],
    },
}
RESULT = {
    "type": "object",
    "required": ["accepted", "rejected", "items"],
    "properties": {
        "accepted": {"type": "integer", "minimum": 0, "description": "items on peacewatch.reports"},
        "rejected": {"type": "integer", "minimum": 0, "description": "items on peacewatch.deadletter"},
        "items": {"type": "array", "items": {"$ref": "#/components/schemas/IngestOutcome"}},
    },
}


def ingest_endpoint(result: dict, generator, request, public) -> dict:
    components = result.setdefault("components", {})
    components.setdefault("securitySchemes", {})["droneToken"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "The drone's token, issued when it is registered (admin or `manage.py register_drone`)",
    }
    schemas = components.setdefault("schemas", {})
    schemas["Report"] = report_schema()
    schemas["IngestOutcome"] = OUTCOME
    schemas["IngestResult"] = RESULT
    result.setdefault("paths", {})["/api/v1/ingest/reports"] = {
        "post": {
            "operationId": "ingest_reports",
            "summary": "Send reports over HTTP (drones that cannot speak Kafka)",
            "description": (
                "One report, or an array of 1 to 1,000 items, each judged on its own like a Kafka record: "
                "valid ones go to peacewatch.reports, the others to peacewatch.deadletter, and the 202 comes "
                "only once Kafka acknowledged every record. A single report that is refused gets its problem "
                "as the answer (422; 403 when it is another drone's), after it was dead-lettered. Each report's "
                "drone_id must be the token's drone; sent_at within MAX_CLOCK_SKEW_S of the server's clock."
            ),
            "tags": ["ingest"],
            "security": [{"droneToken": []}],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "oneOf": [
                                {"$ref": "#/components/schemas/Report"},
                                {
                                    "type": "array",
                                    "minItems": 1,
                                    "maxItems": MAX_ITEMS,
                                    "description": "each item should be a Report; each is accepted or rejected "
                                    "on its own (see the answer's items)",
                                    "items": {},
                                },
                            ]
                        }
                    }
                },
            },
            "responses": {
                "202": {
                    "description": "every item accepted or rejected, the accepted ones stored by Kafka",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/IngestResult"}}},
                },
                "401": {
                    **problem_response("no bearer token, or not a drone's"),
                    "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
                },
                "403": problem_response("the drone is retired, or the single report is another drone's"),
                "422": problem_response("the single report sent is refused (it is on the dead-letter topic)"),
                "429": {
                    **problem_response("over the drone's rate limit"),
                    "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                },
                "503": {
                    **problem_response(
                        "Kafka cannot confirm the reports now: none is accepted, send them again "
                        "(one Kafka kept anyway is counted once, by its report_id)"
                    ),
                    "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                },
            },
        }
    }
    return result
