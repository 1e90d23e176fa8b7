"""Browser journeys: a real Chromium on a phone or a desktop profile, axe-core on every page.

Each step is photographed; when a test fails (or with JOURNEY_SCREENSHOTS=keep) its photographs
are kept in ``test-artifacts/screenshots/`` (one folder per test), and every page's axe result is
written to ``test-artifacts/axe/``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
ARTIFACTS = BASE_DIR / "test-artifacts"
AXE = BASE_DIR / "node_modules" / "axe-core" / "axe.min.js"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1"
)
ANDROID = (
    "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Mobile Safari/537.36"
)
DESKTOP = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 "
    "Safari/537.36"
)

PROFILES: dict[str, dict[str, Any]] = {
    "iphone": {
        "viewport": {"width": 390, "height": 844},
        "is_mobile": True,
        "has_touch": True,
        "user_agent": IPHONE,
    },
    "android": {
        "viewport": {"width": 390, "height": 844},
        "is_mobile": True,
        "has_touch": True,
        "user_agent": ANDROID,
    },
    "small-phone": {
        "viewport": {"width": 320, "height": 640},
        "is_mobile": True,
        "has_touch": True,
        "user_agent": ANDROID,
    },
    "desktop": {"viewport": {"width": 1280, "height": 800}, "user_agent": DESKTOP},
}
# WCAG 2.0-2.2 A and AA rules; serious and critical findings fail the journey.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
BLOCKING = {"serious", "critical"}


def _slug(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]+", "-", text).strip("-")[:120]


@dataclass
class Journey:
    """One test's browser: pages on profiles, steps photographed, axe run on demand."""

    browser: Any
    name: str
    folder: Path
    base_url: str = ""
    contexts: list[Any] = field(default_factory=list)
    steps: int = 0
    axe_results: list[dict[str, Any]] = field(default_factory=list)
    csp_errors: list[str] = field(default_factory=list)

    def open(self, profile: str, *, language: str = "en") -> Any:
        """A fresh page (own cookies) on a profile, with the browser's language set."""
        context = self.browser.new_context(
            **PROFILES[profile], locale=language, extra_http_headers={"Accept-Language": language}
        )
        self.contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.on("console", self._note_csp_error)
        page.profile = profile
        return page

    def _note_csp_error(self, message: Any) -> None:
        # The page's own documents and files only: axe, run by the test, has no URL.
        if "Content Security Policy" in message.text and message.location.get("url"):
            self.csp_errors.append(f"{message.text} ({message.location})")

    def step(self, page: Any, label: str) -> None:
        self.steps += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(
            path=str(self.folder / f"{self.steps:02d}-{page.profile}-{_slug(label)}.png"),
            full_page=True,
        )

    def check(self, page: Any, label: str, *, exclude: list[str] | None = None) -> dict:
        """Photograph the page, then axe: no serious or critical violation, no sideways scroll
        on a phone, no Content-Security-Policy error. Returns the axe result."""
        self.step(page, label)
        if not AXE.exists():
            message = "needs axe-core (npm ci); CI installs it"
            if IN_CI:
                pytest.fail(message)
            pytest.skip(message)
        page.evaluate(AXE.read_text())  # by the DevTools protocol: the page's CSP stays on
        context = {"exclude": [[selector] for selector in exclude or []]}
        result = page.evaluate(
            "([context, tags]) => axe.run(context.exclude.length ? context : document,"
            " {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
            [context, AXE_TAGS],
        )
        violations = [
            {
                "id": v["id"],
                "impact": v["impact"],
                "help": v["help"],
                "targets": [node["target"] for node in v["nodes"]][:5],
            }
            for v in result["violations"]
        ]
        record = {
            "page": label,
            "profile": page.profile,
            "url": page.url.replace(self.base_url, ""),
            "violations": violations,
        }
        self.axe_results.append(record)
        blocking = [v for v in violations if v["impact"] in BLOCKING]
        assert not blocking, f"{label}: axe found {json.dumps(blocking, indent=1)}"
        if page.profile in ("iphone", "android", "small-phone"):
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{label}: scrolls sideways by {overflow}px"
        assert not self.csp_errors, f"{label}: {self.csp_errors}"
        return result

    def close(self, failed: bool) -> None:
        for context in self.contexts:
            context.close()
        report = ARTIFACTS / "axe"
        report.mkdir(parents=True, exist_ok=True)
        (report / f"{_slug(self.name)}.json").write_text(json.dumps(self.axe_results, indent=1))
        # Kept when the test failed, or always with JOURNEY_SCREENSHOTS=keep (to look at them).
        if not failed and os.environ.get("JOURNEY_SCREENSHOTS") != "keep":
            shutil.rmtree(self.folder, ignore_errors=True)


PASSWORD = "correct horse battery"


def arrive(page: Any, pattern: str) -> None:
    """The page is at a URL matching ``pattern`` (after any redirects) and has loaded."""
    from playwright.sync_api import expect

    expect(page).to_have_url(re.compile(pattern), timeout=15_000)
    page.wait_for_load_state()


def sign_in_at_the_bank(page: Any, username: str) -> None:
    """On the identity provider's sign-in page (not ours: not axe-checked), sign in."""
    page.wait_for_load_state()
    page.get_by_label("Login name").fill(username)
    page.get_by_role("button", name="Sign in at the bank").click()


def sign_in(journey: Journey, page: Any, username: str, *, start: str = "/cards/") -> None:
    """From a signed-out deep link, through the bank's identity provider, back to that page."""
    page.goto(f"{journey.base_url}{start}")
    assert "/interaction/" in page.url  # a signed-out deep link goes to the provider
    sign_in_at_the_bank(page, username)
    arrive(page, re.escape(start) + "$")


def above_the_fold(page: Any, locator: Any) -> bool:
    box = locator.bounding_box()
    return (
        box is not None and box["y"] + box["height"] <= PROFILES[page.profile]["viewport"]["height"]
    )
