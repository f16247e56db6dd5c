"""The task engine's entry points (Django's Tasks API through the django-tasks backport, database backend).

``manage.py alerts_worker`` runs them. Nothing here is the source of truth: a task that dies with its worker is
found again from the rows it left (a delivery's lease runs out, the next slot's round starts anyway).
"""

from __future__ import annotations

from django_tasks import task


@task()
def deliver(delivery_id: int) -> str:
    """Sends one delivery, if it is still due and no other worker holds it."""
    from .delivery import deliver as send

    return send(delivery_id)


@task()
def check_round(slot: int) -> dict:
    """One check round: every active watch, with its owner's key; then the due deliveries and schedules."""
    from .checks import run_round

    return run_round(slot)
