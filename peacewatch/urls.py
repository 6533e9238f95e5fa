from django.contrib import admin
from django.urls import include, path

from peacewatch import views

admin.site.site_header = "PeaceWatch administration"
admin.site.site_title = "PeaceWatch"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]
