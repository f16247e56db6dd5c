"""`python manage.py sandbox`: run the Aimable API simulator (the top-level `sandbox` package)."""

from types import ModuleType

from django.core.management.base import BaseCommand, CommandError

NOT_SHIPPED = (
    "The sandbox is a development tool that ships only with the source checkout, not with the installed package: "
    "run this command from the project folder of a checkout."
)


def sandbox_cli() -> ModuleType | None:
    """The sandbox's command line, or None where it is not importable (an installed package)."""
    try:
        from sandbox import cli
    except ModuleNotFoundError as exc:
        if exc.name not in ("sandbox", "sandbox.cli"):
            raise
        return None
    return cli


class Command(BaseCommand):
    help = "Run the Aimable Collection Connectors sandbox (a local simulator of the API) until Ctrl+C."
    requires_system_checks: list = []

    def add_arguments(self, parser):
        cli = sandbox_cli()
        if cli is not None:
            cli.add_arguments(parser)

    def run_from_argv(self, argv):
        if sandbox_cli() is None:
            # Without the sandbox its options are unknown: drop them so handle() says why, not argparse.
            argv = argv[:2]
        super().run_from_argv(argv)

    def handle(self, *args, **options):
        cli = sandbox_cli()
        if cli is None:
            raise CommandError(NOT_SHIPPED)
        cli.run(options, out=self.stdout)
