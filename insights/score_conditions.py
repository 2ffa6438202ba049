"""Conditions over the scores insights publishes per action and per defined outcome.

For each active action (its propensity, ``propensity:<key>``) and each active defined outcome
(``outcome:<key>``), the core's :func:`customer360.scores.score_conditions` gives
``customer.score.<key>`` (percent) and ``customer.score_band.<key>`` for segments and NBA rules, like
churn and payment risk; one customer-list filter ("Likely to …", ``?likely=<score kind>``) picks the
customers in the high band of one of them (a number box per action would crowd the list).

Actions and outcomes are rows, created in the app at any time, so the conditions are registered
from a list every process shares through the cache: published when an action or outcome is saved or
deleted and whenever the catalogue is loaded (workers do that on every rescoring), read at the start
of each request (one cache read, no query).
"""

from __future__ import annotations

from dataclasses import replace

from django.core.cache import cache
from django.db.models import Q
from django.utils.functional import lazy
from django.utils.translation import get_language, gettext_lazy, gettext_noop
from django.utils.translation import gettext as _

from customer360.linear import negated
from customer360.registry import Condition, ListFilter, conditions
from customer360.score_models import Score, ScoreBand
from customer360.scores import outcome_kind, propensity_kind, score_conditions

SOURCES_KEY = "insights:score-conditions"
LIKELY = "customer.score_likely"
_state: dict = {"keys": set(), "sources": None}


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


def sources_of(actions, definitions) -> list[tuple[str, str, str, str, str]]:
    """(score kind, condition name, "action"/"outcome", English name, German name) of the active
    actions (not "no contact") and active defined outcomes given."""
    rows = [
        (propensity_kind(a.key), a.key, "action", a.name_en, a.name_de)
        for a in actions
        if a.is_active and not a.is_no_contact
    ]
    rows += [
        (outcome_kind(d.key), d.key, "outcome", d.name_en, d.name_de) for d in definitions if d.is_active
    ]
    return rows


def current_sources() -> list[tuple[str, str, str, str, str]]:
    from insights.models import Action, OutcomeDefinition

    return sources_of(
        Action.objects.filter(is_active=True, is_no_contact=False).order_by("order", "key"),
        OutcomeDefinition.objects.filter(is_active=True).order_by("key"),
    )


def _likely():
    def build(op: str, value) -> Q:
        hit = Q(pk__in=Score.objects.filter(kind=value, band=ScoreBand.HIGH).values("customer_id"))
        return negated(hit) if op == "ne" else hit

    return build


def publish(sources: list) -> None:
    """Share the list with every process and register it here."""
    cache.set(SOURCES_KEY, sources, None)
    register(sources)


def sync(*, force: bool = False) -> None:
    """Register the published list (one cache read); ``force``: read the actions and outcomes first."""
    if force:
        publish(current_sources())
        return
    sources = cache.get(SOURCES_KEY)
    if sources is not None:
        register(sources)


def register(sources: list) -> None:
    """Register the conditions of ``sources``, dropping those of actions and outcomes gone since."""
    sources = [tuple(row) for row in sources]
    if sources == _state["sources"]:
        return
    wanted: dict[str, Condition] = {}
    choices = []
    for kind, name, of, name_en, name_de in sources:
        templates = LABELS if of == "action" else OUTCOME_LABELS
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
    _state.update(keys=set(wanted), sources=sources)


def changed() -> None:
    """An action or outcome was saved or deleted: published at once."""
    sync(force=True)
