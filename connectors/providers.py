"""The provider registry: everything the console knows about a provider is data here.

Adding a provider means adding one entry to PROVIDERS.
"""

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


@dataclass(frozen=True)
class Provider:
    slug: str
    name: str
    icon: str  # a static path
    scope_fields: tuple[ScopeField, ...] = field(default_factory=tuple)

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
