"""A web server process readies itself before its first request (gunicorn's post_worker_init)."""

from __future__ import annotations

import gc
import logging
import runpy
from pathlib import Path

import pytest
from django.conf import settings
from django.template import engines
from django.utils.translation import trans_real

from issuer_portal.core.worker_start import ready_worker

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def unfrozen_afterwards():
    yield
    gc.unfreeze()  # this test process goes on collecting as before


def test_a_worker_loads_catalogues_and_templates_then_freezes(unfrozen_afterwards, caplog):
    loader = engines["django"].engine.template_loaders[0]
    loader.reset()
    trans_real._translations.clear()
    gc.unfreeze()
    with caplog.at_level(logging.ERROR, logger="issuer_portal.core.worker_start"):
        ready_worker()
    assert not caplog.records  # every portal template compiles
    assert {code for code, _ in settings.LANGUAGES} <= set(trans_real._translations)
    assert "portal/card_list.html" in loader.get_template_cache
    # The loaded state is out of the collector's way; what requests make is not.
    assert gc.get_freeze_count() > 10_000
    assert gc.get_count()[0] < 700


def test_the_shipped_gunicorn_configuration_readies_each_worker(monkeypatch):
    called = []
    monkeypatch.setattr("issuer_portal.core.worker_start.ready_worker", lambda: called.append(1))
    config = runpy.run_path(str(BASE_DIR / "gunicorn.conf.py"))
    config["post_worker_init"](object())
    assert called == [1]
