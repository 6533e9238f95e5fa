"""The OpenAPI document, made to describe the server exactly (drf-spectacular post-processing hooks).

drf-spectacular documents what a view declares; these hooks add what every
operation shares: the errors it can answer, all in the one problem shape of
``peacewatch/problems.py``, and the closed request bodies (every input this API
takes refuses fields it does not know, so the document says
``additionalProperties: false``).
"""

from __future__ import annotations

from typing import Any

from peacewatch import problems

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

# What any operation may answer besides its own successes: the client's mistakes, never a 500 from input.
COMMON_ERRORS = {
    400: "the request is malformed or a parameter or field is invalid (`field` names it)",
    403: "not signed in, no CSRF token on a change, or the account's role does not allow it",
    406: "the Accept header asks for a type this operation cannot produce",
}
BODY_ERRORS = {
    413: "the body is larger than the server accepts",
    415: "the body is not JSON",
}
PATH_ERRORS = {404: "nothing with this id, or not visible to this account"}
LIST_ERRORS = {404: "the cursor is not one this API returned"}


def problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {problems.CONTENT_TYPE: {"schema": PROBLEM_REF}}}


def from_json_schema(node: Any, defs: dict | None = None) -> Any:
    """A JSON Schema (msgspec's, with ``$defs``) inlined and made OpenAPI 3.0: ``nullable`` instead of a null type,
    boolean exclusive bounds beside the bound."""
    if defs is None and isinstance(node, dict):
        defs = node.get("$defs", {})
    if isinstance(node, list):
        return [from_json_schema(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return from_json_schema(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
    options = node.get("anyOf")
    if options and {"type": "null"} in options:
        rest = [o for o in options if o != {"type": "null"}]
        inner = from_json_schema(rest[0], defs) if len(rest) == 1 else {"anyOf": from_json_schema(rest, defs)}
        extra = {k: from_json_schema(v, defs) for k, v in node.items() if k != "anyOf"}
        return {**inner, **extra, "nullable": True}
    out = {k: from_json_schema(v, defs) for k, v in node.items() if k != "$defs"}
    if out.get("required") == []:
        del out["required"]  # OpenAPI 3.0 wants at least one name there
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if not isinstance(out.get(exclusive, True), bool):
            out[bound], out[exclusive] = out[exclusive], True
    return out


def _close(schema: dict, components: dict, seen: set[str]) -> None:
    """``additionalProperties: false`` on an object schema and the objects inside it."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name not in seen and name in components:
            seen.add(name)
            _close(components[name], components, seen)
        return
    for key in ("allOf", "oneOf", "anyOf"):
        for part in schema.get(key, []):
            _close(part, components, seen)
    if schema.get("type") == "object" and "properties" in schema:
        schema.setdefault("additionalProperties", False)
        for prop in schema["properties"].values():
            _close(prop, components, seen)
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        _close(schema["items"], components, seen)


CSRF_SCHEMES = {
    "csrfCookie": {"type": "apiKey", "in": "cookie", "name": "csrftoken", "description": "Django's CSRF cookie"},
    "csrfHeader": {
        "type": "apiKey",
        "in": "header",
        "name": "X-CSRFToken",
        "description": "the CSRF cookie's value again: a session-signed-in change needs both",
    },
}
SAFE_METHODS = ("get", "head", "options")


def errors_everywhere(result: dict, generator, request, public) -> dict:
    """Every operation documents the problems it can answer and the CSRF pair a session's changes need;
    every request body is closed."""
    schemes = result.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes.update(CSRF_SCHEMES)
    components = result["components"].setdefault("schemas", {})
    components["Problem"] = problems.SCHEMA
    seen: set[str] = set()
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in SAFE_METHODS and {"cookieAuth": []} in operation.get("security", []):
                operation["security"] = [{"cookieAuth": [], "csrfCookie": [], "csrfHeader": []}]
            responses = operation.setdefault("responses", {})
            wanted = dict(COMMON_ERRORS)
            if "requestBody" in operation:
                wanted.update(BODY_ERRORS)
            if "{" in path:
                wanted.update(PATH_ERRORS)
            elif method == "get":
                wanted.update(LIST_ERRORS)
            for status, description in wanted.items():
                responses.setdefault(str(status), problem_response(description))
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    response["content"] = {problems.CONTENT_TYPE: {"schema": PROBLEM_REF}}
                    response.setdefault("description", problems.title(int(status)))
            if "requestBody" in operation:
                operation["requestBody"]["required"] = True  # no operation here takes an empty body
            for content in operation.get("requestBody", {}).get("content", {}).values():
                _close(content.get("schema", {}), components, seen)
    return result
