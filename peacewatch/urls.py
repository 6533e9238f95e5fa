from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import SimpleRouter

from alerts import views as alert_views
from alerts.api import AlertViewSet
from peacewatch import views

admin.site.site_header = "PeaceWatch administration"
admin.site.site_title = "PeaceWatch"

api = SimpleRouter()
api.register("alerts", AlertViewSet, basename="alert")

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api.urls)),
    path("api/v1/live/status", alert_views.live_status, name="live-status"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
]
