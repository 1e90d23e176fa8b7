"""The portal's URLs plus the baselines every server figure is compared with.

/bench/bare/ renders the signed-in cardholder's card rows from one query, through the same
middleware and the same server, with no wallet state, offers or layout of the portal.
/bench/bare-add/<card>/ is a bare DRF view that does the JWE encryption of "Add" for the
signed-in cardholder's card and answers with a redirect: "Add" without Vipps and bookkeeping.
/bench/bare-add-with-records/<card>/ is that view plus the durable writes "Add" makes around
its Vipps call, written the way "Add" writes them (two statements on PostgreSQL): what no
"Add" that keeps its records can do without. /bench/bare-add-with-records/<card>/wait/<ms>/
waits ``ms`` between those writes (its connection handed back, as "Add" does while Vipps
answers): after a wait the same writes take longer on the same machine, so this is the
like-for-like baseline of what "Add" itself costs around its Vipps call.
"""

import datetime
import time
import uuid

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template import engines
from django.urls import path
from django.utils import timezone
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.views import APIView

from issuer_portal.cards.models import Card
from issuer_portal.core.audit import audit_entry
from issuer_portal.core.db import (
    give_back_connection_while_waiting,
    insert_of,
    update_of,
    write_together,
)
from issuer_portal.urls import handler404, handler500
from issuer_portal.urls import urlpatterns as portal_patterns
from provisioning.jwe import encrypt_card_data
from provisioning.keys import current_jwe_key
from provisioning.models import AttemptState, ProvisioningAttempt, UpstreamCall

_ROWS = engines["django"].from_string(
    "<!DOCTYPE html><html lang='en'><title>Cards</title><ul>"
    "{% for product, last4, expiry in rows %}<li>{{ product }} •••• {{ last4 }} {{ expiry }}</li>"
    "{% endfor %}</ul></html>"
)


@login_required
def bare_card_rows(request: HttpRequest) -> HttpResponse:
    rows = Card.objects.filter(cardholder__user=request.user).values_list(
        "product", "last4", "expiry"
    )
    return HttpResponse(_ROWS.render({"rows": list(rows)}, request))


class BareAdd(APIView):
    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAuthenticated]

    def post(self, request: Request, card_id: uuid.UUID) -> HttpResponse:
        card = Card.objects.get(public_id=card_id, cardholder__user=request.user)
        encrypt_card_data(pan=card.pan, expiry=card.expiry, key=current_jwe_key())
        return HttpResponseRedirect("https://127.0.0.1/sandbox/vipps/", status=303)


class BareAddWithRecords(APIView):
    """BareAdd, plus the attempt and its audit entry written together before the (here absent)
    Vipps call, and the call record, the link and its audit entry together after it. No
    eligibility, rate limits, claims, wallet state or logging."""

    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAuthenticated]

    def post(self, request: Request, card_id: uuid.UUID, wait_ms: int = 0) -> HttpResponse:
        card = Card.objects.select_related("cardholder").get(
            public_id=card_id, cardholder__user=request.user
        )
        encrypt_card_data(pan=card.pan, expiry=card.expiry, key=current_jwe_key())
        attempt = ProvisioningAttempt(
            card=card,
            cardholder=card.cardholder,
            tries=1,
            claimed_until=timezone.now() + datetime.timedelta(seconds=30),
        )
        entry = audit_entry("provisioning.initiated", obj=attempt, details={"channel": "web"})
        write_together(attempt=insert_of(attempt), audit=insert_of(entry))
        if wait_ms:
            give_back_connection_while_waiting()
            time.sleep(wait_ms / 1000)
        link = "https://127.0.0.1/sandbox/vipps/"
        trace_id = uuid.uuid4()
        call = UpstreamCall(attempt=attempt, trace_id=trace_id, status_code=200, outcome="success")
        entry = audit_entry(
            "provisioning.link_issued", obj=attempt, details={"trace_id": str(trace_id)}
        )
        write_together(
            call=insert_of(call),
            link=update_of(
                ProvisioningAttempt.objects.filter(pk=attempt.pk),
                state=AttemptState.LINK_READY,
                universal_link=link,
                link_ready_at=timezone.now(),
                claimed_until=None,
            ),
            audit=insert_of(entry, only_if="link"),
        )
        return HttpResponseRedirect(link, status=303)


urlpatterns = [
    path("bench/bare/", bare_card_rows),
    path("bench/bare-add/<uuid:card_id>/", BareAdd.as_view()),
    path("bench/bare-add-with-records/<uuid:card_id>/", BareAddWithRecords.as_view()),
    path(
        "bench/bare-add-with-records/<uuid:card_id>/wait/<int:wait_ms>/",
        BareAddWithRecords.as_view(),
    ),
    *portal_patterns,
]
__all__ = ["handler404", "handler500", "urlpatterns"]
