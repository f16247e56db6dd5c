from django import forms

from . import targets
from .models import Channel

# The field that holds the target of each kind of channel.
TARGET_FIELDS = {
    Channel.Kind.EMAIL: "email",
    Channel.Kind.SLACK: "slack_url",
    Channel.Kind.WEBHOOK: "webhook_url",
}


class ChannelForm(forms.Form):
    """A new channel: its type, and the address or URL for that type (the other two fields may stay empty)."""

    kind = forms.ChoiceField(label="Channel type", choices=Channel.Kind.choices, initial=Channel.Kind.EMAIL)
    email = forms.CharField(
        label="Email address",
        required=False,
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    slack_url = forms.CharField(
        label="Slack webhook URL",
        required=False,
        max_length=targets.MAX_URL_LENGTH,
        widget=forms.URLInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text="An incoming webhook URL from your Slack app, https://hooks.slack.com/services/…",
    )
    webhook_url = forms.CharField(
        label="Webhook URL",
        required=False,
        max_length=targets.MAX_URL_LENGTH,
        widget=forms.URLInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text="An https:// address that accepts signed POST requests (Standard Webhooks).",
    )

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind")
        if kind not in TARGET_FIELDS:
            return cleaned
        name = TARGET_FIELDS[kind]
        value = (cleaned.get(name) or "").strip()
        if name in self.errors:
            return cleaned
        if not value:
            self.add_error(
                name, f"Enter the {self.fields[name].label.lower()} for a {Channel.Kind(kind).label} channel."
            )
        elif kind == Channel.Kind.EMAIL:
            try:
                forms.EmailField().clean(value)
            except forms.ValidationError:
                self.add_error(name, "Enter a valid email address, like name@example.com.")
        else:
            try:
                targets.check_url(value, slack=kind == Channel.Kind.SLACK)
            except targets.TargetRefused as exc:
                self.add_error(name, exc.message)
        cleaned["target"] = value
        return cleaned
