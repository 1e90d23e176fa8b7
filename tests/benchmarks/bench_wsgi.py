"""WSGI entry of the server benchmark (bench_settings: the shipped settings plus the baseline)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.benchmarks.bench_settings")
application = get_wsgi_application()

if os.environ.get("BENCH_PHASES_DIR"):  # --phases: where the server's time goes (phases.py)
    from pathlib import Path

    from tests.benchmarks.phases import timing

    application = timing(application, Path(os.environ["BENCH_PHASES_DIR"]))
