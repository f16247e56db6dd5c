"""Signing in, and changing one's password: Django's views, with the current password checked like a sign-in (so,
throttled), and a warning before the lockout."""

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_failure_limit
from django.conf import settings
from django.contrib.auth import views as auth_views

from ..forms import ThrottledPasswordChangeForm


class SignInView(auth_views.LoginView):
    """Django's sign-in page; after a failed try it says how many are left before django-axes locks the sign-in."""

    def form_invalid(self, form):
        response = super().form_invalid(form)
        username = (self.request.POST.get("username") or "").strip()
        if settings.AXES_ENABLED and username:
            credentials = {"username": username}
            limit = get_failure_limit(self.request, credentials)
            left = limit - AxesProxyHandler.get_failures(self.request, credentials)
            if left > 0:
                response.context_data["tries_left"] = left
                response.context_data["lockout_minutes"] = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
        return response


class PasswordChangeView(auth_views.PasswordChangeView):
    form_class = ThrottledPasswordChangeForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}
