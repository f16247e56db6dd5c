"""Re-encrypts every stored secret with the newest key of FIELD_ENCRYPTION_KEYS.

Rotation: put the new key first in FIELD_ENCRYPTION_KEYS (keep the old ones after it), deploy, run this command,
then drop the old keys.
"""

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from connectors.fields import EncryptedTextField


class Command(BaseCommand):
    help = "Re-encrypt every stored secret with the first key of FIELD_ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        rotated = unreadable = 0
        for model in apps.get_models():
            fields = [f for f in model._meta.get_fields() if isinstance(f, EncryptedTextField)]
            if not fields:
                continue
            names = [f.attname for f in fields]
            with transaction.atomic():
                for obj in model._base_manager.select_for_update().only("pk", *names):
                    changes = {}
                    for name in names:
                        value = getattr(obj, name)
                        if value is None:
                            if model._base_manager.filter(pk=obj.pk, **{f"{name}__isnull": False}).exists():
                                unreadable += 1
                            continue
                        changes[name] = value  # saving re-encrypts with the newest key
                    if changes:
                        model._base_manager.filter(pk=obj.pk).update(**changes)
                        rotated += len(changes)
        self.stdout.write(f"Re-encrypted {rotated} secret(s) with the newest key.")
        if unreadable:
            raise CommandError(
                f"{unreadable} secret(s) could not be decrypted with any configured key; "
                "their owners must enter them again (or restore the retired key and run this again)."
            )
