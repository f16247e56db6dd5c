"""A user's display preferences (the theme): read with the user (connectors.principal.top_bar), one write when the
user picks."""

from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser

from .models import UserPreference
from .principal import forget_top_bar

THEMES = UserPreference.Theme
# The top bar's one button goes round: auto (the system's), light, dark, auto...
NEXT_THEME = {THEMES.AUTO: THEMES.LIGHT, THEMES.LIGHT: THEMES.DARK, THEMES.DARK: THEMES.AUTO}


def theme_set(*, user: AbstractBaseUser, theme: str) -> str:
    """Keep the user's theme (not audited: it changes what this user sees, nothing of the team's)."""
    theme = THEMES(theme)  # ValueError for anything else
    UserPreference.objects.update_or_create(user=user, defaults={"theme": theme})
    forget_top_bar(user)
    return theme


@dataclass(frozen=True)
class ThemeChoice:
    """The top bar's theme button: the theme shown now, and the one a press switches to."""

    value: str
    next: str

    @property
    def label(self) -> str:
        return _short_label(self.value)

    @property
    def next_label(self) -> str:
        return _short_label(self.next)


def _short_label(theme: str) -> str:
    return "Auto" if theme == THEMES.AUTO else THEMES(theme).label


def theme_choice(*, theme: str) -> ThemeChoice:
    """The top bar's button for this theme (connectors.principal.top_bar reads the user's with the user)."""
    theme = theme if theme in THEMES.values else THEMES.AUTO
    return ThemeChoice(value=theme, next=NEXT_THEME[THEMES(theme)])
