from django.apps import AppConfig


class TokensConfig(AppConfig):
    """Network tokens of each card at the token service (Visa VTS / Mastercard MDES)."""

    name = "tokens"
