import json
import uuid

from django import forms
from django.contrib.auth import authenticate
from django.contrib.auth.forms import PasswordChangeForm

from .idempotency import sign_idempotency_key, unsign_idempotency_key
from .models import ApiKey
from .providers import PROVIDERS, get_provider, provider_choices


class ApiKeyForm(forms.Form):
    secret = forms.CharField(
        label="API key",
        strip=True,
        max_length=512,
        widget=forms.PasswordInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text="Your personal Aimable API key. It is stored encrypted and only its last four characters are shown.",
    )
    auth_scheme = forms.ChoiceField(
        label="Send it as",
        choices=ApiKey.AuthScheme.choices,
        initial=ApiKey.AuthScheme.BEARER,
        widget=forms.RadioSelect,
    )

    def clean_secret(self):
        secret = self.cleaned_data["secret"]
        if any(c.isspace() for c in secret):
            raise forms.ValidationError("An API key has no spaces or line breaks; paste it again.")
        if not (secret.isascii() and secret.isprintable()):
            # e.g. a zero-width space or a typographic dash copied along with the key: no header can carry it
            raise forms.ValidationError(
                "An API key has only plain letters, digits and punctuation; this one has an accented or invisible "
                "character (often copied along with it). Paste it again, or type it."
            )
        return secret


class ThrottledPasswordChangeForm(PasswordChangeForm):
    """Django's form, with the current password checked the way a sign-in is (through the authentication backends):
    django-axes counts a wrong one as a failed sign-in for this user from this address, and once they are locked out
    refuses every try (the right password too) with its lockout page. Someone who found a signed-in browser cannot
    guess the password here faster than at the sign-in page."""

    def __init__(self, user, *args, request=None, **kwargs):
        self.request = request
        super().__init__(user, *args, **kwargs)

    def validate_password_for_user(self, user, password_field_name=None):
        # Django checks the strength on the confirmation; the errors belong under "New password", where it is typed.
        super().validate_password_for_user(user, "new_password1")

    def clean_old_password(self):
        old_password = self.cleaned_data["old_password"]
        if authenticate(self.request, username=self.user.get_username(), password=old_password) != self.user:
            raise forms.ValidationError(self.error_messages["password_incorrect"], code="password_incorrect")
        return old_password


class OpenCollectionForm(forms.Form):
    space_id = forms.UUIDField(label="Space ID", error_messages={"invalid": "Enter a space ID (a UUID)."})
    collection_id = forms.UUIDField(
        label="Collection ID", error_messages={"invalid": "Enter a collection ID (a UUID)."}
    )

    def clean(self):
        cleaned = super().clean()
        for name in ("space_id", "collection_id"):
            if isinstance(cleaned.get(name), uuid.UUID):
                cleaned[name] = str(cleaned[name])
        return cleaned


def split_ids(text: str) -> list[str]:
    """ "one per line or comma separated" -> a list without blanks or repeats, in the order given."""
    seen: dict[str, None] = {}
    for part in text.replace(",", "\n").splitlines():
        part = part.strip()
        if part:
            seen.setdefault(part, None)
    return list(seen)


def scope_field_name(key: str) -> str:
    return f"scope_{key}"


class ScopeFieldsMixin:
    """The chosen provider's scope fields (from the registry) plus a raw JSON field for any other scope keys."""

    scope_provider = None  # a providers.Provider, set by add_scope_fields

    def add_scope_fields(self, provider, scope_config: dict | None = None):
        self.scope_provider = provider
        scope_config = dict(scope_config or {})
        for scope_field in provider.scope_fields:
            name = scope_field_name(scope_field.key)
            self.fields[name] = forms.CharField(
                label=scope_field.label,
                required=False,
                widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
                help_text=scope_field.help_text,
            )
            values = scope_config.pop(scope_field.key, None)
            if isinstance(values, list):
                self.initial.setdefault(name, "\n".join(str(v) for v in values))
        self.fields["scope_extra"] = forms.CharField(
            label="Other scope settings (JSON)",
            required=False,
            widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "placeholder": '{"include_shared": true}'}),
            help_text="Advanced: any other scope_config keys, as a JSON object.",
        )
        if scope_config:
            self.initial.setdefault("scope_extra", json.dumps(scope_config, indent=2, sort_keys=True))

    def clean_scope_extra(self):
        text = self.cleaned_data.get("scope_extra", "").strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"This is not valid JSON ({exc.msg}, line {exc.lineno}).") from None
        if not isinstance(value, dict):
            raise forms.ValidationError('Enter a JSON object, e.g. {"include_shared": true}.')
        clashes = set(value) & set(self.scope_provider.scope_keys)
        if clashes:
            raise forms.ValidationError(
                "Use the field above for " + ", ".join(sorted(clashes)) + " instead of the JSON."
            )
        return value

    def scope_config(self) -> dict:
        """The scope_config built from the cleaned fields."""
        config = dict(self.cleaned_data.get("scope_extra") or {})
        for scope_field in self.scope_provider.scope_fields:
            values = split_ids(self.cleaned_data.get(scope_field_name(scope_field.key), ""))
            if values:
                config[scope_field.key] = values
        return config

    def scope_bound_fields(self):
        return [self[scope_field_name(f.key)] for f in self.scope_provider.scope_fields] + [self["scope_extra"]]


