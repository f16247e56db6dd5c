"""What nearly every signed-in request asks of its user besides the user itself, in one query: the console role
(read-only, operator or team admin) and the stored API key.

Asked separately through the ORM, the two were two queries of about 0.3 ms each, mostly the ORM building their SQL;
this is one statement written once, about 0.1 ms. The key's token is decrypted through the field's memo
(connectors.fields), so a poll neither builds SQL nor decrypts. Whichever asks first (ReadOnlyMiddleware's role,
a view's client) loads both, kept on the user object of the request.
"""

from dataclasses import dataclass
from functools import cache

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection

from .fields import DecryptionError, decrypt_stored
from .models import ApiKey
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


@cache
def _statement(vendor: str) -> str:
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
    return (
        f"SELECT {columns}, {role_checks} FROM (SELECT 1 AS one) one "  # noqa: S608
        f"LEFT JOIN {quote(key.db_table)} k ON k.{quote(key.get_field('user').column)} = %s"
    )


def _load(user) -> None:
    params = [value for role in ROLES for value in (user.pk, role)] + [user.pk]
    with connection.cursor() as cursor:
        cursor.execute(_statement(connection.vendor), params)
        pk, token, auth_scheme, updated_at, *in_roles = cursor.fetchone()
    remember_role(user, role_among(role for role, member in zip(ROLES, in_roles, strict=True) if member))
    key = None
    if pk is not None:
        try:
            secret = decrypt_stored(token) if token else None
        except DecryptionError:
            secret = None
        key = StoredKey(secret=secret, auth_scheme=auth_scheme, version=f"{pk}:{updated_at}")
    user.__dict__["_console_key"] = key


def stored_key(user) -> StoredKey | None:
    """The user's stored key (None: none stored), read once per request."""
    if "_console_key" not in user.__dict__:
        _load(user)
    return user.__dict__["_console_key"]


def role_loaded_with_key(user) -> str:
    """role_of's read: the role, and the key with it."""
    _load(user)
    return user._console_role


def forget_stored_key(user) -> None:
    """After the key is saved or removed: the next stored_key reads it again."""
    user.__dict__.pop("_console_key", None)
