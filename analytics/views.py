"""The analysts' pages: the query builder and the citizen timeline, plus the API docs page.

Pages only: every figure on them comes from the JSON API (search, saved
queries, exports) called by static/js/analytics*.js, so the page and a script
see exactly the same data and permissions. The views pass the API paths and
the city's bounds in a ``json_script`` block (no inline script: strict CSP).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from analytics.search import current_threshold
from peacewatch.city import map_config
from peacewatch.roles import ANALYST, role_required

MAX_NAME_LENGTH = 200  # analytics.query.CitizenFilter (names and keys)


analyst_required = role_required(ANALYST, "Only analysts can open the analytics pages.")


def page_config(request: HttpRequest) -> dict:
    return {
        "search_api": "/api/v1/reports/search",
        "saved_queries_api": "/api/v1/saved-queries/",
        "exports_api": "/api/v1/exports/",
        "citizen_url": "/analytics/citizen/",
        "analytics_url": "/analytics/",
        "username": request.user.get_username(),
        "city_bounds": settings.CITY_BOUNDS.as_leaflet(),
        "threshold": current_threshold(),  # marks alert-level scores; the server flags `alert` itself
        "require_purpose": settings.ANALYTICS_REQUIRE_PURPOSE,
        "suggest_api": "/api/v1/analytics/citizens/suggest",
        "display_time_zone": settings.DISPLAY_TIME_ZONE,  # every time shown says it (static/js/analytics_time.js)
    }


@analyst_required
def analytics(request: HttpRequest) -> HttpResponse:
    """Query builder, results, charts, heat map, saved queries and exports."""
    return render(
        request, "analytics/analytics.html", {"analytics_config": page_config(request), "map_config": map_config()}
    )


@analyst_required
def citizen_timeline(request: HttpRequest) -> HttpResponse:
    """Where and when one citizen was seen, oldest first, with their scores.

    ``?name=`` alone: every sighting under that name. With ``&key=`` (as the
    top list links): that one person, by id when the recognition system gave
    one, whatever names they were seen under; ``name`` is then the one shown.
    """
    name = request.GET.get("name", "").strip()[:MAX_NAME_LENGTH]
    key = request.GET.get("key", "").strip()[:MAX_NAME_LENGTH]
    config = {**page_config(request), "citizen": name, "citizen_key": key}
    context = {"analytics_config": config, "citizen": name, "citizen_key": key, "map_config": map_config()}
    return render(request, "analytics/citizen.html", context)
