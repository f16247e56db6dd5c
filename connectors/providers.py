"""The provider registry: everything the console knows about a provider is data here.

Adding a provider means adding one entry to PROVIDERS.
"""

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ScopeField:
    key: str  # the key in scope_config
    label: str  # the form label
    singular: str  # "folder"
    plural: str  # "folders"
    help_text: str = ""
    # Browse item types that can be chosen for this scope key in the tree picker.
    selectable_types: tuple[str, ...] = ()


class TokenResponseError(ValueError):
    """A token endpoint answered 2xx, but not with a usable token."""


def _expires_in(value) -> int | None:
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None


def _scopes(value, separator: str = " ") -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value if v]
    text = str(value or "")
    return [s for s in text.replace(",", " ").replace(separator, " ").split() if s]


def read_standard_token(response: dict) -> dict:
    """RFC 6749 section 5.1 (Google, GitHub): access_token, optional refresh_token and expires_in, scope."""
    access_token = response.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise TokenResponseError("The answer held no access token.")
    refresh_token = response.get("refresh_token")
    return {
        "access_token": access_token,
        "refresh_token": refresh_token if isinstance(refresh_token, str) and refresh_token else None,
        "expires_in": _expires_in(response.get("expires_in")),
        "scopes": _scopes(response.get("scope")),
        "account": "",
    }


def read_slack_token(response: dict) -> dict:
    """Slack oauth.v2.access: the bot token at the top level, or only a user token under ``authed_user``.

    With token rotation on, refresh_token and expires_in sit next to whichever token is used."""
    if response.get("ok") is False:
        raise TokenResponseError(f"Slack refused the code ({response.get('error') or 'unknown error'}).")
    team = response.get("team") if isinstance(response.get("team"), dict) else {}
    source = response
    if not response.get("access_token"):
        user = response.get("authed_user")
        source = user if isinstance(user, dict) else {}
    token = read_standard_token(source)
    token["account"] = str(team.get("name") or "")
    return token


@dataclass(frozen=True)
class OAuthSpec:
    """How to get a credential from a provider with the authorization-code flow. Endpoints and scopes can be
    overridden per deployment (settings.OAUTH_PROVIDERS); the rest is how the provider behaves."""

    authorize_url: str
    token_url: str
    scopes: tuple[str, ...]
    scope_separator: str = " "
    authorize_params: tuple[tuple[str, str], ...] = ()  # extra query parameters for the authorize URL
    pkce: bool = True  # send an S256 code challenge
    token_headers: tuple[tuple[str, str], ...] = (("Accept", "application/json"),)
    token_auth_method: str = "client_secret_post"  # how the client id and secret reach the token endpoint
    read_token: Callable[[dict], dict] = read_standard_token  # token response -> access/refresh/expiry/scopes


@dataclass(frozen=True)
class Provider:
    slug: str
    name: str
    icon: str  # a static path
    scope_fields: tuple[ScopeField, ...] = field(default_factory=tuple)
    oauth: OAuthSpec | None = None  # None: credentials can only be pasted

    @property
    def scope_keys(self) -> tuple[str, ...]:
        return tuple(f.key for f in self.scope_fields)

    def scope_summary(self, scope_config: dict | None) -> str:
        """A readable summary, e.g. "3 folders" or "2 channels, 1 other setting"."""
        scope_config = scope_config or {}
        parts = []
        for f in self.scope_fields:
            values = scope_config.get(f.key)
            if isinstance(values, list) and values:
                parts.append(f"{len(values)} {f.singular if len(values) == 1 else f.plural}")
        others = [k for k in scope_config if k not in self.scope_keys]
        if others:
            parts.append(f"{len(others)} other setting{'' if len(others) == 1 else 's'}")
        return ", ".join(parts) or "Everything the credential can reach"


PROVIDERS: dict[str, Provider] = {
    p.slug: p
    for p in (
        Provider(
            slug="google-drive",
            name="Google Drive",
            icon="console/icons/google-drive.svg",
            scope_fields=(
                ScopeField(
                    "folder_ids",
                    "Folder IDs",
                    "folder",
                    "folders",
                    "One per line or comma separated, e.g. 1A2B3C4D. Leave empty for everything.",
                    selectable_types=("folder", "shared_drive", "drive"),
                ),
            ),
            oauth=OAuthSpec(
                authorize_url="https://accounts.google.com/o/oauth2/v2/auth",
                token_url="https://oauth2.googleapis.com/token",
                scopes=("https://www.googleapis.com/auth/drive.readonly",),
                # offline + consent: Google returns a refresh token every time, not only on the first consent.
                authorize_params=(("access_type", "offline"), ("prompt", "consent")),
            ),
        ),
        Provider(
            slug="slack",
            name="Slack",
            icon="console/icons/slack.svg",
            scope_fields=(
                ScopeField(
                    "channel_ids",
                    "Channel IDs",
                    "channel",
                    "channels",
                    "One per line or comma separated, e.g. C0123ABCD.",
                    selectable_types=("channel",),
                ),
            ),
            oauth=OAuthSpec(
                authorize_url="https://slack.com/oauth/v2/authorize",
                token_url="https://slack.com/api/oauth.v2.access",
                scopes=("channels:history", "channels:read", "groups:history", "groups:read"),
                scope_separator=",",
                pkce=False,
                read_token=read_slack_token,
            ),
        ),
        Provider(
            slug="github",
            name="GitHub",
            icon="console/icons/github.svg",
            scope_fields=(
                ScopeField(
                    "repositories",
                    "Repositories",
                    "repository",
                    "repositories",
                    "owner/name, one per line or comma separated.",
                    selectable_types=("repository",),
                ),
            ),
            oauth=OAuthSpec(
                authorize_url="https://github.com/login/oauth/authorize",
                token_url="https://github.com/login/oauth/access_token",
                scopes=("repo", "read:org"),
                # OAuth-app tokens come without refresh token or expiry; GitHub-App user tokens have both.
                # Without Accept: application/json GitHub answers form-encoded.
            ),
        ),
    )
}


def get_provider(slug: str) -> Provider | None:
    return PROVIDERS.get(slug)


def provider_choices() -> list[tuple[str, str]]:
    return [(p.slug, p.name) for p in PROVIDERS.values()]


def unknown_provider(slug: str) -> Provider:
    """How a provider the registry does not know (yet) is shown: as it is."""
    return Provider(slug=slug, name=slug, icon="console/icons/generic.svg")
