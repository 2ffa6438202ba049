"""Invoices, payments and dunning (Mahnwesen).

Money is ``Decimal`` with two places, rounded ``ROUND_HALF_UP`` per line (the way an invoice
printout adds up). An invoice's totals are stored (not computed per query) so lists, panels and
conditions can aggregate them in SQL; :meth:`Invoice.recalculate_totals` keeps them in step with
the lines.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import DecimalField, ExpressionWrapper, F, Q, Sum, Value
from django.db.models.functions import Coalesce, Greatest, Length
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from customer360 import formatting
from customer360.audit.tracking import tracked
from customer360.models import Customer, ExternalRecord

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MONEY = {"max_digits": 12, "decimal_places": 2}


def money(value) -> Decimal:
    """``value`` as a Decimal rounded half-up to cents."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def format_money(amount, currency: str = "EUR", language: str = "en") -> str:
    """``EUR 1,240.00`` (English) or ``EUR 1.240,00`` (German): the one formatting path of the core."""
    with translation.override(language):
        return formatting.money(money(amount), currency)


def format_date(day: date, language: str = "en") -> str:
    """``13 Jan 2027`` (English) or ``13.01.2027`` (German): the one formatting path of the core."""
    with translation.override(language):
        return formatting.day(day)


class InvoiceQuerySet(models.QuerySet):
    def visible_to(self, user) -> InvoiceQuerySet:
        """Invoices of customers the user may see, plus the user's own drafts.

        The drafts exception exists because an accounting clerk may write the first invoice for a
        customer their department has no history with yet (no timeline event until it is issued).
        """
        condition = Q(customer__in=Customer.objects.visible_to(user))
        if user is not None and user.is_authenticated:
            condition |= Q(created_by=user, status=Invoice.Status.DRAFT)
        return self.filter(condition)

    def open(self) -> InvoiceQuerySet:
        """Issued and not yet settled or cancelled (money may still come in)."""
        return self.filter(status__in=Invoice.OPEN_STATUSES)

    def overdue_on(self, day: date) -> InvoiceQuerySet:
        return self.open().filter(due_date__lt=day)

    def with_open_amount(self) -> InvoiceQuerySet:
        return self.annotate(open_total=open_amount_expression())


def open_amount_expression() -> ExpressionWrapper:
    """SQL for what is still owed: gross + dunning fees - paid."""
    return ExpressionWrapper(
        F("gross_total") + F("fees_total") - F("paid_amount"), output_field=DecimalField(**MONEY)
    )


def open_principal_expression() -> Greatest:
    """SQL for the unpaid part of the invoices themselves, without dunning fees (payments settle
    the invoice amount first); open amount - open principal = the dunning fees still owed."""
    return Greatest(
        ExpressionWrapper(F("gross_total") - F("paid_amount"), output_field=DecimalField(**MONEY)),
        Value(ZERO),
        output_field=DecimalField(**MONEY),
    )


def sum_money(expression, filter: Q | None = None) -> Coalesce:  # noqa: A002 - the aggregate's own name
    return Coalesce(Sum(expression, filter=filter), Value(ZERO), output_field=DecimalField(**MONEY))


class PaymentRefusal(NamedTuple):
    """Why an amount cannot be booked on an invoice: a reason code, the field it concerns and what
    is still open. Services and imports word it their own way (a sentence, a column's refusal)."""

    field: str  # "status" or "amount"
    reason: str  # "cancelled", "draft", "not_positive", "paid", "more_than_open"
    open_amount: Decimal


class StateRefusal(NamedTuple):
    """Why an invoice cannot be cancelled, disputed or its dispute resolved; services and imports
    word it their own way."""

    field: str  # "status"
    reason: str  # "draft", "not_open", "has_payments", "disputed", "not_disputed"


