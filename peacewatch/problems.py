"""One error shape for the whole HTTP API: RFC 9457 problem details, ``application/problem+json``.

Every refusal, from any endpoint (REST, search, ingest, Django's own 404 and
500 under ``/api/``), is one JSON object::

    {"type": "about:blank", "title": "Bad Request", "status": 400,
     "detail": "time: from must be before to", "field": "time",
     "errors": [{"field": "time", "detail": "time: from must be before to"}],
     "request_id": "9f1c..."}

``type`` is ``about:blank`` (RFC 9457 section 4.2.1: the status says it all) and
``title`` the status's phrase; ``detail`` says what is wrong in words;
``field`` is the JSON path of the first offending field (``""`` for the body as
a whole, absent when no field is at fault) and ``errors`` lists every one;
``request_id`` is the id the logs know the request by. Described once, as the
``Problem`` component of the OpenAPI document (:data:`SCHEMA`).
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from django.http import HttpRequest, JsonResponse

CONTENT_TYPE = "application/problem+json"
MAX_ERRORS = 50  # a body with thousands of bad items still gets a bounded answer


# RFC 9110's names where older Pythons' HTTPStatus still has RFC 7231's.
_RFC_9110 = {413: "Content Too Large", 422: "Unprocessable Content"}


def title(status: int) -> str:
    if status in _RFC_9110:
        return _RFC_9110[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def body(
    status: int,
    detail: str,
    *,
    field: str | None = None,
    errors: list[dict[str, str]] | None = None,
    request: HttpRequest | None = None,
    **members: Any,
) -> dict[str, Any]:
    """A problem; ``members`` are its extension members (ingest's ``code``, say)."""
    problem: dict[str, Any] = {"type": "about:blank", "title": title(status), "status": status, "detail": detail}
    if field is None and errors:
        field = errors[0]["field"]
    if field is not None:
        problem["field"] = field
        problem["errors"] = (errors or [{"field": field, "detail": detail}])[:MAX_ERRORS]
    if request is not None:
        problem["request_id"] = getattr(request, "request_id", "")
    return {**problem, **members}


def response(status: int, detail: str, *, request: HttpRequest | None = None, headers=None, **fields) -> JsonResponse:
    """A problem as a Django response (usable from DRF views too)."""
    return JsonResponse(
        body(status, detail, request=request, **fields), status=status, content_type=CONTENT_TYPE, headers=headers
    )


def flatten(detail: Any, path: str = "") -> list[dict[str, str]]:
    """DRF's nested error detail ({"name": ["..."], "items": [{"x": [...]}]}) as a flat list of field and text."""
    if isinstance(detail, dict):
        found = []
        for key, value in detail.items():
            if key == "non_field_errors":
                found += flatten(value, path)
            else:
                found += flatten(value, f"{path}.{key}" if path else str(key))
        return found
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return [{"field": path, "detail": str(item)} for item in detail]
        found = []
        for index, item in enumerate(detail):
            found += flatten(item, f"{path}[{index}]") if isinstance(item, dict | list) else flatten([item], path)
        return found
    return [{"field": path, "detail": str(detail)}]


def _named(error: dict[str, str]) -> str:
    """An error's text, prefixed by its field unless it already names it ("time: from must be before to")."""
    field, text = error["field"], error["detail"]
    last = re.split(r"[.\[]", field)[-1] if field else ""
    return text if not field or text.startswith((field, last)) else f"{field}: {text}"


_FIELD_PATH = re.compile(r"`\$\.?([^`]*)`")


def field_path(text: str) -> str | None:
    """The JSON path a msgspec validation message points at ("... - at `$.citizens[0].name`"), if it does."""
    match = _FIELD_PATH.search(text)
    return match.group(1) if match else None


def exception_handler(exc, context):
    """DRF's handler, then its answer reshaped as a problem (``REST_FRAMEWORK["EXCEPTION_HANDLER"]``)."""
    from rest_framework.exceptions import ValidationError
    from rest_framework.views import exception_handler as drf_handler

    answer = drf_handler(exc, context)
    if answer is None:
        return None  # not an API exception: Django's 500 handler answers, as a problem too
    request = context.get("request")
    if isinstance(exc, ValidationError):
        errors = flatten(answer.data)
        first = errors[0] if errors else {"field": "", "detail": "invalid input"}
        answer.data = body(answer.status_code, _named(first), errors=errors or [first], request=request)
    else:
        given = answer.data.get("detail") if isinstance(answer.data, dict) else answer.data
        answer.data = body(answer.status_code, str(given or title(answer.status_code)), request=request)
    answer.content_type = CONTENT_TYPE
    return answer


class ApiProblemsMiddleware:
    """Under ``/api/``, an error answered by anything else than this module (Django's own 404 for a path
    that matches no route, its CSRF refusal, DEBUG's pages) is turned into a problem too."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        answer = self.get_response(request)
        if (
            answer.status_code >= 400
            and request.path.startswith("/api/")
            and not answer.get("Content-Type", "").startswith(CONTENT_TYPE)
        ):
            detail = _DETAILS.get(answer.status_code, title(answer.status_code))
            problem = response(answer.status_code, detail, request=request)
            for header in ("Retry-After", "WWW-Authenticate", "Allow", "X-Request-ID"):
                if header in answer:
                    problem[header] = answer[header]
            return problem
        return answer


_DETAILS = {
    403: "not signed in, no CSRF token on a change, or the account's role does not allow it",
    404: "there is nothing at this address",
    405: "this address does not take this method",
}


SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details: every error of this API has this shape.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "always about:blank: the status says what kind of problem"},
        "title": {"type": "string", "description": "the HTTP status's phrase"},
        "status": {"type": "integer", "description": "the HTTP status code"},
        "detail": {"type": "string", "description": "what is wrong, in words"},
        "field": {"type": "string", "description": "JSON path of the first offending field; empty for the whole body"},
        "errors": {
            "type": "array",
            "description": "every offending field (at most 50)",
            "items": {
                "type": "object",
                "required": ["field", "detail"],
                "properties": {"field": {"type": "string"}, "detail": {"type": "string"}},
            },
        },
        "request_id": {
            "type": "string",
            "description": "quote it to an administrator: the logs know the request by it",
        },
    },
}
