"""The purpose of access: why an analyst looks at reports (CONTRACT section 4, v1.1).

Oversight asks not only who looked at whom but why. Every search (a citizen's
timeline is one) and every export carries a purpose, a case reference or a
reason of 3-200 characters, kept in the audit entry. While
``ANALYTICS_REQUIRE_PURPOSE`` is on (the default) a request without one is
refused with a 400 naming ``purpose``. It is not part of the query: a saved
query or an export's stored query is the question, not the reason it was asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings

from analytics.query import QueryError

MIN_LENGTH, MAX_LENGTH = 3, 200
FIELD = "purpose"
SCHEMA = {
    "type": "string",
    "minLength": MIN_LENGTH,
    "maxLength": MAX_LENGTH,
    "description": "Why you look: a case reference or reason (3-200 characters), kept in the audit log. "
    "Required while ANALYTICS_REQUIRE_PURPOSE is on (the default).",
    "example": "case 2026-1142: assault on Rue Verte",
    # At least 3 characters once whitespace runs are one space and the ends trimmed (clean() below).
    "pattern": r"\S(\s*\S\s*\S|\s+\S)",
}


def required() -> bool:
    return bool(settings.ANALYTICS_REQUIRE_PURPOSE)


def clean(value: Any) -> str | None:
    """The purpose as recorded (whitespace runs made one space), or QueryError naming ``purpose``."""
    if value is None:
        if settings.ANALYTICS_REQUIRE_PURPOSE:
            raise QueryError(
                FIELD, f"say why you look: a case reference or reason, {MIN_LENGTH}-{MAX_LENGTH} characters"
            )
        return None
    if not isinstance(value, str):
        raise QueryError(FIELD, "must be a string")
    if len(value) > MAX_LENGTH:
        raise QueryError(FIELD, f"must be {MIN_LENGTH}-{MAX_LENGTH} characters, not {len(value)}")
    # Kept as typed, but one line of visible characters: whitespace runs become one space, and
    # what cannot be shown (control, format, private-use characters) the replacement character.
    text = "".join(c if c.isprintable() else "\ufffd" for c in " ".join(value.split()))
    if len(text) < MIN_LENGTH:
        raise QueryError(FIELD, f"must be {MIN_LENGTH}-{MAX_LENGTH} characters, not {len(text)}")
    return text


def split(data: Any) -> tuple[str | None, Any]:
    """(purpose, the query without it) from a search body; QueryError when the purpose is missing or bad."""
    if not isinstance(data, Mapping):
        return None, data  # not a query at all: parse_query says so
    rest = dict(data)
    return clean(rest.pop(FIELD, None)), rest
