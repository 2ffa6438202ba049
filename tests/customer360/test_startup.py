"""The web process settles before its first request: the URLconf and every language's translations
are loaded, and what lives on is frozen for the garbage collector."""

from __future__ import annotations

import gc
import importlib
import sys

import pytest
from django.urls import get_resolver
from django.utils import translation


@pytest.fixture
def unfrozen():
    yield
    gc.unfreeze()


def test_settling_loads_the_urls_and_translations_and_freezes_what_lives_on(unfrozen):
    from customer360.startup import settle_web_process

    gc.unfreeze()
    frozen = settle_web_process()
    # (Counted when frozen: a frozen object freed since, e.g. a temporary of this test, leaves it.)
    assert frozen > 10_000 and gc.get_freeze_count() > frozen - 1_000
    # A full collection now walks only what was made after the start.
    assert len(gc.get_objects(generation=2)) < frozen
    assert "customer360" in {getattr(p, "namespace", None) for p in get_resolver().url_patterns}
    with translation.override("de"):
        assert translation.gettext("Customers") == "Kunden"


def test_the_wsgi_module_settles_the_process(unfrozen):
    gc.unfreeze()
    sys.modules.pop("customer360.wsgi", None)
    wsgi = importlib.import_module("customer360.wsgi")
    assert callable(wsgi.application)
    assert gc.get_freeze_count() > 10_000
