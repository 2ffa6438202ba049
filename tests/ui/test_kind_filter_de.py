"""Issue #19: the German 360 page of a whole-suite run showed "Invoice" and "overdue".

The cause: the timeline's kind filter lists the label of every declared kind (``filter_choices``), and
a test module declared a kind of its own ("test.sample", label "Invoice overdue") when it was
imported. pytest imports every test module before the first test runs, so in a whole-suite run that
English label stood in the filter of every 360 page, for every role; a run of the fit walk alone
never imported that module. Test modules now declare their kinds in fixtures only.

These tests import every test module, as a whole-suite run does, and then check that the registry
holds what the apps declare and nothing else, and that the German 360 page's kind filter has no
English word of the app's own.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import translation

from customer360 import events
from tests.conftest import client_for
from tests.ui.test_every_page_fits import SAME_IN_GERMAN, english_words

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent

APP_KINDS = """
import django, json
django.setup()
from customer360 import events
print(json.dumps(sorted(k.kind for k in events.all_kinds())))
"""


def import_every_test_module() -> list[str]:
    """Imports each test module as pytest's collection does; returns the ones that could not be."""
    failed = []
    for path in sorted(TESTS.rglob("test_*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        try:
            importlib.import_module(name)
        except (ImportError, pytest.skip.Exception):  # an optional tool is missing here
            failed.append(name)
    return failed


def app_kinds() -> set[str]:
    """The kinds the apps declare, read in a fresh process that imports no test module."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "customer360.settings.test"}
    out = subprocess.run(
        [sys.executable, "-c", APP_KINDS], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_importing_the_test_modules_declares_no_kind():
    import_every_test_module()
    assert {k.kind for k in events.all_kinds()} - app_kinds() == set()


def test_every_declared_kind_has_a_german_label():
    untranslated = []
    for kind in events.all_kinds():
        with translation.override("en"):
            english = str(kind.label)
        with translation.override("de"):
            german = str(kind.label)
        if german == english and english not in SAME_IN_GERMAN:
            untranslated.append(f"{kind.kind}: {english}")
    assert not untranslated


@pytest.mark.django_db
def test_german_360_kind_filter_after_the_whole_suite_is_imported(customer, rep):
    import_every_test_module()
    client = client_for(rep)
    client.cookies["django_language"] = "de"
    html = client.get(f"/customers/{customer.pk}/").content.decode()
    select = re.search(r'<select name="kind" aria-label=.*?</select>', html, re.S).group(0)
    labels = [re.sub(r"<[^>]+>", "", option).strip() for option in re.findall(r"<option.*?</option>", select)]
    assert "Mahnung" in labels and "Rechnung ausgestellt" in labels  # the billing kinds, in German
    assert [label for label in labels if english_words(label)] == []
