"""The "Auditors" group: its members see every user's events in the audit log, as staff do."""

from django.db import migrations

AUDITORS_GROUP = "Auditors"  # connectors.permissions.AUDITORS_GROUP, frozen here as migrations should be


def create_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.get_or_create(name=AUDITORS_GROUP)


def delete_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=AUDITORS_GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [("connectors", "0002_read_only_group")]

    operations = [migrations.RunPython(create_group, delete_group)]
