"""The "Read-only" group: its members see every page of the console and change nothing."""

from django.db import migrations

READ_ONLY_GROUP = "Read-only"  # connectors.permissions.READ_ONLY_GROUP, frozen here as migrations should be


def create_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.get_or_create(name=READ_ONLY_GROUP)


def delete_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=READ_ONLY_GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("connectors", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_group, delete_group)]
