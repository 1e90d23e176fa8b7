"""Settings of the server benchmark: the portal's own, plus the bare baseline page."""

from issuer_portal.settings import *  # noqa: F403 - the shipped settings, unchanged

ROOT_URLCONF = "tests.benchmarks.bench_urls"
