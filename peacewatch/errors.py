"""Errors as clients see them outside DEBUG: a plain page or a JSON problem, and a request id to quote.

Every request gets an id (``X-Request-ID``: the caller's own when it is a sane
token, else a new one), sent back in the response header. An unhandled error
is logged with that id and its traceback, and the client sees only the id:
no traceback, path or URL list, whatever DEBUG says for the log.
"""

from __future__ import annotations

import logging
import re
import uuid

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from peacewatch import problems

logger = logging.getLogger(__name__)

_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def request_id(request: HttpRequest) -> str:
    return getattr(request, "request_id", "")


class RequestIdMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get("X-Request-ID", "")
        request.request_id = given if _SANE_ID.match(given) else uuid.uuid4().hex
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        fields = {"request_id": request_id(request), "method": request.method, "path": request.path}
        logger.error("request_failed", exc_info=exception, extra={"fields": fields})


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


def _problem(request: HttpRequest, status: int, title: str, detail: str) -> HttpResponse:
    if _wants_json(request):
        return problems.response(status, detail, request=request)
    html = render_to_string(
        "error.html", {"status": status, "title": title, "detail": detail, "request_id": request_id(request)}
    )
    return HttpResponse(html, status=status)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _problem(request, 404, "Not found", "There is nothing at this address.")


def server_error(request: HttpRequest) -> HttpResponse:
    return _problem(
        request,
        500,
        "Something went wrong",
        "The error is recorded. If it persists, give an administrator the request id below.",
    )


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _problem(request, 403, "Not allowed", "Your role does not give access to this page.")


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _problem(request, 400, "Bad request", "The request could not be understood.")
