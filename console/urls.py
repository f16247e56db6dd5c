from django.contrib import admin
from django.urls import include, path

from connectors.views.health import healthz

urlpatterns = [
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("", include("connectors.urls")),
]

handler404 = "connectors.views.errors.not_found"
handler500 = "connectors.views.errors.server_error"
