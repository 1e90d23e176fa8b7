"""Staff roles. Support: read-only on cardholders, cards, attempts, tokens and the audit log.
Operations: that, plus retry/cancel attempts, edit TRIDs and JWE keys, export the audit log."""

from django.db import migrations

SUPPORT = [
    ("issuer_portal", "view_cardholder"),
    ("issuer_portal", "view_card"),
    ("issuer_portal", "view_auditentry"),
    ("provisioning", "view_provisioningattempt"),
    ("provisioning", "view_upstreamcall"),
    ("provisioning", "view_vippsjwekey"),
    ("tokens", "view_tokenrequestor"),
    ("tokens", "view_cardtoken"),
    ("tokens", "view_tokennotification"),
]
OPERATIONS = SUPPORT + [
    ("provisioning", "retry_provisioningattempt"),
    ("provisioning", "cancel_provisioningattempt"),
    ("provisioning", "add_vippsjwekey"),
    ("provisioning", "change_vippsjwekey"),
    ("tokens", "add_tokenrequestor"),
    ("tokens", "change_tokenrequestor"),
    ("issuer_portal", "export_auditentry"),
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
        ("provisioning", "0002_staff_permissions"),
        ("issuer_portal", "0002_audit_log"),
        ("tokens", "0002_seed_trids"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, drop_roles)]
