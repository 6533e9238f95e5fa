"""The OpenAPI document's analytics parts that depend on settings (a drf-spectacular post-processing hook)."""

from __future__ import annotations

from django.conf import settings

from analytics import purpose


def purpose_when_required(result: dict, generator, request, public) -> dict:
    """While ANALYTICS_REQUIRE_PURPOSE is on, an export without a purpose is refused: the document says so."""
    export_in = result.get("components", {}).get("schemas", {}).get("ExportIn")
    if export_in is not None:
        field = export_in["properties"][purpose.FIELD]
        field.update({k: v for k, v in purpose.SCHEMA.items() if k in ("pattern", "example")})
        if settings.ANALYTICS_REQUIRE_PURPOSE:
            field.pop("nullable", None)
            export_in["required"] = sorted({*export_in.get("required", []), purpose.FIELD})
    return result
