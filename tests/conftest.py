"""Shared fixtures. Personas (after healthchecks' hc/test.py): alice and bob are Norwegian and
Danish cardholders with cards; charlie is a Finnish cardholder with one card. Each must only ever
see their own."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from issuer_portal.cards.models import Card, Cardholder
from tests.browser import browser_page  # noqa: F401 - fixture for browser tests
from tests.factories import CardFactory, CardholderFactory, UserFactory

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_report_header(config: pytest.Config) -> list[str]:
    database = os.environ.get("DATABASE_URL", "")
    lines = [
        "database: "
        + (
            "PostgreSQL (DATABASE_URL)"
            if database.startswith("postgres")
            else "SQLite (embedded): tests marked 'postgres' are SKIPPED (CI runs them)"
        ),
        "redis: "
        + (
            "REDIS_URL is set: cache and broker tests run against it"
            if os.environ.get("REDIS_URL")
            else "REDIS_URL not set: tests marked 'redis' are SKIPPED (CI runs them)"
        ),
        "rabbitmq: "
        + (
            "RABBITMQ_URL is set: the worker tests on RabbitMQ run against it"
            if os.environ.get("RABBITMQ_URL")
            else "RABBITMQ_URL not set: tests marked 'rabbitmq' are SKIPPED (CI runs them)"
        ),
    ]
    return lines


def pytest_configure(config: pytest.Config) -> None:
    _keep_migrated_rows_after_transactional_tests()
    if not hasattr(config, "workerinput"):  # once per run, not per parallel worker
        shutil.rmtree(FAULT_FIGURES, ignore_errors=True)
        shutil.rmtree(SCALE_FIGURES, ignore_errors=True)


FAULT_FIGURES = Path(__file__).resolve().parents[1] / "var" / "faults"
SCALE_FIGURES = Path(__file__).resolve().parents[1] / "var" / "scale"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The figures of the fault suite (tests/faults) and the scale-out test (tests/scale), one
    line per scenario."""
    for title, folder in (("fault suite", FAULT_FIGURES), ("scale-out", SCALE_FIGURES)):
        figures = sorted(folder.glob("*.json")) if folder.is_dir() else []
        if figures:
            terminalreporter.section(f"{title} figures")
            for path in figures:
                terminalreporter.write_line(f"{path.stem}: {path.read_text()}")


def _keep_migrated_rows_after_transactional_tests() -> None:
    """A transactional test (live server, real worker) ends by emptying the database; Django's
    runner then only runs other transactional tests, but test files spread over workers can run
    an ordinary test after it on the same database. So the flush is followed by the rows the
    migrations made (TRIDs, roles, content types), as serialized when the database was set up;
    and the flush never re-creates content types itself, so restoring them cannot clash."""
    from django.core.management import call_command
    from django.db import connections
    from django.test import TransactionTestCase

    def _fixture_teardown(self: TransactionTestCase) -> None:
        for alias in self._databases_names(include_mirrors=False):
            migrated_rows = getattr(connections[alias], "_test_serialized_contents", None)
            call_command(
                "flush",
                verbosity=0,
                interactive=False,
                database=alias,
                reset_sequences=False,
                allow_cascade=self.available_apps is not None,
                inhibit_post_migrate=self.available_apps is not None or migrated_rows is not None,
            )
            if migrated_rows is not None:
                connections[alias].creation.deserialize_db_from_string(migrated_rows)

    def _fixture_setup(cls: type[TransactionTestCase]) -> None:
        # pytest-django serializes the migrated rows only when some collected test asks for a
        # serialized rollback; a partial run (``pytest tests/core``) may have none. Before the
        # first transactional test the database holds just those rows (ordinary tests roll
        # back): kept then, for the teardown above.
        for alias in cls._databases_names(include_mirrors=False):
            connection = connections[alias]
            if getattr(connection, "_test_serialized_contents", None) is None:
                connection._test_serialized_contents = connection.creation.serialize_db_to_string()
        original_setup(cls)

    original_setup = TransactionTestCase._fixture_setup.__func__
    TransactionTestCase._fixture_setup = classmethod(_fixture_setup)
    TransactionTestCase._fixture_teardown = _fixture_teardown


_PROGRAMS_STARTED_BY = {
    "faults": ("redis-server", "haproxy"),
    "scale": ("redis-server", "haproxy", "pgbouncer"),
}


