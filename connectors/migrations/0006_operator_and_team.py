"""The "Operator" group (its members may run syncs and change nothing else), and the team page's audit actions."""

from django.db import migrations, models

OPERATOR_GROUP = "Operator"  # connectors.permissions.OPERATOR_GROUP, frozen here as migrations should be


def create_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.get_or_create(name=OPERATOR_GROUP)


def delete_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=OPERATOR_GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("connectors", "0005_names_and_bulk_actions"),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="action",
            field=models.CharField(
                choices=[
                    ("connector.create", "Create connector"),
                    ("connector.update", "Edit connector"),
                    ("connector.delete", "Delete connector"),
                    ("connector.scope", "Change scope"),
                    ("connector.credential", "Reconnect credential"),
                    ("sync.trigger", "Start sync"),
                    ("sync.cancel", "Cancel sync"),
                    ("sync.retry", "Retry sync"),
                    ("sync.scheduled", "Scheduled sync"),
                    ("schedule.update", "Change schedule"),
                    ("connector.freshness", "Change expected freshness"),
                    ("watch.add", "Watch"),
                    ("watch.update", "Change watch"),
                    ("watch.remove", "Stop watching"),
                    ("watch.pause", "Watch paused"),
                    ("channel.add", "Add channel"),
                    ("channel.remove", "Remove channel"),
                    ("channel.test", "Send test"),
                    ("channel.rotate", "Rotate signing secret"),
                    ("alert.delivery", "Alert delivery"),
                    ("connector.name", "Rename connector"),
                    ("bulk.start", "Start bulk action"),
                    ("team.invite", "Invite team member"),
                    ("team.role", "Change team role"),
                    ("team.deactivate", "Deactivate team member"),
                    ("team.reactivate", "Reactivate team member"),
                ],
                db_index=True,
                max_length=32,
            ),
        ),
        migrations.RunPython(create_group, delete_group),
    ]