def _secret_field(label: str, help_text: str = "") -> forms.CharField:
    """A token field: never rendered back, never autocompleted."""
    return forms.CharField(
        label=label,
        required=False,
        strip=True,
        max_length=4096,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text=help_text,
    )


class NamingFieldsMixin(forms.Form):
    """The team's name and description of the connector: kept by the console (Aimable's connector has no name),
    never sent to Aimable."""

    name = forms.CharField(
        label="Name",
        required=False,
        strip=True,
        max_length=200,
        help_text="What your team calls this connector, shown wherever it appears. Kept in this console only.",
    )
    description = forms.CharField(
        label="Description",
        required=False,
        strip=True,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional: what it brings in, and why.",
    )

    def naming(self) -> dict:
        """The name and description as cleaned, for naming.connector_name_set."""
        return {"name": self.cleaned_data.get("name", ""), "description": self.cleaned_data.get("description", "")}


class CredentialFieldsMixin(forms.Form):
    """The access and refresh token fields' reading (each form labels its own fields)."""

    def credential_changes(self) -> dict:
        """What the user typed this time (blank fields are not included)."""
        return {k: self.cleaned_data[k] for k in ("access_token", "refresh_token") if self.cleaned_data.get(k)}


class ConnectorCreateForm(ScopeFieldsMixin, NamingFieldsMixin, CredentialFieldsMixin):
    provider = forms.ChoiceField(label="Provider", choices=provider_choices)
    access_token = _secret_field("Access token")
    refresh_token = _secret_field("Refresh token", "Optional. Lets Aimable renew the access token by itself.")
    idempotency_token = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, user, provider_slug, kept_secret_hint="", oauth_connected=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.kept_secret_hint = kept_secret_hint  # "••••abcd" when a token from a failed try is kept server-side
        self.oauth_connected = oauth_connected
        self.add_scope_fields(get_provider(provider_slug) or PROVIDERS["google-drive"])
        self.fields["provider"].initial = self.scope_provider.slug
        if not self.is_bound:
            self.initial.setdefault("idempotency_token", sign_idempotency_key(user))

    def clean_idempotency_token(self):
        key = unsign_idempotency_key(self.cleaned_data["idempotency_token"], self.user)
        if key is None:
            # A hidden field's error would show nowhere: say it at the top of the form (the view gives it a new token).
            self.add_error(None, "This form has expired or was changed; check the values and submit it again.")
        return key

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("access_token") and not self.kept_secret_hint and not self.oauth_connected:
            self.add_error("access_token", "Enter an access token, or connect with the provider.")
        return cleaned


