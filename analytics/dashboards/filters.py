"""The filters every dashboard shares: period, team or owner, segment, country.

``owner`` means the person responsible for the record a chart counts: the deal's owner, the
ticket's assignee, otherwise the customer's owner. ``segment`` is the customer's segment
(``Customer.attributes["segment"]``, e.g. SME / Enterprise / Private).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from analytics.periods import months_between, period_bounds
from customer360.forms import DateInput
from customer360.models import StaffProfile

PERIODS = [
    ("30d", _("Last 30 days")),
    ("90d", _("Last 90 days")),
    ("12m", _("Last 12 months")),
    ("ytd", _("Year to date")),
    ("custom", _("Custom")),
]
DEFAULT_PERIOD = "12m"
INVERTED = "inverted_range"  # the error code of a custom range that ends before it starts


@dataclass(frozen=True)
class Filters:
    """Parsed, validated filter values; ``start`` and ``end`` are inclusive local dates."""

    start: date
    end: date
    period: str = DEFAULT_PERIOD
    owner: int | None = None
    team: str = ""
    segment: str = ""
    country: str = ""
    today: date = field(default_factory=timezone.localdate)

    # --- time ----------------------------------------------------------------------------------
    @property
    def start_at(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.start, time.min))

    @property
    def end_at(self) -> datetime:
        """The first moment after the period (exclusive bound)."""
        return timezone.make_aware(datetime.combine(self.end + timedelta(days=1), time.min))

    def in_period(self, field_name: str) -> Q:
        """``field_name`` (a datetime) inside the period, as an index-friendly range."""
        return Q(**{f"{field_name}__gte": self.start_at, f"{field_name}__lt": self.end_at})

    def in_period_dates(self, field_name: str) -> Q:
        return Q(**{f"{field_name}__gte": self.start, f"{field_name}__lte": self.end})

    @property
    def months(self) -> list[date]:
        return months_between(self.start, self.end)

    # --- people and customers ------------------------------------------------------------------
    def owner_q(self, owner_field: str) -> Q:
        condition = Q()
        if self.owner:
            condition &= Q(**{owner_field: self.owner})
        if self.team:
            condition &= Q(**{f"{owner_field}__in": team_members(self.team)})
        return condition

    def customer_q(self, prefix: str = "customer__") -> Q:
        """Country and segment of the customer (``prefix`` "" when the query is over Customer)."""
        condition = Q()
        if self.country:
            condition &= Q(**{f"{prefix}country": self.country})
        if self.segment:
            condition &= Q(**{f"{prefix}attributes__segment": self.segment})
        return condition

    def scope(self, *, customer_prefix: str = "customer__", owner_field: str | None = None) -> Q:
        """All people/customer filters for a query; ``owner_field`` defaults to the customer's owner."""
        return self.customer_q(customer_prefix) & self.owner_q(owner_field or f"{customer_prefix}owner")

    def rollup_q(self) -> Q:
        """The same filters over ``DailyRollup`` dimensions."""
        condition = Q()
        if self.owner:
            condition &= Q(owner_id=self.owner)
        if self.team:
            condition &= Q(owner_id__in=list(team_members(self.team)))
        if self.country:
            condition &= Q(country=self.country)
        if self.segment:
            condition &= Q(segment=self.segment)
        return condition

    # --- URLs ----------------------------------------------------------------------------------
    def params(self) -> dict[str, str]:
        values = {"period": self.period}
        if self.period == "custom":
            values.update(start=self.start.isoformat(), end=self.end.isoformat())
        for name in ("owner", "team", "segment", "country"):
            value = getattr(self, name)
            if value:
                values[name] = str(value)
        return values

    def querystring(self, **extra) -> str:
        return urlencode({**self.params(), **{k: v for k, v in extra.items() if v not in (None, "")}})

    def with_period(self, start: date, end: date) -> Filters:
        return replace(self, start=start, end=end, period="custom")


def team_members(team: str):
    return StaffProfile.objects.filter(team=team).values_list("user_id", flat=True)


class FilterForm(forms.Form):
    """The filter bar. Choices are loaded once per request (two small queries)."""

    period = forms.ChoiceField(label=_("Period"), choices=PERIODS, required=False, initial=DEFAULT_PERIOD)
    start = forms.DateField(label=_("From"), required=False, widget=DateInput())
    end = forms.DateField(
        label=pgettext_lazy("end of a period", "To"),
        required=False,
        widget=DateInput(),
    )
    team = forms.ChoiceField(label=_("Team"), required=False)
    owner = forms.TypedChoiceField(label=_("Owner"), coerce=int, required=False, empty_value=None)
    segment = forms.ChoiceField(label=_("Segment"), required=False)
    country = forms.ChoiceField(label=_("Country"), required=False)

    SEGMENTS = [gettext_noop("Private"), gettext_noop("SME"), gettext_noop("Enterprise")]  # stored values

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        users = (
            get_user_model()
            .objects.filter(is_active=True, groups__name__in=["Sales", "Service", "Manager"])
            .distinct()
            .order_by("username")
            .values_list("id", "username", "first_name", "last_name")
        )
        everyone = [("", _("Everyone"))]
        self.fields["owner"].choices = everyone + [
            (pk, f"{first} {last}".strip() or name) for pk, name, first, last in users
        ]
        teams = (
            StaffProfile.objects.exclude(team="").values_list("team", flat=True).distinct().order_by("team")
        )
        # Team and segment names are stored values; the seeded ones are translation keys.
        self.fields["team"].choices = [("", _("All teams"))] + [(t, gettext(t)) for t in teams]
        self.fields["segment"].choices = [("", _("All segments"))] + [(s, gettext(s)) for s in self.SEGMENTS]
        self.fields["country"].choices = [("", _("All countries"))] + [
            (c, c) for c in ("AT", "DE", "CH", "GB", "IT")
        ]

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if data.get("period") == "custom" and start and end and start > end:
            # Refused with a message, not silently replaced by the default period.
            self.add_error(
                "end",
                ValidationError(
                    _(
                        "The end date (%(end)s) is before the start date (%(start)s); choose a later end date."
                    ),
                    code=INVERTED,
                    params={"start": start.isoformat(), "end": end.isoformat()},
                ),
            )
        return data

    def filters(self, today: date | None = None) -> Filters:
        """The valid filters; invalid values fall back to their defaults (a dashboard always renders,
        and the form carries the error that the filter bar shows)."""
        today = today or timezone.localdate()
        # Valid fields are kept even when another one is invalid (cleaned_data holds them).
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        period = data.get("period") or DEFAULT_PERIOD
        if period == "custom" and data.get("start") and data.get("end") and data["start"] <= data["end"]:
            start, end = data["start"], data["end"]
        else:
            period = DEFAULT_PERIOD if period == "custom" else period
            start, end = period_bounds(period, today)
        return Filters(
            start=start,
            end=end,
            period=period,
            owner=data.get("owner"),
            team=data.get("team") or "",
            segment=data.get("segment") or "",
            country=data.get("country") or "",
            today=today,
        )


def inverted_range(form: FilterForm) -> bool:
    return form.has_error("end", code=INVERTED)


def parse_filters(query, today: date | None = None) -> tuple[Filters, FilterForm]:
    form = FilterForm(query or None)
    return form.filters(today), form


def customers_q(filters: Filters) -> Q:
    """Filters over ``Customer`` itself (owner is the customer's owner)."""
    return filters.scope(customer_prefix="", owner_field="owner")
