"""Facts marketing offers to segments, NBA rules and filters (registered in ``panels.py``):
consent, engagement, unsubscribes and segment membership. The customer's own fields (customer.*)
belong to the core (customer360.conditions), which also compiles the rules.
"""

from __future__ import annotations

import operator
from datetime import timedelta

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from customer360.linear import any_of, negated, without_rows
from customer360.registry import Condition, ListFilter, compare, conditions
from marketing.models import Consent, ConsentChannel, Purpose, Segment, Touch

NUMBER_OPS = ("eq", "ne", "gt", "gte", "lt", "lte")
ZERO_TESTS = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def _holds_for_zero(op: str, value: int) -> bool:
    return ZERO_TESTS[op](0, value)


def count_condition(touches, op: str, value: int) -> Q:
    """``Q`` for "number of ``touches`` per customer <op> value", customers without any count as 0.

    Customers with no rows are absent from the grouped subquery, so when 0 satisfies the
    comparison we select everybody except those whose count does NOT satisfy it.
    """
    counted = touches.values("customer_id").annotate(n=Count("id"))
    if _holds_for_zero(op, value):
        return without_rows(
            touches.values("customer_id").annotate(n=Count("id")).exclude(compare("n", op, value))
        )
    return Q(pk__in=counted.filter(compare("n", op, value)).values("customer_id"))


def _touches_since(status: str, days: int):
    return Touch.objects.filter(status=status, occurred_at__gte=timezone.now() - timedelta(days=days))


def _consent(op: str, value: str) -> Q:
    channel, purpose = value.split("/", 1)
    allowed = Q(
        pk__in=Consent.objects.active().filter(channel=channel, purpose=purpose).values("customer_id")
    )
    return negated(allowed) if op == "ne" else allowed


def _segment_choices() -> list[tuple[int, str]]:
    """Segments by name for the customer list's picker (the filter still takes the id)."""
    return list(Segment.objects.order_by("name", "id").values_list("pk", "name"))


def _in_segment(op: str, value: int, depth: int = 1) -> Q:
    segment = Segment.objects.filter(pk=value).first()
    if segment is None:
        raise ValueError(_("no segment with id %(id)s") % {"id": value})
    members = segment.members(depth=depth)
    inside = Q(pk__in=members.values("pk"))
    return negated(inside) if op == "ne" else inside


_in_segment.takes_depth = True  # type: ignore[attr-defined]


def _unsubscribed_recently(op: str, value: bool) -> Q:
    withdrawn = Consent.objects.filter(
        status=Consent.Status.WITHDRAWN, withdrawn_at__gte=timezone.now() - timedelta(days=30)
    )
    recent = any_of(
        [
            Q(pk__in=_touches_since(Touch.Status.UNSUBSCRIBED, 30).values("customer_id")),
            Q(pk__in=withdrawn.values("customer_id")),
        ]
    )
    return recent if value else negated(recent)


CONSENT_CHOICES = tuple(
    (f"{channel}/{purpose}", format_lazy("{} {}", channel_label, purpose_label))
    for channel, channel_label in ConsentChannel.choices
    for purpose, purpose_label in Purpose.choices
)


def register() -> None:
    """Register marketing's own facts with the core (the customer.* fields are the core's)."""
    conditions.register(
        Condition(
            key="marketing.consent",
            label=_("Consent (channel/purpose)"),
            department="marketing",
            value_type="choice",
            choices=CONSENT_CHOICES,
            operators=("eq", "ne"),
            build=_consent,
            order=50,
        )
    )
    for key, label, status, days in [
        ("marketing.clicks_30d", _("Clicks in the last 30 days"), Touch.Status.CLICKED, 30),
        ("marketing.opens_90d", _("Opens in the last 90 days"), Touch.Status.OPENED, 90),
        ("marketing.conversions_90d", _("Conversions in the last 90 days"), Touch.Status.CONVERTED, 90),
    ]:
        conditions.register(
            Condition(
                key=key,
                label=label,
                department="marketing",
                value_type="int",
                operators=NUMBER_OPS,
                build=lambda op, value, status=status, days=days: count_condition(
                    _touches_since(status, days), op, value
                ),
                order=51,
            )
        )
    conditions.register(
        Condition(
            key="marketing.unsubscribed_recently",
            label=_("Unsubscribed in the last 30 days"),
            department="marketing",
            value_type="bool",
            build=_unsubscribed_recently,
            order=52,
        )
    )
    conditions.register(
        Condition(
            key="marketing.in_segment",
            label=_("Member of segment (id)"),
            department="marketing",
            value_type="int",
            operators=("eq", "ne"),
            build=_in_segment,
            order=53,
            list_filter=ListFilter("segment", "eq", _("Segment"), choices=_segment_choices),
        )
    )
