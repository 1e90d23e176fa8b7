"""WSGI entry of the server benchmark (bench_settings: the shipped settings plus the baseline)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.benchmarks.bench_settings")
application = get_wsgi_application()
