"""Sales orders and their purchase lines, and the exchange rates that turn their money into the
company's base currency (``settings.C360_BASE_CURRENCY``).

Every line keeps its amount twice: as the customer paid it (``amount``, in the order's currency)
and in the base currency (``amount_base``), converted at the latest rate on or before the order
date. A cancellation is an order of its own whose lines are negative, as the shop exports it.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models.base import CustomerRecordQuerySet
from customer360.audit.tracking import tracked
from customer360.models import Customer, ExternalRecord

CENT = Decimal("0.01")
RATE_PLACES = 8


def base_currency() -> str:
    return settings.C360_BASE_CURRENCY


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


class RateTable:
    """The rates of some currencies, read once: ``rate("GBP", day)`` is the latest rate on or
    before ``day`` (None when there is none); the base currency is always 1."""

    def __init__(self, rows) -> None:
        self._days: dict[str, list[date]] = {}
        self._rates: dict[str, list[Decimal]] = {}
        for currency, valid_from, rate in rows:  # ordered by currency, valid_from
            self._days.setdefault(currency, []).append(valid_from)
            self._rates.setdefault(currency, []).append(rate)

    def rate(self, currency: str, day: date) -> Decimal | None:
        if currency == base_currency():
            return Decimal(1)
        days = self._days.get(currency, [])
        position = bisect_right(days, day)
        return self._rates[currency][position - 1] if position else None


class ExchangeRateQuerySet(models.QuerySet):
    def table(self, currencies) -> RateTable:
        """One query for every rate of ``currencies``."""
        rows = (
            self.filter(currency__in=set(currencies))
            .order_by("currency", "valid_from")
            .values_list("currency", "valid_from", "rate")
        )
        return RateTable(rows)


@tracked
class ExchangeRate(models.Model):
    """How much one unit of ``currency`` is worth in the base currency from ``valid_from`` on
    (until the next rate of that currency). An admin maintains the table (page or CSV)."""

    currency = models.CharField(
        _("currency"),
        max_length=3,
        validators=[RegexValidator(r"^[A-Z]{3}$", _("Three capital letters (ISO 4217)."))],
    )
    valid_from = models.DateField(_("valid from"))
    rate = models.DecimalField(
        _("rate"),
        max_digits=18,
        decimal_places=RATE_PLACES,
        validators=[MinValueValidator(Decimal("0.00000001"))],
        help_text=_("Value of one unit of the currency in the base currency."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = ExchangeRateQuerySet.as_manager()

    class Meta:
        verbose_name = _("exchange rate")
        verbose_name_plural = _("exchange rates")
        ordering = ["currency", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["currency", "valid_from"], name="crm_exchangerate_currency_day")
        ]

    def __str__(self) -> str:
        return f"{self.currency} {self.valid_from}: {self.rate}"


class OrderQuerySet(CustomerRecordQuerySet):
    pass


@tracked
class Order(ExternalRecord):
    """One order (or one cancellation) of a customer, as the shop or ERP numbers it."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="orders", verbose_name=_("customer")
    )
    number = models.CharField(_("order number"), max_length=100)
    ordered_at = models.DateTimeField(_("ordered at"))
    currency = models.CharField(_("currency"), max_length=3)
    #: the rate used for ``total_base`` (1 in the base currency)
    rate = models.DecimalField(_("exchange rate"), max_digits=18, decimal_places=RATE_PLACES)
    is_cancellation = models.BooleanField(_("cancellation"), default=False)
    total = models.DecimalField(_("total"), max_digits=14, decimal_places=2, default=Decimal(0))
    # four decimals, as the lines: sums of totals equal sums of lines (rounded once, when shown)
    total_base = models.DecimalField(
        _("total in the base currency"), max_digits=16, decimal_places=4, default=Decimal(0)
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = OrderQuerySet.as_manager()

    class Meta(ExternalRecord.Meta):
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-ordered_at", "-id"]
        indexes = [models.Index(fields=["customer", "ordered_at"], name="crm_order_customer")]

    def __str__(self) -> str:
        return self.number


class OrderLine(models.Model):
    """A purchase line: product, quantity and price; negative on a cancellation. ``key`` tells the
    line apart within its order (the file's line id, or its content and occurrence)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", verbose_name=_("order"))
    key = models.CharField(_("line key"), max_length=120)
    stock_code = models.CharField(_("stock code"), max_length=60, blank=True)
    description = models.CharField(_("description"), max_length=300, blank=True)
    quantity = models.DecimalField(_("quantity"), max_digits=14, decimal_places=3)
    unit_price = models.DecimalField(_("unit price"), max_digits=14, decimal_places=4)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    # four decimals: the lines of an order sum to its converted total without a cent lost per line
    amount_base = models.DecimalField(_("amount in the base currency"), max_digits=16, decimal_places=4)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["order", "id"]
        constraints = [models.UniqueConstraint(fields=["order", "key"], name="crm_orderline_order_key")]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.stock_code or self.description}"
