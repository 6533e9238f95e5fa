"""Small cross-cutting views: liveness and the landing page."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render

from peacewatch.roles import ANALYST, OFFICER, has_role


def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers. No data, no dependency checks."""
    return JsonResponse({"status": "ok"})


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
