"""The "Before your call" brief: what changed since this user's last contact, red flags, and
what not to bring up. Departments contribute items through ``registry.brief_sources``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, F, Min, Q, Subquery
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from customer360 import events
from customer360.models import Customer, Department, TimelineEvent
from customer360.registry import BriefItem, brief_sources


@dataclass
class Brief:
    since: datetime | None  # this user's last contact with the customer
    red: list[BriefItem] = field(default_factory=list)
    avoid: list[BriefItem] = field(default_factory=list)
    info: list[BriefItem] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.red or self.avoid or self.info or self.changes)


def _events_since_last_contact(customer: Customer, user) -> tuple[datetime | None, list[dict]]:
    """In ONE query: the time of this user's last contact and, per department, how many events
    came after it. The contact itself is counted in ``total`` so "no rows" means "no contact"."""
    last_contact = (
        TimelineEvent.objects.filter(customer=customer, actor=user, kind__in=events.kinds(contact=True))
        .order_by("-occurred_at", "-id")
        .values("occurred_at")[:1]
    )
    rows = list(
        TimelineEvent.objects.visible_to(user, customer=customer)
        .alias(since=Subquery(last_contact))
        .filter(occurred_at__gte=F("since"))
        .values("department")
        .annotate(n=Count("id", filter=Q(occurred_at__gt=F("since"))), first=Min("occurred_at"))
        .order_by("-n")
    )
    since = min((row["first"] for row in rows), default=None)
    return since, [row for row in rows if row["n"]]


def _changes_since(since: datetime | None, per_department: list[dict], items: list[BriefItem]) -> list[str]:
    """What happened since the last contact: the dated brief items, then counts per department."""
    if since is None:
        return []
    changes = [item.text for item in items if item.occurred_at and item.occurred_at > since]
    labels = dict(Department.choices)
    counted = [f"{labels.get(row['department'], row['department'])} {row['n']}" for row in per_department]
    if counted:
        total = sum(row["n"] for row in per_department)
        changes.append(
            ngettext(
                "%(count)d event on the timeline (%(parts)s)",
                "%(count)d events on the timeline (%(parts)s)",
                total,
            )
            % {"count": total, "parts": ", ".join(counted)}
        )
    return changes


def brief_for(customer: Customer, user) -> Brief:
    """Compose the brief from every registered source (each in a constant number of queries)."""
    since, per_department = _events_since_last_contact(customer, user)
    brief = Brief(since=since)
    for source in brief_sources.all():
        for item in source.items(customer, user):
            getattr(brief, item.level if item.level in {"red", "avoid", "info"} else "info").append(item)
    if brief.red and not any(i.level == "avoid" for i in brief.avoid):
        brief.avoid.append(
            BriefItem(level="avoid", text=_("Settle the open issues before offering anything new."))
        )
    brief.changes = _changes_since(since, per_department, brief.red + brief.info)
    return brief
