"""Recording security-relevant events in the append-only audit log.

Services call ``record_audit``; who did it (user or system), from where and under which request
and correlation id comes from the request being served (AuditContextMiddleware), so no service
has to pass it along. Details are masked like logs: a PAN or NIN cannot end up here.
"""

from __future__ import annotations

import contextvars
import json
import logging
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from issuer_portal.core.client_address import client_ip
from issuer_portal.core.models import AuditEntry
from issuer_portal.core.observability import correlation_id, mask_card_data, request_id

logger = logging.getLogger(__name__)

_current_request: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar(
    "audit_request", default=None
)


class AuditContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _current_request.set(request)
        try:
            return self.get_response(request)
        finally:
            _current_request.reset(token)


def record_audit(action: str, **fields: Any) -> AuditEntry:
    """Append one entry (``fields`` as for ``audit_entry``). Never raises for bad details: they
    are masked and made JSON-safe."""
    entry = audit_entry(action, **fields)
    entry.save(force_insert=True)
    return entry


def audit_entry(
    action: str,
    *,
    outcome: str = "success",
    obj: Any = None,
    object_type: str = "",
    object_id: str = "",
    details: dict[str, Any] | None = None,
    correlation: str = "",
    actor: Any = None,
    request: HttpRequest | None = None,
) -> AuditEntry:
    """The entry ``record_audit`` would append, not yet saved: for a caller that writes it
    together with the change it records (core.db.write_together)."""
    request = request or _current_request.get()
    user = actor
    if user is None and request is not None:
        candidate = getattr(request, "user", None)
        user = candidate if getattr(candidate, "is_authenticated", False) else None
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(getattr(obj, "public_id", None) or obj.pk)
    safe_details = json.loads(mask_card_data(json.dumps(details or {}, default=str)))
    # A machine client (the card management system) is named but is no account.
    account = user if getattr(user, "pk", None) is not None else None
    return AuditEntry(
        actor=account,
        actor_label=user.get_username() if user is not None else "system",
        action=action,
        object_type=object_type,
        object_id=str(object_id)[:64],
        outcome=outcome,
        source_ip=client_ip(request) if request is not None else None,
        request_id=request_id.get()[:64],
        correlation_id=(correlation or correlation_id.get())[:64],
        details=safe_details,
    )


def audit_changes_of(model: type, action: str, fields: tuple[str, ...]) -> None:
    """Audit every save and delete of ``model`` (configuration that bank staff edit)."""
    from django.db.models.signals import post_delete, post_save

    def saved(sender: type, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
        if raw:
            return  # rows loaded as they were (loaddata, a test database restored): no one's edit
        record_audit(
            action,
            outcome="created" if created else "changed",
            obj=instance,
            object_id=str(getattr(instance, fields[0])),
            details={name: getattr(instance, name) for name in fields},
        )

    def deleted(sender: type, instance: Any, **kwargs: Any) -> None:
        record_audit(
            action,
            outcome="deleted",
            obj=instance,
            object_id=str(getattr(instance, fields[0])),
            details={name: getattr(instance, name) for name in fields},
        )

    post_save.connect(saved, sender=model, weak=False, dispatch_uid=f"audit-save-{action}")
    post_delete.connect(deleted, sender=model, weak=False, dispatch_uid=f"audit-delete-{action}")
