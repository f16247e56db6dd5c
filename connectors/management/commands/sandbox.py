"""`python manage.py sandbox`: run the Aimable API simulator (see connectors.sandbox)."""

from django.core.management.base import BaseCommand

from connectors.sandbox.cli import add_arguments, run


class Command(BaseCommand):
    help = "Run the Aimable Collection Connectors sandbox (a local simulator of the API) until Ctrl+C."
    requires_system_checks: list = []

    def add_arguments(self, parser):
        add_arguments(parser)

    def handle(self, *args, **options):
        run(options, out=self.stdout)
