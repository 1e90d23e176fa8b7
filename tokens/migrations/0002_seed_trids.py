"""Seed the TRID registry from the Vipps MobilePay provisioning guide's two tables.

After this, TRIDs are data: bank staff edit them in admin.
"""

from django.db import migrations

SPEC_TRIDS = [
    # trid, network, kind, label, status
    ("40010082040", "visa", "ecom", "Vipps", "active"),
    ("40010081524", "visa", "ecom", "MobilePay", "active"),
    ("50134871116", "mastercard", "ecom", "Vipps (old)", "deprecated"),
    ("50169178771", "mastercard", "ecom", "Vipps (new)", "active"),
    ("50100496946", "mastercard", "ecom", "MobilePay", "active"),
    ("40010093055", "visa", "nfc", "iOS", "active"),
    ("40010093056", "visa", "nfc", "Android", "active"),
    ("50179270456", "mastercard", "nfc", "any platform", "active"),
]


def seed(apps, schema_editor):
    TokenRequestor = apps.get_model("tokens", "TokenRequestor")
    for trid, network, kind, label, status in SPEC_TRIDS:
        TokenRequestor.objects.get_or_create(
            trid=trid,
            defaults={"network": network, "kind": kind, "label": label, "status": status},
        )


def unseed(apps, schema_editor):
    TokenRequestor = apps.get_model("tokens", "TokenRequestor")
    TokenRequestor.objects.filter(trid__in=[row[0] for row in SPEC_TRIDS]).delete()


class Migration(migrations.Migration):
    dependencies = [("tokens", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
