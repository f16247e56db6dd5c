"""Changing one's password: Django's view, with the current password checked like a sign-in (so, throttled)."""

from django.contrib.auth import views as auth_views

from ..forms import ThrottledPasswordChangeForm


class PasswordChangeView(auth_views.PasswordChangeView):
    form_class = ThrottledPasswordChangeForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}
