from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from connectors.views.health import healthz
from connectors.views.password import PasswordChangeView, SignInView

urlpatterns = [
    # Sign in, sign out and change one's password. No self-service password reset by e-mail: a staff member invites
    # teammates from the team page, and the invitation's link sets the first password.
    path("accounts/login/", SignInView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The current password is checked like a sign-in: a wrong one counts towards the lockout (django-axes).
    path("accounts/password/", PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("", include("connectors.urls")),
]

handler404 = "connectors.views.errors.not_found"
handler500 = "connectors.views.errors.server_error"
