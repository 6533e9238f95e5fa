"""The officers' pages."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from alerts.live import hub
from peacewatch.roles import OFFICER, role_required

CITY_BOUNDS = [[48.815, 2.255], [48.905, 2.415]]


officer_required = role_required(OFFICER, "Only officers can open the live alert map.")


@officer_required
def live_map(request: HttpRequest) -> HttpResponse:
    """The live alert map an officer keeps open all shift."""
    config = {
        "ws_path": "/ws/alerts/",
        "alerts_api": "/api/v1/alerts/",
        "username": request.user.get_username(),
        "city_bounds": CITY_BOUNDS,
    }
    return render(request, "alerts/live_map.html", {"live_config": config})


@officer_required
def live_status(request: HttpRequest) -> JsonResponse:
    """This web process's live fan-out counters: clients, events, drops (a drop is a missed alert)."""
    return JsonResponse(hub.status())
