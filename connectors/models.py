from django.conf import settings
from django.db import models

from .aimable.types import is_path_id
from .fields import EncryptedTextField


class ApiKey(models.Model):
    """A user's own Aimable API key. Every upstream call a user makes is made with it."""

    class AuthScheme(models.TextChoices):
        BEARER = "bearer", "Authorization: Bearer"
        X_API_KEY = "x-api-key", "X-API-Key header"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_key")
    secret = EncryptedTextField()
    auth_scheme = models.CharField(max_length=16, choices=AuthScheme.choices, default=AuthScheme.BEARER)
    last_four = models.CharField(max_length=4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"API key …{self.last_four} of {self.user}"

    def __repr__(self) -> str:
        return f"<ApiKey user={self.user_id} last_four={self.last_four!r}>"

    def save(self, *args, **kwargs):
        if self.secret:
            self.last_four = self.secret[-4:]
        super().save(*args, **kwargs)

    @property
    def masked(self) -> str:
        return f"••••{self.last_four}"

    @property
    def usable(self) -> bool:
        """False when the stored value could not be decrypted (encryption key retired too early)."""
        return bool(self.secret)


class RecentCollection(models.Model):
    """Collections a user opened recently, shown on the home page."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recent_collections")
    space_id = models.UUIDField()
    collection_id = models.UUIDField()
    space_name = models.CharField(max_length=200, blank=True)
    collection_name = models.CharField(max_length=200, blank=True)
    opened_at = models.DateTimeField()

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "space_id", "collection_id"], name="unique_recent_collection"),
        ]

    def __str__(self) -> str:
        return self.collection_name or str(self.collection_id)


class AuditEvent(models.Model):
    """One change a user made through the console, whether it worked or not. Never holds a secret."""

    class Action(models.TextChoices):
        CONNECTOR_CREATE = "connector.create", "Create connector"
        CONNECTOR_UPDATE = "connector.update", "Edit connector"
        CONNECTOR_DELETE = "connector.delete", "Delete connector"
        SCOPE_UPDATE = "connector.scope", "Change scope"
        CREDENTIAL_UPDATE = "connector.credential", "Reconnect credential"
        SYNC_TRIGGER = "sync.trigger", "Start sync"
        SYNC_CANCEL = "sync.cancel", "Cancel sync"
        SYNC_RETRY = "sync.retry", "Retry sync"
        SYNC_SCHEDULED = "sync.scheduled", "Scheduled sync"
        SCHEDULE_UPDATE = "schedule.update", "Change schedule"
        FRESHNESS_UPDATE = "connector.freshness", "Change expected freshness"
        WATCH_ADD = "watch.add", "Watch"
        WATCH_UPDATE = "watch.update", "Change watch"
        WATCH_REMOVE = "watch.remove", "Stop watching"
        WATCH_PAUSE = "watch.pause", "Watch paused"
        CHANNEL_ADD = "channel.add", "Add channel"
        CHANNEL_REMOVE = "channel.remove", "Remove channel"
        CHANNEL_TEST = "channel.test", "Send test"
        CHANNEL_ROTATE = "channel.rotate", "Rotate signing secret"
        ALERT_DELIVERY = "alert.delivery", "Alert delivery"
        CONNECTOR_NAME = "connector.name", "Rename connector"
        BULK_START = "bulk.start", "Start bulk action"
        RECONNECT_LINK_CREATE = "reconnect_link.create", "Share reconnect link"
        RECONNECT_LINK_USE = "reconnect_link.use", "Use reconnect link"
        TEAM_INVITE = "team.invite", "Invite team member"
        TEAM_ROLE = "team.role", "Change team role"
        TEAM_DEACTIVATE = "team.deactivate", "Deactivate team member"
        TEAM_REACTIVATE = "team.reactivate", "Reactivate team member"

    class Outcome(models.TextChoices):
        OK = "ok", "OK"
        ERROR = "error", "Error"
        DENIED = "denied", "Denied"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="audit_events"
    )
    username = models.CharField(max_length=150)  # kept when the user is deleted
    action = models.CharField(max_length=32, choices=Action.choices, db_index=True)
    space_id = models.UUIDField(null=True, blank=True)
    collection_id = models.UUIDField(null=True, blank=True)
    connector_id = models.CharField(max_length=128, blank=True, db_index=True)
    provider_slug = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=8, choices=Outcome.choices, default=Outcome.OK)
    error = models.TextField(blank=True)
    changes = models.JSONField(default=dict, blank=True)  # {"field": {"from": ..., "to": ...}}, never a secret
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["username", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.username} {self.action} {self.connector_id or ''} {self.outcome}"

    @property
    def connector_linkable(self) -> bool:
        """Whether the log may link to the connector's page: the id came from the upstream, and may not fit a URL."""
        return bool(self.connector_id and self.space_id and self.collection_id) and is_path_id(self.connector_id)


# The alerts' models live in their own module; importing them here registers them with this app.
from .alerts.models import (  # noqa: E402, F401
    Alert,
    Channel,
    CheckRound,
    ConnectorHealth,
    ConnectorSettings,
    Delivery,
    Schedule,
    Watch,
)


class BulkAction(models.Model):
    """One bulk action over many connectors (sync, pause, resume, delete), run as a background task; its items say
    how each one went. Closing the tab does not stop it; coming back shows its result."""

    class Kind(models.TextChoices):
        SYNC = "sync", "Sync"
        PAUSE = "pause", "Pause"
        RESUME = "resume", "Resume"
        DELETE = "delete", "Delete"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bulk_actions")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    total = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)  # the worker running it holds it until then

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.total} connectors"


class BulkItem(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Waiting"
        RUNNING = "running", "Running"
        DONE = "done", "Done"

    action = models.ForeignKey(BulkAction, on_delete=models.CASCADE, related_name="items")
    space_id = models.UUIDField()
    collection_id = models.UUIDField()
    connector_id = models.CharField(max_length=128)
    label = models.CharField(max_length=300, blank=True, default="")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    outcome = models.CharField(max_length=32, blank=True, default="")  # started, already running, paused, failed...
    message = models.TextField(blank=True, default="")  # Aimable's reason when it failed
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.connector_id}: {self.outcome or self.state}"


class ReconnectLink(models.Model):
    """A shared "Reconnect" link for one connector (connectors.credentials): works once, for a day, for a signed-in
    admin whose own key can read the connector. Only a hash of its token is kept: the table gives no usable link."""

    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="reconnect_links"
    )
    space_id = models.UUIDField()
    collection_id = models.UUIDField()
    connector_id = models.CharField(max_length=128)
    provider_slug = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Reconnect link for {self.connector_id}"


class UserPreference(models.Model):
    """A user's own display choices, kept across pages, browsers and sign-ins."""

    class Theme(models.TextChoices):
        AUTO = "auto", "Auto (follows the system)"
        LIGHT = "light", "Light"
        DARK = "dark", "Dark"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference")
    theme = models.CharField(max_length=8, choices=Theme.choices, default=Theme.AUTO)

    def __str__(self) -> str:
        return f"{self.user}: {self.theme}"
