"""The forms of the alert pages: what to watch, a watch's settings, a connector's expected freshness and schedule."""

from __future__ import annotations

from functools import cache
from zoneinfo import available_timezones

from django import forms

from ..aimable.types import is_path_id
from .models import Channel, ConnectorSettings, Schedule, Watch

MAX_FRESHNESS_HOURS = 24 * 90
MAX_EVERY_HOURS = 24 * 7
NO_SCHEDULE = "none"


# The world's regions in the tz database; leaves out the legacy aliases ("US/Eastern", "Factory", "localtime"...).
_REGIONS = (
    "Africa/",
    "America/",
    "Antarctica/",
    "Arctic/",
    "Asia/",
    "Atlantic/",
    "Australia/",
    "Europe/",
    "Indian/",
    "Pacific/",
)


@cache
def timezone_choices() -> list[tuple[str, str]]:
    names = sorted(name for name in available_timezones() if name.startswith(_REGIONS))
    return [("UTC", "UTC"), *((name, name.replace("_", " ")) for name in names)]


class WatchTargetForm(forms.Form):
    """What a Watch button posts: the scope and its ids, and the name to show for it."""

    scope = forms.ChoiceField(choices=Watch.Scope.choices)
    space_id = forms.UUIDField()
    collection_id = forms.UUIDField(required=False)
    connector_id = forms.CharField(required=False, max_length=128)
    label = forms.CharField(required=False, max_length=300)

    def clean(self):
        data = super().clean()
        scope = data.get("scope")
        if scope in (Watch.Scope.COLLECTION, Watch.Scope.CONNECTOR) and not data.get("collection_id"):
            self.add_error("collection_id", "Choose a collection.")
        if scope == Watch.Scope.CONNECTOR and not is_path_id(data.get("connector_id") or ""):
            self.add_error("connector_id", "Choose a connector.")
        return data


class WatchForm(forms.Form):
    """One watch's settings, on the Notifications page."""

    channels = forms.ModelMultipleChoiceField(
        queryset=Channel.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Send to",
        help_text="None ticked: the alerts are only listed on this page.",
    )
    failure_threshold = forms.IntegerField(
        label="Alert after this many failed syncs in a row", min_value=1, max_value=100
    )
    daily_reminder = forms.BooleanField(label="Remind me daily while it stays failing", required=False)

    def __init__(self, *args, user, watch: Watch, **kwargs):
        kwargs.setdefault("prefix", f"watch-{watch.pk}")
        kwargs.setdefault(
            "initial",
            {
                "channels": list(watch.channels.all()),
                "failure_threshold": watch.failure_threshold,
                "daily_reminder": watch.daily_reminder,
            },
        )
        super().__init__(*args, **kwargs)
        self.watch = watch
        self.fields["channels"].queryset = Channel.objects.filter(user=user)


class FreshnessForm(forms.Form):
    hours = forms.IntegerField(
        label="Expected freshness (hours)",
        min_value=1,
        max_value=MAX_FRESHNESS_HOURS,
        help_text="Marked stale after this long without a successful sync.",
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )


class ScheduleForm(forms.Form):
    kind = forms.ChoiceField(
        label="Schedule",
        choices=[
            (NO_SCHEDULE, "No schedule"),
            (Schedule.Kind.EVERY, "Sync every"),
            (Schedule.Kind.DAILY, "Sync daily at"),
        ],
        widget=forms.RadioSelect,
    )
    every_hours = forms.IntegerField(label="hours", required=False, min_value=1, max_value=MAX_EVERY_HOURS)
    daily_at = forms.TimeField(
        label="time",
        required=False,
        input_formats=["%H:%M"],
        widget=forms.TimeInput(format="%H:%M", attrs={"type": "time"}),
    )
    # Rendered by {% timezone_select %} (alerts_tags): 600 options through Django's widget templates are slow.
    timezone = forms.ChoiceField(label="timezone", required=False, choices=timezone_choices)

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind == Schedule.Kind.EVERY and not data.get("every_hours") and "every_hours" not in self.errors:
            self.add_error("every_hours", "Enter how many hours apart the syncs run.")
        if kind == Schedule.Kind.DAILY:
            if not data.get("daily_at") and "daily_at" not in self.errors:
                self.add_error("daily_at", "Enter the time of day, as HH:MM.")
            if not data.get("timezone") and "timezone" not in self.errors:
                self.add_error("timezone", "Choose a timezone.")
        return data

    @property
    def clears(self) -> bool:
        return self.cleaned_data.get("kind") == NO_SCHEDULE


def panel_forms(panel: dict) -> dict:
    """The connector panel's forms, filled with what is stored."""
    settings: ConnectorSettings = panel["connector_settings"]
    schedule: Schedule | None = panel["schedule"]
    initial = {"kind": NO_SCHEDULE, "every_hours": 24, "timezone": "UTC"}
    if schedule is not None:
        initial = {
            "kind": schedule.kind,
            "every_hours": schedule.every_hours or 24,
            "daily_at": schedule.daily_at,
            "timezone": schedule.timezone,
        }
    return {
        "freshness_form": FreshnessForm(initial={"hours": settings.freshness_hours}),
        "schedule_form": ScheduleForm(initial=initial),
    }