@tracked
class Invoice(ExternalRecord):
    """A bill to a customer: lines, payments against it and its dunning state."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ISSUED = "issued", _("Issued")
        PARTIALLY_PAID = "partially_paid", _("Partially paid")
        PAID = "paid", _("Paid")
        OVERDUE = "overdue", _("Overdue")
        CANCELLED = "cancelled", _("Cancelled")
        DISPUTED = "disputed", _("Disputed")

    OPEN_STATUSES = (Status.ISSUED, Status.PARTIALLY_PAID, Status.OVERDUE, Status.DISPUTED)
    MAX_DUNNING_LEVEL = 4

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="invoices"
    )
    number = models.CharField(_("number"), max_length=20, unique=True, help_text=_("e.g. 2026-0142"))
    issue_date = models.DateField(_("issue date"), default=timezone.localdate)
    due_date = models.DateField(_("due date"))
    currency = models.CharField(_("currency"), max_length=3, default="EUR", editable=False)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT)
    net_total = models.DecimalField(_("net"), default=ZERO, editable=False, **MONEY)
    tax_total = models.DecimalField(_("tax"), default=ZERO, editable=False, **MONEY)
    gross_total = models.DecimalField(_("gross"), default=ZERO, editable=False, **MONEY)
    fees_total = models.DecimalField(_("dunning fees"), default=ZERO, editable=False, **MONEY)
    paid_amount = models.DecimalField(_("paid"), default=ZERO, editable=False, **MONEY)
    dunning_level = models.PositiveSmallIntegerField(
        _("dunning level"), default=0, validators=[MaxValueValidator(MAX_DUNNING_LEVEL)]
    )
    last_dunned_on = models.DateField(_("last dunning notice"), null=True, blank=True, editable=False)
    dunning_paused = models.BooleanField(_("dunning paused"), default=False)
    dunning_paused_until = models.DateField(_("dunning paused until"), null=True, blank=True)
    promise_to_pay_date = models.DateField(_("payment promised by"), null=True, blank=True)
    disputed = models.BooleanField(_("disputed"), default=False)
    dispute_reason = models.TextField(_("dispute reason"), blank=True)
    handed_over_at = models.DateTimeField(_("handed over to collection"), null=True, blank=True)
    cancelled_reason = models.TextField(_("cancellation reason"), blank=True)
    notes = models.TextField(_("notes"), blank=True)
    # Bumped by every action; part of the timeline idempotency key of repeatable actions
    # (pause, resume, dispute ...) so a retry of the same action never writes a second event.
    revision = models.PositiveIntegerField(_("revision"), default=0, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = InvoiceQuerySet.as_manager()

    class Meta(ExternalRecord.Meta):
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-issue_date", "-id"]
        permissions = [("manage_dunning", "Can pause, resume and run dunning")]
        indexes = [
            models.Index(fields=["customer", "status"], name="billing_inv_customer_status"),
            models.Index(fields=["status", "due_date"], name="billing_inv_status_due"),
            models.Index(fields=["dunning_level", "status"], name="billing_inv_level"),
        ]
        constraints = [
            *ExternalRecord.Meta.constraints,
            models.CheckConstraint(condition=Q(dunning_level__lte=4), name="billing_inv_level_max"),
            models.CheckConstraint(condition=Q(paid_amount__gte=0), name="billing_inv_paid_positive"),
        ]

    def __str__(self) -> str:
        return self.number

    def get_absolute_url(self) -> str:
        return reverse("billing:invoice_detail", args=[self.pk])

    # --- money -----------------------------------------------------------------------------------
    @property
    def open_amount(self) -> Decimal:
        """What the customer still owes, dunning fees included."""
        if self.status in (self.Status.DRAFT, self.Status.CANCELLED):
            return ZERO
        return money(self.gross_total + self.fees_total - self.paid_amount)

    @property
    def open_principal(self) -> Decimal:
        """The unpaid part of the invoice itself, without dunning fees (what titles quote)."""
        if self.status in (self.Status.DRAFT, self.Status.CANCELLED):
            return ZERO
        return max(money(self.gross_total - self.paid_amount), ZERO)

    @property
    def open_fees(self) -> Decimal:
        """The dunning fees still owed: open amount = open principal + open fees."""
        return max(self.open_amount - self.open_principal, ZERO)

    def recalculate_totals(self, lines=None) -> None:
        """Set net, tax and gross from the lines (each line rounded on its own)."""
        lines = list(self.lines.all()) if lines is None else lines
        self.net_total = money(sum((line.net_amount for line in lines), ZERO))
        self.tax_total = money(sum((line.tax_amount for line in lines), ZERO))
        self.gross_total = self.net_total + self.tax_total

    # --- state -----------------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    def days_overdue(self, today: date | None = None) -> int:
        today = today or timezone.localdate()
        if not self.is_open:
            return 0
        return max((today - self.due_date).days, 0)

    def pause_active(self, today: date | None = None) -> bool:
        today = today or timezone.localdate()
        return self.dunning_paused and (
            self.dunning_paused_until is None or self.dunning_paused_until >= today
        )

    def promise_active(self, today: date | None = None) -> bool:
        today = today or timezone.localdate()
        return self.promise_to_pay_date is not None and self.promise_to_pay_date >= today

    def escalation_blocked(self, today: date | None = None) -> bool:
        """Dunning waits while the invoice is disputed, paused or under an active payment promise."""
        return self.disputed or self.pause_active(today) or self.promise_active(today)

    def settled_status(self, today: date | None = None) -> str:
        """The status an issued invoice has from its money and due date alone (no dispute)."""
        today = today or timezone.localdate()
        if self.paid_amount >= self.gross_total + self.fees_total:
            return self.Status.PAID
        if self.due_date < today:
            return self.Status.OVERDUE
        if self.paid_amount > 0:
            return self.Status.PARTIALLY_PAID
        return self.Status.ISSUED

    # --- the rules of money coming in (services and imports alike) --------------------------------
    def payment_refusal(self, amount: Decimal, *, paid: Decimal | None = None) -> PaymentRefusal | None:
        """Why ``amount`` cannot be booked on this invoice, or ``None`` when it can.

        Drafts and cancelled invoices are not paid; nothing beyond what is open (fees included).
        ``paid`` is what the invoice's payments add up to, when an import books against them: an
        invoice that a file marked "paid" before its payments arrived takes them as its parts.
        """
        booked = self.paid_amount if paid is None else paid
        open_amount = max(money(self.gross_total + self.fees_total - booked), ZERO)
        if self.status == self.Status.CANCELLED:
            return PaymentRefusal("status", "cancelled", open_amount)
        if self.status == self.Status.DRAFT:
            return PaymentRefusal("status", "draft", open_amount)
        if amount <= 0:
            return PaymentRefusal("amount", "not_positive", open_amount)
        if open_amount <= 0:
            return PaymentRefusal("amount", "paid", open_amount)
        if amount > open_amount:
            return PaymentRefusal("amount", "more_than_open", open_amount)
        return None

    def apply_payment(self, amount: Decimal, today: date | None = None) -> bool:
        """Book ``amount`` (negative: a payment corrected downwards) on the paid amount and settle:
        paid in full settles the invoice and ends a dispute (nothing left to dispute or to dun);
        otherwise money and due date decide the status, unless it is disputed. Paid stays paid (an
        imported "paid" invoice may take its payments later). Returns whether it is paid in full.
        The caller checked :meth:`payment_refusal` and saves."""
        self.revision += 1
        if self.status == self.Status.PAID:
            return True
        self.paid_amount = money(self.paid_amount + amount)
        if self.paid_amount >= self.gross_total + self.fees_total:
            self.status, self.disputed = self.Status.PAID, False
            return True
        if not self.disputed:
            self.status = self.settled_status(today)
        return False

    # --- the rules of cancelling and disputing (services and imports alike) ---------------------
    # Each change bumps ``revision`` (part of the timeline key of repeatable actions); the caller
    # checked the refusal, saves, and records the event.
    def cancel_refusal(self, *, paid: Decimal | None = None) -> StateRefusal | None:
        """Why the invoice cannot be cancelled, or ``None``: a draft is deleted instead, only open
        invoices are cancelled, and only while nothing is paid on them (refunds come first).
        ``paid``: what its payments add up to, when an import books against them."""
        if self.status == self.Status.DRAFT:
            return StateRefusal("status", "draft")
        if not self.is_open:
            return StateRefusal("status", "not_open")
        if (self.paid_amount if paid is None else paid) > 0:
            return StateRefusal("status", "has_payments")
        return None

    def cancel(self, reason: str = "") -> None:
        """Cancel: nothing is owed any more, so a dispute about it ends as well."""
        self.status, self.cancelled_reason, self.disputed = self.Status.CANCELLED, reason, False
        self.revision += 1

    def dispute_refusal(self) -> StateRefusal | None:
        """Only an open invoice can be disputed, and once."""
        if not self.is_open:
            return StateRefusal("status", "not_open")
        if self.disputed:
            return StateRefusal("status", "disputed")
        return None

    def dispute(self, reason: str = "") -> None:
        """The customer contests the invoice: dunning waits until the dispute is resolved."""
        self.status, self.disputed, self.dispute_reason = self.Status.DISPUTED, True, reason.strip()
        self.revision += 1

    def resolve_dispute_refusal(self) -> StateRefusal | None:
        return None if self.disputed else StateRefusal("status", "not_disputed")

    def resolve_dispute(self, today: date | None = None) -> None:
        """End the dispute: money and due date decide the status again, dunning may continue."""
        self.disputed = False
        self.status = self.settled_status(today)
        self.revision += 1

    @staticmethod
    def next_number(year: int) -> str:
        """The next free number of the form 2026-0142 (the unique constraint guards races).

        Ordered by length first: past 9999 a year, "2026-10000" sorts before "2026-9999" as text.
        """
        prefix = f"{year}-"
        highest = (
            Invoice.objects.filter(number__startswith=prefix)
            .order_by(Length("number").desc(), "-number")
            .values_list("number", flat=True)
            .first()
        )
        suffix = highest[len(prefix) :] if highest else ""
        return f"{prefix}{int(suffix) + 1 if suffix.isdigit() else 1:04d}"


class InvoiceLine(models.Model):
    """One position of an invoice: quantity x unit price, plus tax at the line's rate."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField(_("position"), default=1)
    product_code = models.CharField(_("product code"), max_length=40, blank=True)
    description = models.CharField(_("description"), max_length=300)
    quantity = models.DecimalField(
        _("quantity"), max_digits=12, decimal_places=3, default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0.001"))],
    )  # fmt: skip
    unit_price = models.DecimalField(_("unit price"), **MONEY)
    tax_rate = models.DecimalField(
        _("tax rate %"), max_digits=5, decimal_places=2, default=Decimal("20.00"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )  # fmt: skip

    class Meta:
        verbose_name = _("invoice line")
        verbose_name_plural = _("invoice lines")
        ordering = ["invoice", "position", "id"]

    def __str__(self) -> str:
        return f"{self.invoice_id}/{self.position} {self.description}"

    @property
    def net_amount(self) -> Decimal:
        return money((self.quantity or 0) * (self.unit_price or 0))

    @property
    def tax_amount(self) -> Decimal:
        return money(self.net_amount * (self.tax_rate or 0) / Decimal(100))

    @property
    def gross_amount(self) -> Decimal:
        return self.net_amount + self.tax_amount


@tracked
class Payment(ExternalRecord):
    """Money received against an invoice; partial payments are normal."""

    class Method(models.TextChoices):
        BANK_TRANSFER = "bank_transfer", _("Bank transfer")
        DIRECT_DEBIT = "direct_debit", _("Direct debit")
        CARD = "card", _("Card")
        CASH = "cash", _("Cash")
        OTHER = "other", _("Other")

    invoice = models.ForeignKey(
        Invoice, on_delete=models.CASCADE, related_name="payments", verbose_name=_("invoice")
    )
    amount = models.DecimalField(_("amount"), validators=[MinValueValidator(CENT)], **MONEY)
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    method = models.CharField(
        _("method"), max_length=20, choices=Method.choices, default=Method.BANK_TRANSFER
    )
    reference = models.CharField(_("reference"), max_length=120, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta(ExternalRecord.Meta):
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-received_at", "-id"]
        constraints = [
            *ExternalRecord.Meta.constraints,
            # A bank reference arrives once per invoice: a re-imported statement never pays twice.
            models.UniqueConstraint(
                fields=["invoice", "reference"], condition=~Q(reference=""), name="billing_payment_reference"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id}: {self.amount}"

    def get_absolute_url(self) -> str:
        return reverse("billing:invoice_detail", args=[self.invoice_id])


class DunningChannel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    LETTER = "letter", _("Letter")


class DunningPolicy(models.Model):
    """The rules of the dunning run: which levels, after how many days, at what fee."""

    name = models.CharField(_("name"), max_length=120)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("dunning policy")
        verbose_name_plural = _("dunning policies")
        ordering = ["-is_active", "name"]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def active() -> DunningPolicy | None:
        return DunningPolicy.objects.filter(is_active=True).order_by("id").first()


# The seeded levels' names are translation keys (shown through the ``catalogue`` template filter).
SEEDED_LEVEL_NAMES = (
    gettext_noop("Friendly reminder"),
    gettext_noop("First reminder"),
    gettext_noop("Final notice"),
    gettext_noop("Hand-over to collection"),
)


class DunningLevel(models.Model):
    """One step of a policy: reminder, second reminder, final notice, hand-over to collection."""

    policy = models.ForeignKey(DunningPolicy, on_delete=models.CASCADE, related_name="levels")
    level = models.PositiveSmallIntegerField(
        _("level"), validators=[MinValueValidator(1), MaxValueValidator(Invoice.MAX_DUNNING_LEVEL)]
    )
    name = models.CharField(_("name"), max_length=120)
    days_after_due = models.PositiveSmallIntegerField(_("days after due date"))
    fee = models.DecimalField(_("fee"), default=ZERO, validators=[MinValueValidator(ZERO)], **MONEY)
    channel = models.CharField(_("channel"), max_length=10, choices=DunningChannel.choices)
    hands_over = models.BooleanField(_("hands over to collection"), default=False)
    text_de = models.TextField(_("text (German)"), help_text=_("{number} {open_amount} {due_date} {fee}"))
    text_en = models.TextField(_("text (English)"), help_text=_("{number} {open_amount} {due_date} {fee}"))

    class Meta:
        verbose_name = _("dunning level")
        verbose_name_plural = _("dunning levels")
        ordering = ["policy", "level"]
        constraints = [models.UniqueConstraint(fields=["policy", "level"], name="billing_level_unique")]

    def __str__(self) -> str:
        return f"{self.level}: {gettext(self.name)}"  # seeded levels: translation keys (SEEDED_LEVEL_NAMES)

    def render(self, invoice: Invoice, language: str) -> str:
        """The notice text in ``language`` ("de" or anything else -> English)."""
        template = self.text_de if language == "de" else self.text_en
        # One switch of the language for the three values (the demo renders one per notice).
        with translation.override(language):
            values = {
                "number": invoice.number,
                "open_amount": formatting.money(money(invoice.open_amount), invoice.currency),
                "due_date": formatting.day(invoice.due_date),
                "fee": formatting.money(money(self.fee), invoice.currency),
            }
        try:
            return template.format(**values)
        except (KeyError, IndexError, ValueError):
            # A template with an unknown placeholder must not stop the run; send it as written.
            return template


class DunningNotice(models.Model):
    """A reminder that went out (or a hand-over); every one is kept."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="notices")
    level = models.PositiveSmallIntegerField(_("level"))
    fee = models.DecimalField(_("fee"), default=ZERO, **MONEY)
    channel = models.CharField(_("channel"), max_length=10, choices=DunningChannel.choices)
    language = models.CharField(_("language"), max_length=8, default="de")
    text = models.TextField(_("text"))
    open_amount = models.DecimalField(_("open amount"), default=ZERO, **MONEY)
    sent_at = models.DateTimeField(_("sent"), default=timezone.now)
    # Set when the e-mail went out; the delivery task claims the notice by setting it first.
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)

    class Meta:
        verbose_name = _("dunning notice")
        verbose_name_plural = _("dunning notices")
        ordering = ["-sent_at", "-id"]
        # One notice per invoice and level: the claim of the escalation, enforced by the database.
        constraints = [models.UniqueConstraint(fields=["invoice", "level"], name="billing_notice_unique")]

    def __str__(self) -> str:
        return f"{self.invoice_id} level {self.level}"

    def get_absolute_url(self) -> str:
        return reverse("billing:invoice_detail", args=[self.invoice_id])
