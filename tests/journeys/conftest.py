"""Fixtures of the browser journeys: a Chromium and a Journey per test.

Chromium starts after the test database is set up: Playwright runs an event loop in this thread,
and the rows the data migrations made (TRIDs, roles) are restored before it starts."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.browser import CHROMIUM
from tests.journeys.harness import ARTIFACTS, IN_CI, Journey, _slug


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture
def chromium(django_db_serialized_rollback, identity_provider) -> Iterator[object]:
    if not os.path.exists(CHROMIUM):
        message = "needs Chromium (apt-get install chromium); CI installs it"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # still synchronous code, so Django's async guard would refuse them.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-dev-shm-usage",
                # The test identity provider's own key, pinned: its certificate comes from a CA
                # of the test run, which the browser does not otherwise know.
                f"--ignore-certificate-errors-spki-list={identity_provider.spki_pin()}",
            ],
        )
        yield browser
        browser.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def journey(
    request, django_db_serialized_rollback, chromium, live_server, settings, cardholder_sign_in
) -> Iterator[Journey]:
    # Cardholders sign in through the bank's identity provider (a real OpenID provider).
    # Transactional (the live server is another thread), keeping the data migrations' rows.
    # Links that come back from the sandbox "app" point at this server.
    settings.PUBLIC_BASE_URL = live_server.url
    settings.VIPPS_NFC_LINK_BASE = f"{live_server.url}/sandbox/vipps/nfc/"
    trip = Journey(
        browser=chromium,
        name=request.node.nodeid,
        folder=ARTIFACTS / "screenshots" / _slug(request.node.nodeid),
        base_url=live_server.url,
    )
    yield trip
    failed = any(
        getattr(getattr(request.node, f"report_{when}", None), "failed", False)
        for when in ("setup", "call")
    )
    trip.close(failed)
