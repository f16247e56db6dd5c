"""The background worker: runs the task engine's tasks (django-tasks-db's worker) and starts a check round every
ALERTS_CHECK_SECONDS. Run as many as you like: each round is started once (its slot is unique in the database),
by whichever worker gets there first."""

import logging
import threading
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django.db.utils import DatabaseError

from connectors.alerts.checks import ensure_round

logger = logging.getLogger("connectors.alerts")


def _tick_forever(stop: threading.Event) -> None:
    period = max(0.5, min(5.0, settings.ALERTS_CHECK_SECONDS / 4))
    while not stop.is_set():
        try:
            close_old_connections()
            slot = ensure_round()
            if slot is not None:
                logger.info("Check round %s enqueued", slot)
        except DatabaseError:
            logger.warning("Could not start a check round (database busy or down); trying again", exc_info=True)
        finally:
            close_old_connections()
        stop.wait(period)


class Command(BaseCommand):
    help = "Run the alerts worker: background tasks, check rounds, deliveries and schedules."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds between looks for a task when idle.")
        parser.add_argument("--worker-id", default="", help="Unique across the pool (default: generated).")
        parser.add_argument("--max-tasks", type=int, default=None, help="Exit after this many tasks.")

    def handle(self, *args, interval, worker_id, max_tasks, verbosity, **options):
        stop = threading.Event()
        ticker = threading.Thread(target=_tick_forever, args=(stop,), name="alerts-ticker", daemon=True)
        ticker.start()
        self.stdout.write(f"Alerts worker: a check round every {settings.ALERTS_CHECK_SECONDS} s.")
        extra = {"worker_id": worker_id} if worker_id else {}
        if max_tasks:
            extra["max_tasks"] = max_tasks
        try:
            call_command("db_worker", interval=interval, reload=False, startup_delay=True, verbosity=verbosity, **extra)
        finally:
            stop.set()
            time.sleep(0)  # let the ticker see it
