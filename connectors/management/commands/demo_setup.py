"""Creates the demo sign-in for a local run against the sandbox (idempotent): the demo user, the sandbox's
all-spaces key stored for it, an email channel whose mail lands in the local outbox, and a watch on the sandbox's
disconnected connector (its syncs fail), so the first check round after `make run` sends a real alert."""

import os

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Create (or reset) the demo users, key, channel and watch for a local run against the sandbox."

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
        if not user.email:
            user.email = f"{username}@example.com"
        user.save()
        self.stdout.write(f"{'Created' if created else 'Reset'} demo user '{username}' (password '{password}').")
        self._demo_alerts(user)

    def _demo_alerts(self, user):
        try:
            import sandbox
        except ImportError:
            return  # an installed console without the sandbox: the demo user only
        from connectors.alerts.models import Channel, ConnectorSettings, Watch
        from connectors.models import ApiKey

        # Aimable's connectors have no names: the team's names for the sandbox's, as a team would give them.
        names = {
            sandbox.DRIVE_CONNECTOR_ID: (sandbox.DEMO_COLLECTION_ID, "Engineering Drive"),
            sandbox.SLACK_CONNECTOR_ID: (sandbox.DEMO_COLLECTION_ID, "Engineering Slack"),
            sandbox.GITHUB_CONNECTOR_ID: (sandbox.DEMO_COLLECTION_ID, "Platform repositories"),
            sandbox.DISCONNECTED_CONNECTOR_ID: (sandbox.DEMO_COLLECTION_ID, "Finance Drive"),
            sandbox.SALES_SLACK_CONNECTOR_ID: (sandbox.SALES_COLLECTION_ID, "Sales Slack"),
        }
        for connector_id, (collection_id, name) in names.items():
            ConnectorSettings.objects.get_or_create(
                connector_id=connector_id,
                defaults={"space_id": sandbox.DEMO_SPACE_ID, "collection_id": collection_id, "name": name},
            )
        # The names of their scope values, as a first Browse of each would have shown them (the sandbox's tree).
        from connectors.naming import scope_names_remember
        from sandbox.tree import drive_id, slack_channel_id

        seen = {
            sandbox.DRIVE_CONNECTOR_ID: {drive_id(n): n for n in ("Engineering", "Design", "Onboarding")},
            sandbox.DISCONNECTED_CONNECTOR_ID: {drive_id("Finance"): "Finance"},
            sandbox.SLACK_CONNECTOR_ID: {slack_channel_id(n): n for n in ("engineering", "incidents")},
            sandbox.SALES_SLACK_CONNECTOR_ID: {slack_channel_id(n): n for n in ("sales", "sales-emea")},
        }
        for connector_id, scope_names in seen.items():
            scope_names_remember(
                space_id=sandbox.DEMO_SPACE_ID,
                collection_id=names[connector_id][0],
                connector_id=connector_id,
                names=scope_names,
            )

        if not ApiKey.objects.filter(user=user).exists():
            ApiKey.objects.create(user=user, secret=sandbox.DEMO_ADMIN_KEY, auth_scheme=ApiKey.AuthScheme.BEARER)
            self.stdout.write("Stored the sandbox's all-spaces API key for it.")
        channel = Channel.objects.filter(user=user, kind=Channel.Kind.EMAIL).first()
        if channel is None:
            channel = Channel.objects.create(
                user=user, kind=Channel.Kind.EMAIL, target=user.email, target_hint=user.email
            )
        watch, made = Watch.objects.get_or_create(
            user=user,
            target=Watch.target_of(
                Watch.Scope.CONNECTOR,
                sandbox.DEMO_SPACE_ID,
                sandbox.DEMO_COLLECTION_ID,
                sandbox.DISCONNECTED_CONNECTOR_ID,
            ),
            defaults={
                "scope": Watch.Scope.CONNECTOR,
                "space_id": sandbox.DEMO_SPACE_ID,
                "collection_id": sandbox.DEMO_COLLECTION_ID,
                "connector_id": sandbox.DISCONNECTED_CONNECTOR_ID,
                "label": "Finance Drive in Engineering Wiki",
            },
        )
        watch.channels.add(channel)
        if made:
            self.stdout.write("Watching 'Finance Drive' (disconnected in the sandbox); alerts go to the outbox.")
