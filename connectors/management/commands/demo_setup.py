"""Creates the demo sign-in for a local run against the sandbox (idempotent)."""

import os

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Create (or reset) the demo users for a local run against the sandbox."

    def add_arguments(self, parser):
        parser.add_argument("--username", default=os.environ.get("DEMO_USERNAME", "demo"))
        parser.add_argument("--password", default=os.environ.get("DEMO_PASSWORD", "demo-console"))

    def handle(self, *args, username, password, **options):
        if not settings.DEBUG:
            raise CommandError("demo_setup is for local development only (DEBUG must be on).")
        User = get_user_model()
        user, created = User.objects.get_or_create(username=username, defaults={"is_staff": True})
        user.set_password(password)
        user.is_staff = True
        user.save()
        self.stdout.write(f"{'Created' if created else 'Reset'} demo user '{username}' (password '{password}').")
