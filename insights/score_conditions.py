"""Conditions over the scores insights publishes per action and per defined outcome.

For each active action (its propensity, ``propensity:<key>``) and each active defined outcome
(``outcome:<key>``), the core's :func:`customer360.scores.score_conditions` gives
``customer.score.<key>`` (percent) and ``customer.score_band.<key>`` for segments and NBA rules, like
churn and payment risk; one customer-list filter ("Likely to …", ``?likely=<score kind>``) picks the
customers in the high band of one of them (a number box per action would crowd the list).

Actions and outcomes are rows, created in the app at any time, so the conditions are (re)registered
from them: at once in the process that saved one, and elsewhere within ``MAX_AGE`` seconds or when the
shared stamp changes (checked once per request and per catalogue load, no query unless it changed).
"""

from __future__ import annotations

import time
from dataclasses import replace

from django.core.cache import cache
from django.db import DatabaseError
from django.db.models import Q
from django.utils.functional import lazy
from django.utils.translation import get_language, gettext_lazy, gettext_noop
from django.utils.translation import gettext as _

from customer360.registry import Condition, ListFilter, conditions
from customer360.score_models import Score, ScoreBand
from customer360.scores import outcome_kind, propensity_kind, score_conditions

STAMP_KEY = "insights:score-conditions-stamp"
MAX_AGE = 60.0
LIKELY = "customer.score_likely"
_state: dict = {"keys": set(), "stamp": None, "at": float("-inf")}


def _named(template: str, name_en: str, name_de: str):
    """A label in the reader's language, naming the action or outcome in it."""

    def text() -> str:
        name = name_de if (get_language() or "en").startswith("de") and name_de else name_en
        return _(template) % {"name": name}

    return lazy(text, str)()


# The templates, marked for translation (``_named`` translates them when a label is shown).
LABELS = (
    gettext_noop("Propensity: %(name)s (%%)"),
    gettext_noop("Propensity band: %(name)s"),
    gettext_noop("Propensity at least (%%): %(name)s"),
)
OUTCOME_LABELS = (
    gettext_noop("Learned: %(name)s (%%)"),
    gettext_noop("Learned band: %(name)s"),
    gettext_noop("Learned at least (%%): %(name)s"),
)


def _sources() -> list[tuple[str, str, tuple, str, str]]:
    """(score kind, condition name, label templates, English name, German name) of every active
    action (not "no contact") and every active defined outcome."""
    from insights.models import Action, OutcomeDefinition

    rows = [
        (propensity_kind(a.key), a.key, LABELS, a.name_en, a.name_de)
        for a in Action.objects.filter(is_active=True, is_no_contact=False).order_by("order", "key")
    ]
    rows += [
        (outcome_kind(d.key), d.key, OUTCOME_LABELS, d.name_en, d.name_de)
        for d in OutcomeDefinition.objects.filter(is_active=True).order_by("key")
    ]
    return rows


def _likely():
    def build(op: str, value) -> Q:
        hit = Q(pk__in=Score.objects.filter(kind=value, band=ScoreBand.HIGH).values("customer_id"))
        return ~hit if op == "ne" else hit

    return build


def sync(*, force: bool = False) -> None:
    """Register the conditions of today's actions and outcomes, dropping those of removed ones."""
    stamp = cache.get(STAMP_KEY)
    if not force and stamp == _state["stamp"] and time.monotonic() - _state["at"] < MAX_AGE:
        return
    try:
        sources = _sources()
    except DatabaseError:  # before the first migration, or the database is away: keep what we have
        return
    wanted: dict[str, Condition] = {}
    choices = []
    for kind, name, templates, name_en, name_de in sources:
        labels = tuple(_named(template, name_en, name_de) for template in templates)
        for condition in score_conditions(kind, name, labels, param=f"likely_{name}", order=13):
            wanted[condition.key] = replace(condition, list_filter=None)
        choices.append((kind, _named("%(name)s", name_en, name_de)))  # the name alone
    if choices:
        wanted[LIKELY] = Condition(
            LIKELY,
            gettext_lazy("Likely (high band) to"),
            "system",
            "choice",
            _likely(),
            ("eq", "ne"),
            choices=tuple(choices),
            order=13,
            list_filter=ListFilter(
                param="likely", op="eq", label=gettext_lazy("Likely to"), choices=lambda c=tuple(choices): c
            ),
        )
    for key in _state["keys"] - set(wanted):
        conditions.items.pop(key, None)
    for condition in wanted.values():
        conditions.register(condition)
    _state.update(keys=set(wanted), stamp=stamp, at=time.monotonic())


def changed() -> None:
    """An action or outcome was saved or deleted: this process re-registers now, the others soon."""
    cache.set(STAMP_KEY, time.time_ns(), None)
    sync(force=True)
