from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IssuerPortalConfig(AppConfig):
    name = "issuer_portal"
    verbose_name = _("Cardholders and cards")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in, user_login_failed

        from issuer_portal import checks  # noqa: F401 - registers the deploy checks
        from issuer_portal.audit import record_audit
        from issuer_portal.lockout import count_username_failure, forget_username_failures

        def signed_in(sender: object, request: object, user: object, **kwargs: object) -> None:
            forget_username_failures(user.get_username())
            record_audit(
                "auth.sign_in", obj=user, object_id=user.get_username(), actor=user, request=request
            )

        def sign_in_failed(
            sender: object, credentials: dict, request: object = None, **kwargs: object
        ) -> None:
            # Only the username: Django has already replaced the password with stars.
            count_username_failure(str(credentials.get("username", "")))
            record_audit(
                "auth.sign_in",
                outcome="failure",
                object_type="auth.user",
                object_id=str(credentials.get("username", ""))[:64],
                request=request,
            )

        # weak=False: the receivers are local functions and would be collected otherwise.
        user_logged_in.connect(signed_in, weak=False, dispatch_uid="audit-sign-in")
        user_login_failed.connect(sign_in_failed, weak=False, dispatch_uid="audit-sign-in-failed")
