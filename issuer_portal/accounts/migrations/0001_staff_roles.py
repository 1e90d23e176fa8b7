"""Staff roles, owned by this app. Support: read-only on cardholders, cards, attempts, tokens and
the audit log. Operations: that, plus retry/cancel attempts, refresh a card's token status, edit
TRIDs and JWE keys, export the audit log. Each grant names a permission its own app declares."""

from django.db import migrations

SUPPORT = [
    ("cards", "view_cardholder"),
    ("cards", "view_card"),
    ("core", "view_auditentry"),
    ("provisioning", "view_provisioningattempt"),
    ("provisioning", "view_upstreamcall"),
    ("provisioning", "view_vippsjwekey"),
    ("tokens", "view_tokenrequestor"),
    ("tokens", "view_cardtoken"),
    ("tokens", "view_tokennotification"),
]
OPERATIONS = SUPPORT + [
    ("cards", "refresh_card"),
    ("provisioning", "retry_provisioningattempt"),
    ("provisioning", "cancel_provisioningattempt"),
    ("provisioning", "add_vippsjwekey"),
    ("provisioning", "change_vippsjwekey"),
    ("tokens", "add_tokenrequestor"),
    ("tokens", "change_tokenrequestor"),
    ("core", "export_auditentry"),
]


def create_roles(apps, schema_editor):
    # Permissions are normally created after all migrations ran: make sure they exist now.
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, grants in (("Support", SUPPORT), ("Operations", OPERATIONS)):
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(
            [
                Permission.objects.get(content_type__app_label=app, codename=codename)
                for app, codename in grants
            ]
        )


def drop_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["Support", "Operations"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("cards", "0001_initial"),
        ("core", "0001_initial"),
        ("provisioning", "0001_initial"),
        ("tokens", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, drop_roles)]
