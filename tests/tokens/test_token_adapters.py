"""The MDES-style and VTS-style adapters against local fakes that speak their shapes."""

from __future__ import annotations

import logging
import threading

import pytest
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

from issuer_portal.core.outbound import reset_pools
from issuer_portal.core.pki import issue, make_ca
from tests.conftest import PAN_ALICE_MC, PAN_ALICE_VISA
from tests.factories import CardFactory
from tests.fakes import Answer, FakeServer
from tokens import adapters
from tokens.adapters.base import TokenServiceError
from tokens.adapters.mdes import MdesAdapter
from tokens.adapters.vts import VtsAdapter
from tokens.models import TokenStatus, TokenType

pytestmark = pytest.mark.django_db

MDES_BODY = {
    "SearchResponse": {
        "Accounts": {
            "Account": [
                {
                    "AccountPan": "XXXX",
                    "Tokens": {
                        "Token": [
                            {
                                "TokenUniqueReference": "DAPLMC000001",
                                "TokenRequestorId": "50169178771",
                                "CurrentStatusCode": "A",
                                "TokenType": "F",
                                "CurrentStatusDateTime": "2026-10-01T10:00:00Z",
                            },
                            {
                                "TokenUniqueReference": "DAPLMC000002",
                                "TokenRequestorId": "50179270456",
                                "CurrentStatusCode": "S",
                                "TokenType": "C",
                                "Device": {"DeviceName": "Kari's phone"},
                            },
                        ]
                    },
                }
            ]
        }
    }
}
VTS_BODY = {
    "tokenDetails": [
        {
            "tokenReferenceID": "DNITHE000001",
            "tokenRequestorID": "40010082040",
            "tokenType": "CARD_ON_FILE",
            "tokenStatus": "ACTIVE",
        },
        {
            "tokenReferenceID": "DNITHE000002",
            "tokenRequestorID": "40010093055",
            "tokenType": "SECURE_ELEMENT",
            "tokenStatus": "ACTIVE",
            "deviceInfo": {"deviceName": "iPhone"},
        },
        {
            "tokenReferenceID": "DNITHE000003",
            "tokenRequestorID": "40000000000",  # another wallet's token
            "tokenType": "HCE",
            "tokenStatus": "DEACTIVATED",
        },
    ]
}


@pytest.fixture
def fake():
    servers = []

    def start(answer, **options):
        server = FakeServer(answer=answer, **options)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
    reset_pools()


@pytest.fixture
def http_adapters(settings):
    settings.TOKEN_SERVICE_ADAPTERS_BY_NETWORK = {"visa": "vts", "mastercard": "mdes"}
    settings.TOKEN_SERVICE_READ_TIMEOUT = 0.5
    settings.TOKEN_LOOKUP_TIMEOUT = 1.5
    cache.clear()
    return settings


def _card(holder, last4):
    return holder.cards.get(last4=last4)


def test_mdes_happy_path(fake, http_adapters, alice, caplog, tmp_path):
    server = fake(lambda r: Answer(body=MDES_BODY), tls=True).start(tmp_path)
    http_adapters.MDES_BASE_URL = server.url + "/mdes"
    http_adapters.MDES_CA_BUNDLE = str(server.ca.write(tmp_path, "ca")[0])
    caplog.set_level(logging.DEBUG)
    tokens = MdesAdapter().tokens_for_card(_card(alice, "4444"))
    assert [(t.token_reference, t.trid, t.status, t.token_type) for t in tokens] == [
        ("DAPLMC000001", "50169178771", TokenStatus.ACTIVE, TokenType.CARD_ON_FILE),
        ("DAPLMC000002", "50179270456", TokenStatus.SUSPENDED, TokenType.DEVICE),
    ]
    assert tokens[1].device_name == "Kari's phone"
    assert tokens[0].updated_at.isoformat() == "2026-10-01T10:00:00+00:00"
    request = server.requests[0]
    assert request.path == "/mdes/search"
    assert request.json() == {"SearchRequest": {"AccountPan": PAN_ALICE_MC}}
    assert PAN_ALICE_MC not in caplog.text


