"""Token lifecycle grants: Support sees token changes and card events; Operations may also
suspend, resume and delete a card's tokens."""

from django.db import migrations

SUPPORT = [("tokens", "view_tokenchange"), ("tokens", "view_cardevent")]
OPERATIONS = [*SUPPORT, ("tokens", "change_token_status")]


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, grants in (("Support", SUPPORT), ("Operations", OPERATIONS)):
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(
            *[
                Permission.objects.get(content_type__app_label=app, codename=codename)
                for app, codename in grants
            ]
        )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, grants in (("Support", SUPPORT), ("Operations", OPERATIONS)):
        for group in Group.objects.filter(name=name):
            group.permissions.remove(
                *Permission.objects.filter(
                    content_type__app_label="tokens", codename__in=[c for _, c in grants]
                )
            )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_staff_roles"),
        ("tokens", "0005_token_status_permission"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