class ConnectorEditForm(ScopeFieldsMixin, NamingFieldsMixin, CredentialFieldsMixin):
    status = forms.ChoiceField(
        label="Status",
        choices=[("active", "Active: syncs run"), ("paused", "Paused: no syncs run")],
        widget=forms.RadioSelect,
    )
    access_token = _secret_field("New access token", "Leave blank to keep the current credential.")
    refresh_token = _secret_field("New refresh token", "Leave blank to keep the current one.")

    def __init__(self, *args, connector, provider, kept_secret_hint="", named=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.connector = connector
        self.named = named  # the console's ConnectorSettings row for it, if any
        self.kept_secret_hint = kept_secret_hint
        self.add_scope_fields(provider, connector.scope_config)
        self.initial.setdefault("name", named.name if named else "")
        self.initial.setdefault("description", named.description if named else "")
        if connector.status in ("active", "paused"):
            self.initial.setdefault("status", connector.status)
        else:
            # error/disconnected/unknown: the user can still pause it, or leave the status as it is.
            self.fields["status"].choices = [("", f"Leave as {connector.status or 'unknown'}")] + list(
                self.fields["status"].choices
            )
            self.fields["status"].required = False
            self.initial.setdefault("status", "")

    @property
    def kept_secret_hint(self) -> str:
        """ "••••abcd" when a token typed in a failed save is kept server-side for the next one."""
        return self._kept_secret_hint

    @kept_secret_hint.setter
    def kept_secret_hint(self, hint: str) -> None:
        self._kept_secret_hint = hint
        self.fields["access_token"].help_text = (
            f"Leave blank to use the one you entered before ({hint})." if hint else self._KEEP_CURRENT
        )

    _KEEP_CURRENT = "Leave blank to keep the current credential."

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("refresh_token") and not cleaned.get("access_token") and not self.kept_secret_hint:
            self.add_error("access_token", "A new refresh token goes with a new access token.")
        return cleaned

    def changes(self, *, kept_credential: dict | None = None) -> dict:
        """Only what changed, ready for PATCH. ``kept_credential``: what was typed in a failed try, kept
        server-side; what is typed now goes over it."""
        patch = {}
        scope = self.scope_config()
        # An empty list upstream shows as an empty field, which scope_config() leaves out: not a change.
        current = {
            k: v
            for k, v in (self.connector.scope_config or {}).items()
            if not (k in self.scope_provider.scope_keys and v in ([], None))
        }
        if scope != current:
            patch["scope_config"] = scope
        status = self.cleaned_data.get("status")
        if status and status != self.connector.status:
            patch["status"] = status
        credential = {**(kept_credential or {}), **self.credential_changes()}
        if credential.get("access_token"):
            patch["credential"] = credential
        return patch

    def naming_changed(self) -> bool:
        """The team's name or description changed: saved by the console, with no call to Aimable."""
        before = self.named
        return self.naming() != {
            "name": before.name if before else "",
            "description": before.description if before else "",
        }


# Upstream 422 locations -> form fields. Anything else becomes a form-level error.
def apply_upstream_errors(form, exc) -> None:
    for item in exc.errors:
        loc = [str(part) for part in item.loc]
        if loc and loc[0] in ("body", "query", "path", "header"):
            loc = loc[1:]
        target = None
        if loc[:1] == ["provider_slug"]:
            target = "provider"
        elif loc[:1] == ["credential"]:
            target = "refresh_token" if loc[1:2] == ["refresh_token"] else "access_token"
        elif loc[:1] == ["scope_config"] and len(loc) > 1 and scope_field_name(loc[1]) in form.fields:
            target = scope_field_name(loc[1])
        elif loc[:1] == ["scope_config"] and "scope_extra" in form.fields:
            target = "scope_extra"
        elif loc[:1] == ["status"] and "status" in form.fields:
            target = "status"
        if target and target in form.fields:
            form.add_error(target, _describe(item, loc, form, target))
        else:
            form.add_error(None, f"Aimable refused the request: {item.msg}" + (f" ({'.'.join(loc)})" if loc else ""))
    if not exc.errors:
        form.add_error(None, f"Aimable refused the request: {exc.message}")


def _describe(item, loc, form=None, target=None) -> str:
    # ["scope_config", "repositories", 1] -> 'Item 2, "not a repo": not in the expected format (see above).'
    index = next((part for part in loc[2:] if part.isdigit()), None)
    msg = item.msg
    if getattr(item, "type", "") == "string_pattern_mismatch":
        # A regular expression means nothing to a team admin; the field's hint says what is expected.
        msg = "not in the expected format (see the hint above)."
    if index is None:
        return msg
    label = f"Item {int(index) + 1}"
    if form is not None and target and target.startswith("scope_") and target != "scope_extra":
        values = split_ids(str(form.data.get(form.add_prefix(target), "")))
        if int(index) < len(values):
            label += f', "{values[int(index)][:100]}"'
    return f"{label}: {msg}"