def pytest_runtest_setup(item: pytest.Item) -> None:
    needs = []
    if item.get_closest_marker("redis") and not os.environ.get("REDIS_URL"):
        needs.append("Redis: set REDIS_URL")
    if item.get_closest_marker("rabbitmq") and not os.environ.get("RABBITMQ_URL"):
        needs.append("RabbitMQ: set RABBITMQ_URL")
    if item.get_closest_marker("postgres") and not os.environ.get("DATABASE_URL", "").startswith(
        "postgres"
    ):
        needs.append("PostgreSQL: set DATABASE_URL")
    if item.get_closest_marker("faults") and not os.environ.get("DATABASE_URL", "").startswith(
        "postgres"
    ):
        needs.append("PostgreSQL: set DATABASE_URL")
    # Programs the suites start themselves (Debian packages of the same name).
    for marker, programs in _PROGRAMS_STARTED_BY.items():
        if item.get_closest_marker(marker):
            needs += [
                f"{program} (apt-get install {program})"
                for program in programs
                if not shutil.which(program)
            ]
    if needs:
        message = "needs " + " and ".join(needs) + " (CI always does)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(autouse=True)
def _token_services_start_trusted():
    """Each test starts with every token-service circuit closed (they live per process)."""
    from tokens.services import reset_breakers

    reset_breakers()


@pytest.fixture(autouse=True)
def _vipps_keys_read_afresh():
    """Each test reads the admin's JWE keys from its own database (a process keeps them for
    a while, and the rollback after a test sends no signal)."""
    from provisioning.keys import forget_key_records

    forget_key_records()


@pytest.fixture(scope="session", autouse=True)
def _close_database_pools_before_the_test_database_goes(django_db_setup, django_db_blocker):
    """PostgreSQL runs with a connection pool, as in production; its open connections would
    keep the test database from being dropped at the end of the run."""
    yield
    from django.db import connections

    with django_db_blocker.unblock():
        for connection in connections.all():
            if hasattr(connection, "close_pool"):
                name = connection.settings_dict["NAME"]
                connection.close_pool()
                # A live-server thread may still hold a pooled connection of its own.
                with connection._nodb_cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = %s AND pid <> pg_backend_pid()",
                        [name],
                    )


@pytest.fixture(scope="session", autouse=True)
def redis_database_per_worker():
    """cache.clear() flushes a whole Redis database: parallel test workers each get their own."""
    from django.conf import settings
    from django.test import override_settings

    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    if not settings.REDIS_URL:
        yield
        return
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(settings.REDIS_URL)
    database = 8 + int(worker.removeprefix("gw") or 0)
    caches = {"default": {**settings.CACHES["default"]}}
    caches["default"]["LOCATION"] = urlunsplit(parts._replace(path=f"/{database}"))
    with override_settings(CACHES=caches):
        yield


@pytest.fixture(autouse=True)
def fresh_cache(redis_database_per_worker):
    """Counters (rate limits, sign-in failures) and cached statuses never leak between tests."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def default_language():
    """Each test starts in the default language: a request in Swedish leaves Swedish active in
    its thread, and the next test in that worker would read its texts in Swedish."""
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


PAN_ALICE_VISA = "4111111111111111"
PAN_ALICE_MC = "5555555555554444"
PAN_BOB = "4242424242424242"
PAN_CHARLIE = "5200828282828210"


@pytest.fixture
def alice(db: None) -> Cardholder:
    holder = CardholderFactory(user=UserFactory(username="alice"), full_name="Alice Nordmann")
    CardFactory(cardholder=holder, raw_pan=PAN_ALICE_VISA, product="Visa Debit")
    CardFactory(
        cardholder=holder, raw_pan=PAN_ALICE_MC, product="Mastercard Gold", nickname="Travel"
    )
    return holder


@pytest.fixture
def bob(db: None) -> Cardholder:
    holder = CardholderFactory(
        user=UserFactory(username="bob"), full_name="Bob Hansen", country="DK"
    )
    CardFactory(cardholder=holder, raw_pan=PAN_BOB, product="Visa Classic")
    return holder


@pytest.fixture
def charlie(db: None) -> Cardholder:
    holder = CardholderFactory(
        user=UserFactory(username="charlie"), full_name="Charlie Virtanen", country="FI"
    )
    CardFactory(cardholder=holder, raw_pan=PAN_CHARLIE, product="Debit Mastercard")
    return holder


@pytest.fixture
def staff_user(db: None):
    user = UserFactory(username="operator", is_staff=True, is_superuser=True)
    return user


def card_data_of(*holders: Cardholder) -> list[str]:
    """The clear PANs and NINs of these cardholders, to search output for."""
    values = []
    for holder in holders:
        values.append(holder.nin.reveal())
        values.extend(card.pan.reveal() for card in holder.cards.all())
    return values


def raw_rows(model: type[Card] | type[Cardholder]) -> list[tuple]:
    """Every column of every row, as the database holds it (no model field conversion)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {model._meta.db_table}")  # noqa: S608 - table name from model
        return cursor.fetchall()


