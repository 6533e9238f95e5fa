from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import LoginView
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import SimpleRouter

from alerts import views as alert_views
from alerts.api import AlertHistoryView, AlertViewSet, OfficerListView
from analytics import api as analytics_api
from ingest import http as ingest_http
from ingest.api import DroneViewSet
from peacewatch import second_factor, views
from peacewatch.second_factor import SignInForm

admin.site.site_header = "PeaceWatch administration"
admin.site.site_title = "PeaceWatch"

api = SimpleRouter()
api.register("alerts", AlertViewSet, basename="alert")
api.register("drones", DroneViewSet, basename="drone")
api.register("saved-queries", analytics_api.SavedQueryViewSet, basename="saved-query")
api.register("exports", analytics_api.ExportViewSet, basename="export")

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    # Browsers ask for /favicon.ico on every page, the admin's included.
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.metrics, name="metrics"),
    path(
        "accounts/login/",
        LoginView.as_view(
            authentication_form=SignInForm,
            extra_context={"sign_on": settings.SINGLE_SIGN_ON, "sign_on_name": settings.OIDC_PROVIDER_NAME},
        ),
        name="login",
    ),
    path("accounts/second-factor/", second_factor.setup, name="second-factor"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/alerts/<int:alert_id>/history/", AlertHistoryView.as_view(), name="alert-history"),
    path("api/v1/officers/", OfficerListView.as_view(), name="officers"),
    path("api/v1/", include(api.urls)),
    path("api/v1/reports/search", analytics_api.ReportSearchView.as_view(), name="reports-search"),
    path("api/v1/analytics/citizens/suggest", analytics_api.CitizenSuggestView.as_view(), name="citizens-suggest"),
    path(
        "api/v1/exports/<int:pk>/download",
        analytics_api.ExportViewSet.as_view({"get": "download"}),
        name="export-download",
    ),
    path("api/v1/live/status", alert_views.live_status, name="live-status"),
    path("api/v1/ingest/reports", ingest_http.ingest_reports, name="ingest-reports"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", views.api_docs, name="api-docs"),
    path("analytics/", include("analytics.urls")),
]
if settings.SINGLE_SIGN_ON:
    # /oidc/authenticate/ starts the OpenID Connect flow, /oidc/callback/ ends it (peacewatch/single_sign_on.py).
    urlpatterns.append(path("oidc/", include("mozilla_django_oidc.urls")))

# Outside DEBUG, errors show a plain page (or a JSON problem under /api/) with the request id, nothing else.
handler400 = "peacewatch.errors.bad_request"
handler403 = "peacewatch.errors.forbidden"
handler404 = "peacewatch.errors.not_found"
handler500 = "peacewatch.errors.server_error"
