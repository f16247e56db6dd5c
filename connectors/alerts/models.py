"""What the alerts keep. Every secret (a Slack or webhook URL, a signing secret) is encrypted at rest."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from ..fields import EncryptedTextField


class Channel(models.Model):
    """Where one admin's alerts go: an email address, a Slack incoming webhook or a signed webhook."""

    class Kind(models.TextChoices):
        EMAIL = "email", "Email"
        SLACK = "slack", "Slack"
        WEBHOOK = "webhook", "Webhook"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_channels")
    kind = models.CharField("Channel type", max_length=16, choices=Kind.choices)
    # The address or URL. URLs are secrets (whoever holds a Slack webhook URL can post to the channel).
    target = EncryptedTextField()
    target_hint = models.CharField(max_length=200, editable=False)  # masked, for pages and the audit log
    # Standard Webhooks signing secret ("whsec_..."), shown once; the previous one stays valid for 24 h.
    secret = EncryptedTextField(blank=True, default="")
    previous_secret = EncryptedTextField(blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.target_hint}"


class Watch(models.Model):
    """One admin watching a connector, every connector of a collection, or every connector of a space."""

    class Scope(models.TextChoices):
        CONNECTOR = "connector", "Connector"
        COLLECTION = "collection", "Collection"
        SPACE = "space", "Space"

    class Paused(models.TextChoices):
        NO = "", "Active"
        KEY_MISSING = "key_missing", "Your API key was removed"
        KEY_REPLACED = "key_replaced", "Your API key was replaced"
        KEY_REJECTED = "key_rejected", "Aimable rejected your API key"
        NO_ACCESS = "no_access", "Your API key has no access to it any more"
        GONE = "gone", "It no longer exists"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watches")
    scope = models.CharField(max_length=16, choices=Scope.choices)
    space_id = models.UUIDField()
    collection_id = models.UUIDField(null=True, blank=True)
    connector_id = models.CharField(max_length=128, blank=True, default="")
    label = models.CharField(max_length=300, blank=True, default="")  # what it watches, as named when created
    target = models.CharField(max_length=400, editable=False)  # scope and ids in one value: one watch per target
    channels = models.ManyToManyField(Channel, blank=True, related_name="watches")
    failure_threshold = models.PositiveSmallIntegerField(default=3)
    daily_reminder = models.BooleanField(default=False)
    paused = models.CharField(max_length=16, choices=Paused.choices, blank=True, default="")
    paused_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "target"], name="unique_watch"),
        ]

    def __str__(self) -> str:
        return f"{self.user} watches {self.scope} {self.connector_id or self.collection_id or self.space_id}"

    def save(self, *args, **kwargs):
        self.target = self.target_of(self.scope, self.space_id, self.collection_id, self.connector_id)
        super().save(*args, **kwargs)

    @staticmethod
    def target_of(scope: str, space_id, collection_id=None, connector_id: str = "") -> str:
        return ":".join(str(part) for part in (scope, space_id, collection_id or "", connector_id or ""))


class ConnectorHealth(models.Model):
    """What one watch last saw of one connector: the state machine that turns changes of state into alerts.

    ``version`` makes every update a compare-and-set: two workers checking the same connector at once cannot both
    record (and alert) the same change.
    """

    class State(models.TextChoices):
        OK = "ok", "Healthy"
        FAILING = "failing", "Failing"
        STALLED = "stalled", "Stalled"
        NEEDS_REAUTH = "needs_reauth", "Needs re-auth"
        STALE = "stale", "Stale"
        PAUSED = "paused", "Paused"

    watch = models.ForeignKey(Watch, on_delete=models.CASCADE, related_name="health")
    space_id = models.UUIDField()
    collection_id = models.UUIDField()
    connector_id = models.CharField(max_length=128)
    provider_slug = models.CharField(max_length=64, blank=True, default="")
    state = models.CharField(max_length=16, choices=State.choices, default=State.OK)
    episode = models.PositiveIntegerField(default=0)  # +1 at every change of state: names the alert it caused
    state_since = models.DateTimeField(null=True, blank=True)
    alerted = models.BooleanField(default=False)  # an alert was sent for the current bad state
    consecutive_failures = models.PositiveIntegerField(default=0)
    streak_alerted = models.BooleanField(default=False)
    reason = models.TextField(blank=True, default="")
    latest_sync_id = models.CharField(max_length=128, blank=True, default="")
    latest_sync_status = models.CharField(max_length=32, blank=True, default="")
    last_success_at = models.DateTimeField(null=True, blank=True)
    # "Stalled": the running sync's records, and since when they stood still.
    running_records = models.BigIntegerField(null=True, blank=True)
    running_since = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["watch", "connector_id"], name="unique_health_per_watch"),
        ]
        indexes = [models.Index(fields=["connector_id"])]

    def __str__(self) -> str:
        return f"{self.connector_id}: {self.state}"

    @property
    def bad(self) -> bool:
        return self.state not in (self.State.OK, self.State.PAUSED)