def test_vts_happy_path_and_the_portal_shows_it(fake, http_adapters, alice, client, caplog):
    server = fake(lambda r: Answer(body=VTS_BODY)).start()
    http_adapters.VTS_BASE_URL = server.url
    caplog.set_level(logging.DEBUG)
    tokens = VtsAdapter().tokens_for_card(_card(alice, "1111"))
    assert [(t.token_reference, t.status) for t in tokens] == [
        ("DNITHE000001", TokenStatus.ACTIVE),
        ("DNITHE000002", TokenStatus.ACTIVE),
        ("DNITHE000003", TokenStatus.DELETED),
    ]
    assert server.requests[0].path == "/pan/retrieveTokenInfo"
    assert server.requests[0].json() == {"panData": {"pan": PAN_ALICE_VISA}}
    http_adapters.MDES_BASE_URL = server.url  # answers VTS shapes: malformed for MDES
    client.force_login(alice.user)
    html = client.get("/cards/").content.decode()
    assert "In Vipps · contactless" in html  # the Visa card, through VTS
    assert "Status unavailable" in html  # the Mastercard, through a broken MDES
    assert PAN_ALICE_VISA not in caplog.text and PAN_ALICE_MC not in caplog.text


@pytest.mark.parametrize(
    ("answer", "permanent", "message"),
    [
        (Answer(status=503, body=b"<html>down</html>", content_type="text/html"), False, "503"),
        (Answer(status=500, body=b""), False, "HTTP 500"),
        (Answer(delay=1.0, body=VTS_BODY), False, "timed out"),
        (Answer(body=b"{not json"), True, "not JSON"),
        (Answer(body=b"<html>proxy</html>", content_type="text/html"), True, "not JSON"),
        (Answer(body={"tokenDetails": "nope"}), True, "malformed"),
        (Answer(body={"tokenDetails": [{"tokenStatus": "ACTIVE"}]}), True, "malformed"),
        (Answer(status=401, body={"error": "bad credentials"}), True, "HTTP 401"),
        (Answer(status=404, body={}), True, "unknown"),
    ],
)
def test_vts_failures_are_typed(fake, http_adapters, alice, answer, permanent, message, caplog):
    server = fake(lambda r: answer).start()
    http_adapters.VTS_BASE_URL = server.url
    with pytest.raises(TokenServiceError) as caught:
        VtsAdapter().tokens_for_card(_card(alice, "1111"))
    assert caught.value.permanent is permanent
    assert message in str(caught.value)
    assert PAN_ALICE_VISA not in str(caught.value) + caplog.text


@pytest.mark.parametrize(
    ("answer", "permanent"),
    [
        (Answer(status=502, body=b"bad gateway", content_type="text/plain"), False),
        (Answer(delay=1.0, body=MDES_BODY), False),
        (Answer(body=b"]"), True),
        (Answer(body={"Unexpected": {}}), True),
        (Answer(body={"SearchResponse": {"Accounts": {"Account": ["x"]}}}), True),
    ],
)
def test_mdes_failures_are_typed(fake, http_adapters, alice, answer, permanent):
    server = fake(lambda r: answer).start()
    http_adapters.MDES_BASE_URL = server.url
    with pytest.raises(TokenServiceError) as caught:
        MdesAdapter().tokens_for_card(_card(alice, "4444"))
    assert caught.value.permanent is permanent


def test_mdes_single_objects_and_empty_search_results(fake, http_adapters, alice):
    single = {
        "SearchResponse": {
            "Accounts": {
                "Account": {
                    "Tokens": {
                        "Token": {
                            "TokenUniqueReference": "DAPLMC9",
                            "TokenRequestorId": 50100496946,
                            "CurrentStatusCode": "Z",
                        }
                    }
                }
            }
        }
    }
    answers = iter([single, {"SearchResponse": {}}])
    server = fake(lambda r: Answer(body=next(answers))).start()
    http_adapters.MDES_BASE_URL = server.url
    card = _card(alice, "4444")
    (only,) = MdesAdapter().tokens_for_card(card)
    # An unknown status code never counts as active.
    assert only.trid == "50100496946" and only.status == TokenStatus.INACTIVE
    assert MdesAdapter().tokens_for_card(card) == []


