"""The team's names for connectors (Aimable's connector has none) and the names of scope values the console has
seen in the provider's browse. Reads and writes of the console's own data: no upstream call here."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, transaction

from .alerts.models import ConnectorSettings
from .database import raw_row_where, raw_rows_in
from .models import AuditEvent
from .providers import get_provider

MAX_SCOPE_NAMES = 2000  # per connector: a browse of a huge tree does not grow a row without bound


def names_for(connector_ids: Iterable[str]) -> dict[str, ConnectorSettings]:
    """The settings row (name, description, scope names, freshness) of each connector id that has one: one query."""
    ids = [str(i)[:128] for i in connector_ids]
    if not ids:
        return {}
    quote = connection.ops.quote_name
    meta = ConnectorSettings._meta
    rows = raw_rows_in(
        ConnectorSettings,
        select=f"SELECT * FROM {quote(meta.db_table)}",  # noqa: S608 - from the model's metadata
        column=quote(meta.get_field("connector_id").column),
        values=ids,
    )
    return {s.connector_id: s for s in rows}


def settings_for(connector_id: str) -> ConnectorSettings | None:
    return raw_row_where(ConnectorSettings, connector_id=str(connector_id)[:128])


def display_name(*, connector_id: str, provider_slug: str = "", named: ConnectorSettings | None = None) -> str:
    """What people call the connector: the team's name, else "<Provider> <short id>"."""
    if named is not None and named.name:
        return named.name
    provider = get_provider(provider_slug)
    what = provider.name if provider else (provider_slug or "Connector")
    return f"{what} {str(connector_id)[:8]}"


def scope_label(value: str, named: ConnectorSettings | None) -> str:
    """A scope value by its name when the console has seen one, else the value itself."""
    if named is not None:
        name = (named.scope_names or {}).get(str(value))
        if name:
            return str(name)
    return str(value)


@transaction.atomic
def connector_name_set(
    *, user, space_id, collection_id, connector_id: str, name: str, description: str, audit: bool = True
) -> ConnectorSettings:
    """Sets the team's name and description of a connector (empty clears them); audited when they change."""
    connector_id = str(connector_id)[:128]
    row, _ = ConnectorSettings.objects.select_for_update().get_or_create(
        connector_id=connector_id, defaults={"space_id": space_id, "collection_id": collection_id}
    )
    name, description = name.strip()[:200], description.strip()
    changes = {}
    if row.name != name:
        changes["name"] = {"from": row.name, "to": name}
    if row.description != description:
        changes["description"] = {"from": row.description, "to": description}
    if changes:
        row.name, row.description, row.updated_by = name, description, user
        row.save(update_fields=["name", "description", "updated_by", "updated_at"])
        if audit:
            AuditEvent.objects.create(
                user=user,
                username=user.get_username(),
                action=AuditEvent.Action.CONNECTOR_NAME,
                space_id=space_id,
                collection_id=collection_id,
                connector_id=connector_id,
                changes=changes,
            )
    return row


def scope_names_remember(*, space_id, collection_id, connector_id: str, names: dict[str, str]) -> None:
    """Keeps the names a browse showed for scope values ({id: name}), newest wins; bounded per connector."""
    clean = {str(k)[:300]: str(v)[:300] for k, v in names.items() if k and v and str(k) != str(v)}
    if not clean:
        return
    with transaction.atomic():
        row, _ = ConnectorSettings.objects.select_for_update().get_or_create(
            connector_id=str(connector_id)[:128], defaults={"space_id": space_id, "collection_id": collection_id}
        )
        merged = {**(row.scope_names or {}), **clean}
        if merged != row.scope_names:
            if len(merged) > MAX_SCOPE_NAMES:
                merged = dict(list(merged.items())[-MAX_SCOPE_NAMES:])
            row.scope_names = merged
            row.save(update_fields=["scope_names", "updated_at"])
