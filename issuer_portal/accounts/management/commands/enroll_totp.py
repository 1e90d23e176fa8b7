"""Give a staff member an authenticator (TOTP) device, e.g. the first administrator.

With ADMIN_REQUIRE_OTP on (the default in production) nobody enters admin without a device, so
the first one is made here, on the server, and scanned from the terminal. Later devices can be
added by an administrator in admin (OTP TOTP → TOTP devices).
"""

from __future__ import annotations

import io
from typing import Any

import qrcode
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_otp.plugins.otp_totp.models import TOTPDevice


class Command(BaseCommand):
    help = "Create a confirmed TOTP device for a staff account and show it as a QR code."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="authenticator", help="device name shown in admin")
        parser.add_argument(
            "--replace", action="store_true", help="delete the account's existing TOTP devices"
        )

    def handle(self, *args: Any, username: str, name: str, replace: bool, **options: Any) -> None:
        user = get_user_model().objects.filter(username=username, is_staff=True).first()
        if user is None:
            raise CommandError(f"No staff account {username!r}.")
        existing = TOTPDevice.objects.filter(user=user)
        if existing.exists() and not replace:
            raise CommandError(f"{username!r} already has a TOTP device; use --replace.")
        existing.delete()
        device = TOTPDevice.objects.create(user=user, name=name, confirmed=True)
        code = qrcode.QRCode(border=1)
        code.add_data(device.config_url)
        picture = io.StringIO()
        code.print_ascii(out=picture, invert=True)
        self.stdout.write(picture.getvalue())
        self.stdout.write(
            f"Scan this with the authenticator app of {username!r}, or enter: {device.config_url}"
        )
