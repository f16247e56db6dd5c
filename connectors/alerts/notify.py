"""Records an alert once and hands it to the watch's channels."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from .models import Alert, Channel, Watch


def enqueue_deliveries(delivery_ids: list[int]) -> None:
    from .tasks import deliver

    for delivery_id in delivery_ids:
        deliver.enqueue(delivery_id)


def notify(
    *,
    user,
    kind: str,
    dedupe_key: str,
    message: str,
    watch: Watch | None = None,
    channels: list[Channel] | None = None,
    **fields,
) -> Alert | None:
    """Creates the alert and one delivery per channel, unless an alert with this ``dedupe_key`` exists already
    (then ``None``). Must run inside the caller's transaction when the caller's state change and the alert must go
    together; the deliveries are enqueued once that transaction commits."""
    from .delivery import fan_out

    if channels is None:
        channels = list(watch.channels.all()) if watch is not None else []
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                user=user, watch=watch, kind=kind, dedupe_key=dedupe_key[:300], message=message, **fields
            )
    except IntegrityError:
        return None  # this change was alerted already
    deliveries = fan_out(alert, channels)
    ids = [d.pk for d in deliveries]
    if ids:
        transaction.on_commit(lambda: enqueue_deliveries(ids))
    return alert
