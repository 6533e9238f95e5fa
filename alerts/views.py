"""The officers' pages."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from alerts.live import hub
from peacewatch.roles import OFFICER, has_role

CITY_BOUNDS = [[48.815, 2.255], [48.905, 2.415]]


def officer_required(view):
    @login_required
    def wrapped(request: HttpRequest, *args, **kwargs):
        if not has_role(request.user, OFFICER):
            raise PermissionDenied("Only officers can open the live alert map.")
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


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
