"""The application's URLs plus one view that fails, for the error-page tests."""

from django.urls import path

from peacewatch.urls import *  # noqa: F403 - the real URLs and error handlers
from peacewatch.urls import urlpatterns as real_patterns


def explode(request):
    raise RuntimeError("secret detail /srv/peacewatch/settings.py that no client may see")


urlpatterns = [path("api/v1/explode", explode), path("explode", explode), *real_patterns]
