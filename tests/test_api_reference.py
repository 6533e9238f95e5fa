"""The API reference page's reading of an OpenAPI document (peacewatch/api_reference.py)."""

from peacewatch.api_reference import build, type_of

DOCUMENT = {
    "info": {"title": "T", "version": "1", "description": "d"},
    "paths": {
        "/things/{id}/": {
            "patch": {
                "operationId": "things_update",
                "tags": ["things"],
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
                "responses": {
                    "404": {"description": "none"},
                    "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
                },
                "security": [{"cookieAuth": [], "csrfHeader": []}],
            }
        },
        "/ingest": {"post": {"tags": ["ingest"], "security": [{"droneToken": []}], "responses": {}}},
    },
    "components": {
        "schemas": {
            "Thing": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "maxLength": 10},
                    "parts": {"type": "array", "items": {"$ref": "#/components/schemas/Part"}},
                },
            },
            "Part": {"type": "object", "properties": {}},
        },
        "securitySchemes": {"cookieAuth": {"description": "The session cookie. Sign in first."}},
    },
}


def test_a_schema_reads_as_a_few_words():
    assert type_of({"type": "string", "format": "date-time", "nullable": True}) == "string (date-time), or null"
    assert type_of({"type": "array", "items": {"$ref": "#/components/schemas/Citizen"}}) == "array of Citizen"
    assert type_of({"oneOf": [{"type": "string"}, {"type": "integer", "minimum": 1}]}) == "one of: string, integer, ≥ 1"
    assert type_of({"enum": ["new", "acknowledged", None]}) == 'one of "new", "acknowledged"'
    assert type_of(None) == "any"


def test_operations_are_grouped_by_tag_with_their_fields_responses_and_a_curl_to_start_from():
    reference = build(DOCUMENT)
    assert [g.name for g in reference.groups] == ["ingest", "things"]
    update = reference.groups[1].operations[0]
    assert (update.anchor, update.method, update.path) == ("op-things-update", "PATCH", "/things/{id}/")
    assert [(f.name, f.type, f.required, f.link) for f in update.body_fields] == [
        ("name", "string, length ≤ 10", True, ""),
        ("parts", "array of Part", False, "schema-part"),
    ]
    assert [r.status for r in update.responses] == ["200", "404"] and update.responses[0].link == "schema-thing"
    assert "X-CSRFToken" in update.example and "-d @body.json" in update.example
    assert update.auth == "The session cookie, csrfHeader"
    ingest = reference.groups[0].operations[0]
    assert "Authorization: Bearer $DRONE_TOKEN" in ingest.example and "X-CSRFToken" not in ingest.example
