"""The officers' pages."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from alerts.live import hub
from peacewatch.city import map_config
from peacewatch.roles import OFFICER, role_required

officer_required = role_required(OFFICER, "Only officers can open the live alert map.")


@officer_required
def live_map(request: HttpRequest) -> HttpResponse:
    """The live alert map an officer keeps open all shift."""
    config = {
        "ws_path": "/ws/alerts/",
        "alerts_api": "/api/v1/alerts/",
        "username": request.user.get_username(),
        "city_bounds": settings.CITY_BOUNDS.as_leaflet(),
    }
    return render(request, "alerts/live_map.html", {"live_config": config, "map_config": map_config()})


@officer_required
def live_status(request: HttpRequest) -> JsonResponse:
    """This web process's live fan-out counters: clients, events, drops (a drop is a missed alert)."""
    return JsonResponse(hub.status())
