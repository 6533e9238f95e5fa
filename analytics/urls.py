"""The analysts' pages under /analytics/ (the API lives under /api/v1/)."""

from django.urls import path

from analytics import views

app_name = "analytics"

urlpatterns = [
    path("", views.analytics, name="analytics"),
    path("citizen/", views.citizen_timeline, name="citizen"),
]
