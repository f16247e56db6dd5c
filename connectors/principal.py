"""What nearly every signed-in request asks of its user, in one query: the user itself, its console role (read-only,
operator or team admin), its stored API key, and what a full page's top bar shows (its theme, the bell's count).

Asked through the ORM, the three were three queries of about 0.3 ms each, mostly the ORM building their SQL; this is
one statement written once, about 0.15 ms. connectors.auth.ConsoleBackend.get_user loads the request's user with it;
a user object that came another way (a session signed in before ConsoleBackend, a test's user) has its role and key
read with the same statement the first time one is asked for (ReadOnlyMiddleware's role, a view's client). The key's
token is decrypted through the field's memo (connectors.fields), so a poll neither builds SQL nor decrypts.
"""

import contextlib
import weakref
from dataclasses import dataclass
from functools import cache

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import DEFAULT_DB_ALIAS, connection, connections

from .alerts.models import Alert
from .fields import DecryptionError, decrypt_stored
from .models import ApiKey, UserPreference
from .permissions import ROLES, remember_role, role_among


@dataclass(frozen=True)
class StoredKey:
    """A user's stored API key as the client needs it. ``version`` names the stored row (its id and when it was
    saved): the poll cache's keys include it."""

    secret: str | None  # None when no configured key decrypts it
    auth_scheme: str
    version: str

    @property
    def usable(self) -> bool:
        return bool(self.secret)


_NOT_READ = object()


@dataclass(frozen=True)
class TopBar:
    """What every full page's top bar shows of its user."""

    theme: str
    unread_alerts: int


@cache
def _statement(vendor: str, *, with_user: bool = False) -> str:
    """The role checks and the key's columns; ``with_user``: the user's own columns first, from its row."""
    quote = connection.ops.quote_name
    through = get_user_model().groups.through._meta
    user_column = through.get_field(get_user_model()._meta.model_name).column
    group_column = through.get_field("group").column
    key = ApiKey._meta
    # Identifiers from the models' metadata, quoted; the values are parameters.
    role_checks = ", ".join(
        f"EXISTS (SELECT 1 FROM {quote(through.db_table)} m INNER JOIN {quote(Group._meta.db_table)} g "  # noqa: S608
        f"ON g.{quote('id')} = m.{quote(group_column)} WHERE m.{quote(user_column)} = %s AND g.{quote('name')} = %s)"
        for _ in ROLES
    )
    columns = ", ".join("k." + quote(key.get_field(f).column) for f in ("id", "secret", "auth_scheme", "updated_at"))
    # What every full page's top bar shows: the user's theme and the bell's count (one indexed count).
    preference, alert = UserPreference._meta, Alert._meta
    columns += (
        f", (SELECT p.{quote(preference.get_field('theme').column)} FROM {quote(preference.db_table)} p "  # noqa: S608
        f"WHERE p.{quote(preference.get_field('user').column)} = %s)"
        f", (SELECT COUNT(*) FROM {quote(alert.db_table)} a WHERE a.{quote(alert.get_field('user').column)} = %s "
        f"AND a.{quote(alert.get_field('read_at').column)} IS NULL)"
    )
    key_on = f"k.{quote(key.get_field('user').column)}"
    if not with_user:
        return (
            f"SELECT {columns}, {role_checks} FROM (SELECT 1 AS one) one "  # noqa: S608
            f"LEFT JOIN {quote(key.db_table)} k ON {key_on} = %s"
        )
    user = get_user_model()._meta
    user_columns = ", ".join("u." + quote(field.column) for field in user.concrete_fields)
    user_pk = f"u.{quote(user.pk.column)}"
    return (
        f"SELECT {user_columns}, {columns}, {role_checks} FROM {quote(user.db_table)} u "  # noqa: S608
        f"LEFT JOIN {quote(key.db_table)} k ON {key_on} = {user_pk} WHERE {user_pk} = %s"
    )


def _params(user_id) -> list:
    """The statement's parameters but the last (the user's id again): the theme's, the count's, the roles'."""
    return [user_id, user_id, *(value for role in ROLES for value in (user_id, role))]


def _load(user) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_statement(connection.vendor), [*_params(user.pk), user.pk])
        _remember(user, cursor.fetchone())


def load_user(user_id):
    """The user with this primary key, its role and its stored key already read (one statement); None when there is
    no such user."""
    db = connections[DEFAULT_DB_ALIAS]
    with db.cursor() as cursor:
        cursor.execute(_statement(db.vendor, with_user=True), [*_params(user_id), user_id])
        row = cursor.fetchone()
    if row is None:
        return None
    model = get_user_model()
    count = len(model._meta.concrete_fields)
    values = list(row[:count])
    # The values as the ORM would convert them (SQLite's datetimes and booleans, any field's from_db_value). Django's
    # RawQuerySet would do this too, at about twice the cost of the whole statement (118 against 63 us on SQLite).
    for i, column, converters in _user_converters(db):
        for converter in converters:
            values[i] = converter(values[i], column, db)
    user = model.from_db(db.alias, [field.attname for field in model._meta.concrete_fields], values)
    _remember(user, row[count:])
    return user


_converters = weakref.WeakKeyDictionary()  # by database connection (one per thread): what load_user applies


def _user_converters(db) -> list:
    found = _converters.get(db)
    if found is None:
        model = get_user_model()
        columns = [field.get_col(model._meta.db_table) for field in model._meta.concrete_fields]
        found = _converters[db] = [
            (i, column, converters)
            for i, column in enumerate(columns)
            if (converters := db.ops.get_db_converters(column) + column.get_db_converters(db))
        ]
    return found


def _remember(user, row) -> None:
    pk, token, auth_scheme, updated_at, theme, unread, *in_roles = row
    remember_role(user, role_among(role for role, member in zip(ROLES, in_roles, strict=True) if member))
    user._console_top_bar = TopBar(theme=theme or UserPreference.Theme.AUTO, unread_alerts=unread or 0)
    key = None
    if pk is not None:
        try:
            secret = decrypt_stored(token) if token else None
        except DecryptionError:
            secret = None
        key = StoredKey(secret=secret, auth_scheme=auth_scheme, version=f"{pk}:{updated_at}")
    user._console_key = key


def stored_key(user) -> StoredKey | None:
    """The user's stored key (None: none stored), read once per request."""
    key = getattr(user, "_console_key", _NOT_READ)  # getattr: request.user is a lazy object around the user
    if key is _NOT_READ:
        _load(user)
        key = user._console_key
    return key


def role_loaded_with_key(user) -> str:
    """role_of's read: the role, and the key with it."""
    _load(user)
    return user._console_role


def top_bar(user) -> "TopBar":
    """The theme and the bell's count for this request's page, read with the user (or, for a user object that came
    another way, with its role and key)."""
    bar = getattr(user, "_console_top_bar", None)
    if bar is None:
        _load(user)
        bar = user._console_top_bar
    return bar


def forget_top_bar(user) -> None:
    """After the theme changed or alerts were read: the next top_bar reads them again."""
    _forget(user, "_console_top_bar")


def forget_stored_key(user) -> None:
    """After the key is saved or removed: the next stored_key reads it again."""
    _forget(user, "_console_key")


def _forget(user, name: str) -> None:
    with contextlib.suppress(AttributeError):
        delattr(user, name)  # the user's own attribute, through request.user's lazy object too
