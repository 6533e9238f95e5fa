"""The API reference page (/api/docs/), drawn on the server from the OpenAPI document.

The same document that /api/schema/ serves, turned into plain data a template
shows as headings, tables and examples: it works without JavaScript, with the
keyboard and a screen reader, on a phone, and prints. (Swagger UI, which the
page used before, nests buttons in buttons and breaks contrast and landmark
rules that the pages are held to.) The document stays the source of truth:
download it for tools and client generators.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

METHODS = ("get", "post", "put", "patch", "delete")
SAFE = {"get", "head", "options"}


@dataclass
class Field:
    name: str
    type: str
    required: bool
    description: str
    link: str = ""  # the anchor of the schema its type names, if one


@dataclass
class Parameter:
    name: str
    where: str
    type: str
    required: bool
    description: str


@dataclass
class Response:
    status: str
    description: str
    content_type: str
    type: str
    link: str = ""


@dataclass
class Operation:
    anchor: str
    method: str
    path: str
    summary: str
    description: str
    parameters: list[Parameter]
    body_type: str
    body_link: str
    body_content_type: str
    body_fields: list[Field]
    responses: list[Response]
    auth: str
    example: str


@dataclass
class Group:
    name: str
    anchor: str
    operations: list[Operation] = field(default_factory=list)


@dataclass
class Schema:
    name: str
    anchor: str
    description: str
    type: str
    fields: list[Field]


@dataclass
class Reference:
    title: str
    version: str
    description: str
    groups: list[Group]
    schemas: list[Schema]
    auth_schemes: list[tuple[str, str]]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def schema_anchor(name: str) -> str:
    return "schema-" + slug(name)


def ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def type_of(schema: dict | None) -> str:
    """A schema in a few words: ``string (date-time)``, ``array of Citizen``, ``one of: A, B``."""
    if not schema:
        return "any"
    if "$ref" in schema:
        return ref_name(schema["$ref"])
    for key, word in (("oneOf", "one of"), ("anyOf", "any of")):
        if key in schema:
            return f"{word}: " + ", ".join(type_of(s) for s in schema[key])
    if "allOf" in schema:
        return " and ".join(type_of(s) for s in schema["allOf"])
    kind = schema.get("type", "object" if "properties" in schema else "any")
    if isinstance(kind, list):
        kind = " or ".join(kind)
    if kind == "array":
        text = "array of " + type_of(schema.get("items"))
    elif "enum" in schema:
        text = "one of " + ", ".join(json.dumps(v) for v in schema["enum"] if v not in (None, ""))
    else:
        text = kind
        if "format" in schema:
            text += f" ({schema['format']})"
    limits = []
    for key, word in (("minimum", "≥"), ("maximum", "≤"), ("minLength", "length ≥"), ("maxLength", "length ≤")):
        if key in schema:
            limits.append(f"{word} {schema[key]}")
    if "pattern" in schema:
        limits.append(f"matching {schema['pattern']}")
    if limits:
        text += ", " + ", ".join(limits)
    if schema.get("nullable"):
        text += ", or null"
    return text


def link_of(type_text: str, components: dict) -> str:
    """The anchor of the schema a type names (``Citizen``, ``array of Citizen``), or ''."""
    name = type_text.removeprefix("array of ").split(",")[0]
    return schema_anchor(name) if name in components else ""


def fields_of(schema: dict | None, components: dict) -> list[Field]:
    """The properties of an object schema (followed through one reference), in the document's order."""
    if not schema:
        return []
    if "$ref" in schema:
        schema = components.get(ref_name(schema["$ref"]), {})
    required = set(schema.get("required", []))
    return [
        Field(name, type_of(prop), name in required, prop.get("description", ""), link_of(type_of(prop), components))
        for name, prop in schema.get("properties", {}).items()
    ]


def _first_content(content: dict) -> tuple[str, dict]:
    for content_type, media in content.items():
        return content_type, media.get("schema") or {}
    return "", {}


def _auth(security: list[dict] | None, schemes: dict) -> str:
    if not security:
        return "none"
    names = sorted({name for requirement in security for name in requirement})
    return ", ".join(schemes.get(name, {}).get("description", name).split(".")[0] or name for name in names)


def _example(method: str, path: str, security: list[dict] | None, body_type: str) -> str:
    """A curl line to start from: the session cookie for people, the bearer token for drones."""
    names = {name for requirement in security or [] for name in requirement}
    lines = [f"curl -X {method.upper()} 'https://peacewatch.example{path}'"]
    if "droneToken" in names:
        lines.append("  -H 'Authorization: Bearer $DRONE_TOKEN'")
    elif names:
        lines.append("  -b 'sessionid=$SESSION; csrftoken=$CSRF'")
        if method not in SAFE:
            lines.append("  -H 'X-CSRFToken: $CSRF'")
    if body_type:
        lines.append("  -H 'Content-Type: application/json' -d @body.json")
    return " \\\n".join(lines)


def build(document: dict[str, Any]) -> Reference:
    components = document.get("components", {}).get("schemas", {})
    schemes = document.get("components", {}).get("securitySchemes", {})
    groups: dict[str, Group] = {}
    for path, item in document.get("paths", {}).items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            tag = (op.get("tags") or ["other"])[0]
            group = groups.setdefault(tag, Group(name=tag, anchor="tag-" + slug(tag)))
            body_content_type, body_schema = _first_content(op.get("requestBody", {}).get("content", {}))
            body_type = type_of(body_schema) if body_content_type else ""
            responses = []
            for status, response in op.get("responses", {}).items():
                content_type, schema = _first_content(response.get("content", {}))
                kind = type_of(schema) if content_type else ""
                responses.append(
                    Response(status, response.get("description", ""), content_type, kind, link_of(kind, components))
                )
            responses.sort(key=lambda r: r.status)
            group.operations.append(
                Operation(
                    anchor="op-" + slug(op.get("operationId") or f"{method} {path}"),
                    method=method.upper(),
                    path=path,
                    summary=op.get("summary", ""),
                    description=op.get("description", ""),
                    parameters=[
                        Parameter(
                            p["name"],
                            p.get("in", ""),
                            type_of(p.get("schema")),
                            bool(p.get("required")),
                            p.get("description", ""),
                        )
                        for p in op.get("parameters", [])
                    ],
                    body_type=body_type,
                    body_link=link_of(body_type, components),
                    body_content_type=body_content_type,
                    body_fields=fields_of(body_schema, components) if body_content_type else [],
                    responses=responses,
                    auth=_auth(op.get("security"), schemes),
                    example=_example(method, path, op.get("security"), body_type),
                )
            )
    schemas = [
        Schema(name, schema_anchor(name), schema.get("description", ""), type_of(schema), fields_of(schema, components))
        for name, schema in sorted(components.items())
    ]
    info = document.get("info", {})
    return Reference(
        title=info.get("title", "API"),
        version=str(info.get("version", "")),
        description=info.get("description", ""),
        groups=sorted(groups.values(), key=lambda g: g.name),
        schemas=schemas,
        auth_schemes=[(name, scheme.get("description", "")) for name, scheme in sorted(schemes.items())],
    )
