"""Operations may refresh a card's token status (a state-changing admin action); Support may not."""

from django.db import migrations


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permission = Permission.objects.get(
        content_type__app_label="issuer_portal", codename="refresh_card"
    )
    for group in Group.objects.filter(name="Operations"):
        group.permissions.add(permission)


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Permission.objects.filter(
        content_type__app_label="issuer_portal", codename="refresh_card"
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("provisioning", "0004_funnel"),
        ("issuer_portal", "0003_card_refresh_permission"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
