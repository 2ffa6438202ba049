"""Dunning level names read in one language: the seeded levels are translation keys (no more
"1. Mahnung / Reminder" for every reader), old notices' events included."""

import datetime
import importlib

import pytest
import time_machine
from django.apps import apps
from django.utils import translation

from billing import services
from billing.models import DunningLevel, DunningPolicy
from customer360.models import TimelineEvent
from tests.billing.factories import at, make_invoice
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
MIGRATION = importlib.import_module("billing.migrations.0007_dunning_level_names_as_translation_keys")


def test_seeded_levels_are_named_once_in_the_readers_language(accounting_user):
    names = list(DunningPolicy.active().levels.values_list("name", flat=True))
    assert names == ["Friendly reminder", "First reminder", "Final notice", "Hand-over to collection"]
    german = client_for(accounting_user).get("/billing/dunning/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    for name in ("Zahlungserinnerung", "1. Mahnung", "Letzte Mahnung", "Übergabe an Inkasso"):
        assert name in german
    assert (
        "Reminder" not in german
        and "Final notice" not in german
        and " / " not in german.split("<h1")[1][:4000]
    )
    english = client_for(accounting_user).get("/billing/dunning/").content.decode()
    assert "First reminder" in english and "Mahnung" not in english.split("<h1")[1].split("<details")[0]
    with translation.override("de"):
        assert str(DunningLevel.objects.get(level=3)) == "3: Letzte Mahnung"


def test_a_name_an_admin_entered_is_shown_as_entered(accounting_user):
    DunningLevel.objects.filter(level=2).update(name="Zweite Erinnerung (Kulanz)")
    german = client_for(accounting_user).get("/billing/dunning/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Zweite Erinnerung (Kulanz)" in german


def test_old_notice_events_get_the_key_and_render_per_reader(customer):
    invoice = make_invoice(customer, due_date=datetime.date(2026, 2, 15))
    with time_machine.travel(at(datetime.date(2026, 3, 2)), tick=False):
        services.dunning_run()
    event = TimelineEvent.objects.get(kind="dunning.notice")
    assert event.payload["level_name"] == "Friendly reminder"
    # As the notices before this change stored it: the bilingual seeded name.
    old = {**event.payload, "level_name": "Zahlungserinnerung / Friendly reminder"}
    TimelineEvent.objects.filter(pk=event.pk).update(payload=old)
    issued = TimelineEvent.objects.filter(kind="invoice.issued")  # other kinds are left alone
    issued.update(payload={**issued.get().payload, "level_name": old["level_name"]})

    MIGRATION.forward(apps, None)

    event.refresh_from_db()
    assert event.payload["level_name"] == "Friendly reminder"
    assert issued.get().payload["level_name"] == old["level_name"]
    with translation.override("de"):
        assert event.display_summary == "Zahlungserinnerung per E-Mail, Gebühr EUR 0,00"
    with translation.override("en"):
        assert event.display_summary == "Friendly reminder by e-mail, fee EUR 0.00"
    MIGRATION.backward(apps, None)
    event.refresh_from_db()
    assert event.payload["level_name"] == "Zahlungserinnerung / Friendly reminder"
    assert invoice.number in event.display_title