@pytest.fixture
def vipps_sandbox(settings):
    """The built-in Vipps sandbox on a free port, as the app's Vipps endpoint."""
    from issuer_portal.core.outbound import reset_pools
    from provisioning.sandbox.server import start_sandbox

    sandbox = start_sandbox(port=0)
    settings.VIPPS_SANDBOX_PORT = sandbox.port
    settings.PROVISIONING_RETRY_BASE_SECONDS = 0.01
    yield sandbox
    sandbox.stop()
    reset_pools()


def assert_no_card_data_in_cache(secrets: list[str]) -> None:
    """Every key and value of the configured cache (Redis when REDIS_URL is set)."""
    if settings.REDIS_URL:
        # The cache's database and the broker's: every key, every value.
        broker = settings.CELERY_BROKER_URL
        for url in {settings.CACHES["default"]["LOCATION"]} | (
            {broker} if "redis" in broker else set()
        ):
            raw = redis.Redis.from_url(url)
            for key in raw.scan_iter(count=1000):
                value = raw.dump(key) or b""
                for secret in secrets:
                    assert secret.encode() not in key and secret.encode() not in value
        return
    from django.core.cache.backends.locmem import _caches

    for store in _caches.values():
        for key, value in store.items():
            for secret in secrets:
                assert secret not in key and secret.encode() not in value


@pytest.fixture
def eager_tasks():
    """Queued Celery tasks run at once, here; restored after (Celery's flag outlives the
    settings fixture)."""
    from issuer_portal.celery import app

    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = saved


@pytest.fixture
def alice_on_two_phones(alice) -> tuple[Card, Card]:
    """Alice's Visa and Mastercard in Vipps, each with contactless on an old and a new Android
    (two tokens under one NFC TRID per card); returns (visa, mastercard)."""
    from tokens.simulator import add_simulated_token

    visa, mastercard = alice.cards.get(last4="1111"), alice.cards.get(last4="4444")
    add_simulated_token(card=visa, trid="40010082040")
    add_simulated_token(card=mastercard, trid="50169178771")
    for name in ("Old Android", "New Android"):
        add_simulated_token(card=visa, trid="40010093056", device_name=name)
        add_simulated_token(card=mastercard, trid="50179270456", device_name=name)
    return visa, mastercard


@pytest.fixture(scope="session")
def identity_provider(live_server, tmp_path_factory):
    """The bank's identity provider: a real OpenID provider, one per test worker."""
    from tests import identity_provider as idp

    if (why := idp.missing()) is not None:
        message = f"{why} for the identity provider tests (CI always has it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    provider = idp.start_provider(tmp_path_factory.mktemp("identity-provider"), live_server.url)
    yield provider
    provider.stop()


def _trust_the_provider(settings, identity_provider) -> None:
    """The portal is where the provider's clients are registered, and trusts its CA."""
    settings.PUBLIC_BASE_URL = identity_provider.portal_url
    settings.OIDC_CA_BUNDLE = str(identity_provider.ca_file)


@pytest.fixture
def cardholder_sign_in(settings, identity_provider):
    """Cardholders sign in through the identity provider (the portal's client registered)."""
    from tests import identity_provider as idp

    _trust_the_provider(settings, identity_provider)
    settings.OIDC_ISSUER = identity_provider.issuer
    settings.OIDC_CLIENT_ID = idp.CARDHOLDER_CLIENT
    settings.OIDC_CLIENT_SECRET = idp.SECRET
    settings.OIDC_SCOPES = "openid"
    identity_provider.next_login()
    return identity_provider


@pytest.fixture
def staff_single_sign_on(settings, identity_provider):
    """Staff sign in to admin through the identity provider, with roles from groups."""
    from tests import identity_provider as idp

    _trust_the_provider(settings, identity_provider)
    settings.STAFF_OIDC_ISSUER = identity_provider.issuer
    settings.STAFF_OIDC_CLIENT_ID = idp.STAFF_CLIENT
    settings.STAFF_OIDC_CLIENT_SECRET = idp.SECRET
    settings.STAFF_OIDC_SCOPES = "openid profile groups"
    settings.STAFF_OIDC_GROUP_ROLES = {"card-ops": "Operations", "card-support": "Support"}
    settings.STAFF_OIDC_REQUIRED_AMR = ["mfa"]
    identity_provider.next_login(amr=["pwd", "mfa"])
    return identity_provider
