"""The portal's URLs plus /bench/bare/: the baseline every server figure is compared with.

The bare page renders the signed-in cardholder's card rows from one query, through the same
middleware and the same server, with no wallet state, offers or layout of the portal.
"""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import path

from issuer_portal.cards.models import Card
from issuer_portal.urls import handler404, handler500
from issuer_portal.urls import urlpatterns as portal_patterns

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


urlpatterns = [path("bench/bare/", bare_card_rows), *portal_patterns]
__all__ = ["handler404", "handler500", "urlpatterns"]