def test_portal_degrades_to_unknown_when_the_service_is_slow(fake, http_adapters, alice, client):
    # The service answers in 1.5 s, well inside the read timeout: only the page's own deadline
    # (0.3 s) can turn the statuses into "unavailable".
    server = fake(lambda r: Answer(delay=1.5, body=VTS_BODY)).start()
    http_adapters.VTS_BASE_URL = http_adapters.MDES_BASE_URL = server.url
    http_adapters.TOKEN_SERVICE_READ_TIMEOUT = 5
    http_adapters.TOKEN_LOOKUP_TIMEOUT = 0.3
    client.force_login(alice.user)
    response = client.get("/cards/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("Status unavailable") == 2 and "Try again" in html


def test_the_lookups_of_ten_cards_are_in_flight_together(fake, http_adapters, alice, client):
    """Ten cards, ten requests at once: the fake answers none until all ten have arrived."""
    for _ in range(8):
        CardFactory(cardholder=alice)  # Visa, like alice's first card; her other is a Mastercard
    all_ten_arrived = threading.Barrier(10, timeout=15)

    def answer(request):
        all_ten_arrived.wait()  # sequential lookups would break the barrier: a 500, a failed test
        return Answer(body=MDES_BODY if request.path == "/mdes/search" else VTS_BODY)

    server = fake(answer).start()
    http_adapters.VTS_BASE_URL = server.url
    http_adapters.MDES_BASE_URL = server.url + "/mdes"
    http_adapters.TOKEN_SERVICE_READ_TIMEOUT = http_adapters.TOKEN_LOOKUP_TIMEOUT = 10
    client.force_login(alice.user)
    html = client.get("/cards/").content.decode()
    assert len(server.requests) == 10
    assert "Status unavailable" not in html


def test_tls_pinned_ca_client_certificates_and_untrusted_servers(
    fake, http_adapters, alice, tmp_path
):
    client_ca = make_ca("Bank client CA")
    server = fake(lambda r: Answer(body=VTS_BODY), tls=True, require_client_cert=True)
    server.ca = client_ca
    server.server_cert = issue(client_ca, "127.0.0.1", server=True)
    server.start(tmp_path)
    ca_path = client_ca.write(tmp_path, "pinned-ca")[0]
    cert, key = issue(client_ca, "bank-client").write(tmp_path, "client")
    http_adapters.VTS_BASE_URL = server.url
    http_adapters.VTS_CA_BUNDLE = str(ca_path)
    http_adapters.VTS_CLIENT_CERT, http_adapters.VTS_CLIENT_KEY = str(cert), str(key)
    card = _card(alice, "1111")
    assert len(VtsAdapter().tokens_for_card(card)) == 3

    # Without the pinned CA the server is not trusted (the public CAs do not know it).
    http_adapters.VTS_CA_BUNDLE = ""
    with pytest.raises(TokenServiceError, match="not trusted") as caught:
        VtsAdapter().tokens_for_card(card)
    assert caught.value.permanent

    # Pinned to another CA: refused too.
    http_adapters.VTS_CA_BUNDLE = str(make_ca("Another CA").write(tmp_path, "other-ca")[0])
    with pytest.raises(TokenServiceError, match="not trusted"):
        VtsAdapter().tokens_for_card(card)


def test_adapter_choice_per_network_and_unknown_keys(settings):
    settings.TOKEN_SERVICE_ADAPTER = "simulator"
    settings.TOKEN_SERVICE_ADAPTERS_BY_NETWORK = {"mastercard": "mdes"}
    assert adapters.adapter_for_network("visa").name == "simulator"
    assert adapters.adapter_for_network("mastercard").name == "mdes"
    settings.TOKEN_SERVICE_ADAPTERS_BY_NETWORK = {"visa": "tokens.adapters.vts.VtsAdapter"}
    adapters.validate_configuration()
    settings.TOKEN_SERVICE_ADAPTER = "visa-magic"
    with pytest.raises(ImproperlyConfigured, match="Unknown token service adapter 'visa-magic'"):
        adapters.validate_configuration()
    settings.TOKEN_SERVICE_ADAPTER = "issuer_portal.cards.models.Card"
    with pytest.raises(ImproperlyConfigured, match="not a TokenServiceAdapter"):
        adapters.validate_configuration()


def test_an_unknown_adapter_is_a_startup_error(tmp_path):
    from tests.processes import manage, production_env

    result = manage(production_env(tmp_path, TOKEN_SERVICE_ADAPTER="nonsense"), "check")
    assert result.returncode != 0
    assert "Unknown token service adapter 'nonsense'" in result.stderr


def test_a_failing_token_service_is_left_alone_then_asked_again(
    fake, http_adapters, alice, client, settings
):
    """Five 502s in a row open the circuit: the next card lists do not call the service and show
    the status as unavailable at once; after the pause it is asked again."""
    from tokens import services

    server = fake(lambda r: Answer(status=502, body=b"bad gateway", content_type="text/plain"))
    server = server.start()
    http_adapters.VTS_BASE_URL = server.url
    settings.TOKEN_SERVICE_BREAKER_FAILURES = 3
    settings.TOKEN_SERVICE_BREAKER_SECONDS = 60
    client.force_login(alice.user)
    for _ in range(3):
        assert client.get("/cards/").status_code == 200
    assert len(server.requests) == 3
    page = client.get("/cards/?again=1")
    assert page.status_code == 200 and len(server.requests) == 3  # left alone
    assert "right now, so some cards show no status" in page.content.decode()
    services._breakers["vts"].open_until = 0.0  # the pause is over
    client.get("/cards/?later=1")
    assert len(server.requests) == 4  # asked again (and, failing, left alone again)
    client.get("/cards/?later=2")
    assert len(server.requests) == 4
