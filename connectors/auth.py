"""The console's authentication backend: Django's ModelBackend, whose get_user reads the user with its role and
stored key in one statement (connectors.principal), instead of the ORM's query for the user and, later in the same
request, another for the role and the key. Nearly every request of a signed-in user asks for all three."""

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from . import principal


class ConsoleBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None and password is not None:
            # Wrong credentials: stop here, so that ModelBackend (listed after this one only for the sessions signed
            # in through it) does not check the same password a second time. Django then reports the failed sign-in
            # once, as for any backend that finds the credentials invalid.
            raise PermissionDenied
        return user

    def get_user(self, user_id):
        user = principal.load_user(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None
