from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    """Who may sign in and what staff may do: lockout, the audit of sign-ins, staff roles."""

    name = "issuer_portal.accounts"
    label = "accounts"
    verbose_name = _("Sign-in and staff roles")

    def ready(self) -> None:
        from issuer_portal.accounts import signals

        signals.connect_sign_in_receivers()
