"""Small cross-cutting views: liveness, readiness, metrics, the landing page and the API reference."""

from __future__ import annotations

import asyncio
import hmac
import logging
import threading
import time

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from drf_spectacular.generators import SchemaGenerator

from peacewatch import api_reference
from peacewatch.logs import log
from peacewatch.roles import ANALYST, OFFICER, has_role
from peacewatch.streams import kafka

logger = logging.getLogger(__name__)

READY_TIMEOUT_S = 3.0
READY_CACHE_S = 5.0
_ready_lock = threading.Lock()
_ready: tuple[float, dict, bool] | None = None  # (monotonic time of the probe, body, ready)
LOOPBACK = {"127.0.0.1", "::1"}


@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers. No data, no dependency checks."""
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request: HttpRequest) -> HttpResponse:
    """Readiness: 200 when the database, Kafka and the analytics engine answer, else 503.

    Says which dependency failed, never how (no addresses or credentials):
    the endpoint is public so that load balancers can probe it. So the answer
    is the last probe's while it is under READY_CACHE_S old (``age_s`` says how
    old): any number of callers cost one probe, one Kafka client, per period.
    """
    global _ready
    with _ready_lock:  # callers arriving during a probe wait for its answer
        if _ready is None or time.monotonic() - _ready[0] >= READY_CACHE_S:
            probed = _probe()
            # Timed from the probe's end: its checks ran until then, and a fresh answer is 0 s old however
            # long a slow dependency took to answer.
            _ready = (time.monotonic(), *probed)
        checked, body, ready = _ready
    body = {**body, "age_s": round(time.monotonic() - checked, 1)}
    return JsonResponse(body, status=200 if ready else 503)


def forget_readiness() -> None:
    """The next /readyz probes again (tests change what it depends on)."""
    global _ready
    with _ready_lock:
        _ready = None


def _probe() -> tuple[dict, bool]:
    checks = {}
    for name, check in (("database", _check_database), ("kafka", _check_kafka), ("analytics", _check_analytics)):
        started = time.perf_counter()
        try:
            check()
        except Exception as exc:
            checks[name] = "fail"
            log(logger, logging.WARNING, "readiness_check_failed", check=name, error=f"{type(exc).__name__}: {exc}")
        else:
            checks[name] = "ok"
        checks[f"{name}_ms"] = round((time.perf_counter() - started) * 1000, 1)
    ready = all(checks[name] == "ok" for name in ("database", "kafka", "analytics"))
    return {"status": "ok" if ready else "unavailable", "checks": checks}, ready


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_kafka() -> None:
    # A sync view runs in a worker thread (daphne) or plainly (tests): no loop runs here.
    asyncio.run(asyncio.wait_for(kafka.ping(), timeout=READY_TIMEOUT_S))


def _check_analytics() -> None:
    from analytics.store import get_store

    get_store().ping()


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics of every process of this installation (peacewatch/metrics.py).

    Readable with ``Authorization: Bearer <METRICS_TOKEN>``, by a signed-in
    staff user, or, when no token is configured, from loopback only.
    """
    if not metrics_allowed(request):
        return HttpResponse("forbidden\n", status=403, content_type="text/plain")
    from peacewatch import metrics as registry

    body, content_type = registry.render()
    return HttpResponse(body, content_type=content_type)


def metrics_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(offered.strip().encode(), token.encode()):
        return True
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        return True
    return not token and request.META.get("REMOTE_ADDR") in LOOPBACK


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Officers land on the live map; others on the page of their role."""
    from alerts.views import live_map

    if has_role(request.user, OFFICER):
        return live_map(request)
    if has_role(request.user, ANALYST):
        return redirect("/analytics/")
    if request.user.is_staff:
        return redirect("/admin/")
    return render(request, "home.html", status=403)


@login_required
def api_docs(request: HttpRequest) -> HttpResponse:
    """The API reference, drawn from the OpenAPI document /api/schema/ serves (to signed-in users, as it)."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    context = {"reference": api_reference.build(document), "schema_url": "/api/schema/"}
    return render(request, "api_docs.html", context)