class Alert(models.Model):
    """One change of state seen by one watch (or a notice about the watch itself): sent to the watch's channels,
    shown on the Notifications page and counted by the bell until read."""

    class Kind(models.TextChoices):
        SYNC_FAILED = "sync_failed", "Sync failed"
        FAILURE_STREAK = "failure_streak", "Failures in a row"
        STALLED = "stalled", "Sync stalled"
        NEEDS_REAUTH = "needs_reauth", "Needs re-auth"
        STALE = "stale", "No successful sync"
        RECOVERED = "recovered", "Recovered"
        REMINDER = "reminder", "Still failing"
        WATCH_PAUSED = "watch_paused", "Watch paused"
        TEST = "test", "Test"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)  # the webhook-id receivers dedupe on
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alerts")
    watch = models.ForeignKey(Watch, on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    dedupe_key = models.CharField(max_length=300)  # unique per user: the same change never makes two alerts
    space_id = models.UUIDField(null=True, blank=True)
    collection_id = models.UUIDField(null=True, blank=True)
    connector_id = models.CharField(max_length=128, blank=True, default="")
    provider_slug = models.CharField(max_length=64, blank=True, default="")
    label = models.CharField(max_length=300, blank=True, default="")  # the watch's label: space, collection
    sync_id = models.CharField(max_length=128, blank=True, default="")
    status = models.CharField(max_length=32, blank=True, default="")  # the sync's or connector's status
    reason = models.TextField(blank=True, default="")  # Aimable's reason, as it gave it
    message = models.TextField()  # one sentence for people
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["user", "dedupe_key"], name="unique_alert_per_change")]
        indexes = [models.Index(fields=["user", "read_at"])]

    def __str__(self) -> str:
        return self.message

    @property
    def webhook_id(self) -> str:
        return f"msg_{self.id.hex}"


class Delivery(models.Model):
    """One alert to one channel. At least once: a worker that dies mid-send leaves the lease to expire, and the next
    check round hands the delivery to another worker."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        RETRYING = "retrying", "Retrying"
        FAILED = "failed", "Failed"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.ForeignKey(Channel, on_delete=models.SET_NULL, null=True, blank=True, related_name="deliveries")
    channel_kind = models.CharField(max_length=16, choices=Channel.Kind.choices)
    channel_hint = models.CharField(max_length=200)  # masked target, kept when the channel is removed
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")  # never a secret: URLs are masked
    next_attempt_at = models.DateTimeField(db_index=True)
    lease_until = models.DateTimeField(null=True, blank=True)  # a worker is sending it until then
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["alert", "channel"], name="unique_delivery_per_channel")]

    def __str__(self) -> str:
        return f"{self.alert_id} -> {self.channel_hint}: {self.state}"


class ConnectorSettings(models.Model):
    """Team-wide settings the console keeps per connector id (Aimable has no field for them)."""

    connector_id = models.CharField(max_length=128, unique=True)
    space_id = models.UUIDField()
    collection_id = models.UUIDField()
    freshness_hours = models.PositiveIntegerField(default=24)  # "Stale" after this long without a success
    # Aimable's connector has no name: the team's name and description for it, shown wherever it appears.
    name = models.CharField(max_length=200, blank=True, default="")
    description = models.TextField(blank=True, default="")
    # Scope values by the names the provider's browse gave them when the console saw them: {"<id>": "<name>"}.
    scope_names = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.connector_id}: fresh within {self.freshness_hours} h"


class Schedule(models.Model):
    """A console-run sync schedule, opt-in per connector, run by the worker with the scheduling admin's key."""

    class Kind(models.TextChoices):
        EVERY = "every", "Every N hours"
        DAILY = "daily", "Daily at a time"

    connector_id = models.CharField(max_length=128, unique=True)
    space_id = models.UUIDField()
    collection_id = models.UUIDField()
    provider_slug = models.CharField(max_length=64, blank=True, default="")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="schedules")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    every_hours = models.PositiveSmallIntegerField(null=True, blank=True)
    daily_at = models.TimeField(null=True, blank=True)
    timezone = models.CharField(max_length=64, default="UTC")
    next_run_at = models.DateTimeField(db_index=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_outcome = models.CharField(max_length=300, blank=True, default="")
    last_sync_id = models.CharField(max_length=128, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.connector_id}: {self.describe()}"

    def describe(self) -> str:
        if self.kind == self.Kind.EVERY:
            hours = self.every_hours or 1
            return "Sync every hour" if hours == 1 else f"Sync every {hours} hours"
        at = self.daily_at.strftime("%H:%M") if self.daily_at else "00:00"
        return f"Sync daily at {at} ({self.timezone})"


class CheckRound(models.Model):
    """One check round, one per ALERTS_CHECK_SECONDS slot: the unique slot is what makes exactly one worker start
    it, however many run."""

    slot = models.BigIntegerField(unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    watches = models.PositiveIntegerField(default=0)
    connectors = models.PositiveIntegerField(default=0)
    upstream_reads = models.PositiveIntegerField(default=0)
    alerts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-slot"]

    def __str__(self) -> str:
        return f"round {self.slot}"
