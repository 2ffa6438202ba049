"""Billing workflows: everything that changes an invoice's state and writes the timeline.

Every action locks the invoice (``select_for_update``), checks the transition, writes its own rows
and exactly one timeline event inside one transaction, and raises ``ValidationError`` naming the
field and the reason when the transition is not allowed, so nothing is half-written.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from billing import dunning_care, events
from billing.models import (
    DunningLevel,
    DunningNotice,
    DunningPolicy,
    Invoice,
    InvoiceLine,
    Payment,
    StateRefusal,
    format_money,
    money,
)
from customer360 import timeline
from customer360.events import EventKind
from customer360.models import Customer

logger = logging.getLogger(__name__)
Status = Invoice.Status


def _amount(invoice: Invoice, amount: Decimal) -> str:
    return format_money(amount, invoice.currency)


def _locked(invoice: Invoice | int) -> Invoice:
    pk = invoice.pk if isinstance(invoice, Invoice) else invoice
    return Invoice.objects.select_for_update().select_related("customer").get(pk=pk)


def _record(
    invoice: Invoice, kind: EventKind, *, key: tuple, actor=None, values: dict | None = None, **extra
):
    """The one timeline event of an invoice action, built by its declaration (billing.events)."""
    return kind.record(
        customer=invoice.customer_id,
        key=timeline.idempotency_key(*key),
        payload=kind.payload(**events.invoice_fields(invoice), **(values or {})),
        actor=actor,
        actor_label="" if actor else gettext_noop("Billing"),  # a translation key
        source=invoice,
        **extra,
    )


def _bump(invoice: Invoice) -> int:
    invoice.revision += 1
    return invoice.revision


def _require_open(invoice: Invoice, action: str) -> None:
    if not invoice.is_open:
        raise ValidationError(
            {
                "status": _("Invoice %(number)s is %(status)s; only open invoices can be %(action)s.")
                % {"number": invoice.number, "status": invoice.get_status_display().lower(), "action": action}
            }
        )


def payment_received_values(invoice: Invoice, payment: Payment) -> dict:
    """The payload of ``payment.received`` after ``payment`` was applied to ``invoice`` (services,
    imports and demo data alike)."""
    return {
        "payment_id": payment.pk,
        "amount": payment.amount,
        "open_amount": invoice.open_amount,
        "paid_in_full": invoice.status == Status.PAID,
        "dunning_level": invoice.dunning_level,
    }


def _check_payment(invoice: Invoice, amount: Decimal) -> None:
    """The invoice's payment rule (:meth:`Invoice.payment_refusal`) as the services' sentence."""
    refusal = invoice.payment_refusal(amount)
    if refusal is None:
        return
    values = {"number": invoice.number, "amount": _amount(invoice, amount)}
    messages = {
        "cancelled": _("Invoice %(number)s is cancelled; a cancelled invoice cannot be paid."),
        "draft": _("Invoice %(number)s is a draft; issue it before booking payments."),
        "not_positive": _("The amount must be positive."),
        "paid": _("Invoice %(number)s is already paid in full."),
        "more_than_open": _("%(amount)s is more than the open amount of %(open)s."),
    }
    values["open"] = _amount(invoice, refusal.open_amount)
    raise ValidationError({refusal.field: messages[refusal.reason] % values})


# --- invoices ------------------------------------------------------------------------------------
def _line_objects(lines: Iterable[dict]) -> list[InvoiceLine]:
    objects = []
    for position, data in enumerate(lines, start=1):
        try:
            quantity = Decimal(str(data.get("quantity", 1)))
            unit_price = money(str(data["unit_price"]))
            tax_rate = Decimal(str(data.get("tax_rate", "20.00")))
        except (KeyError, InvalidOperation) as exc:
            raise ValidationError(
                {
                    "lines": _("Line %(n)s: quantity, unit price and tax rate must be numbers.")
                    % {"n": position}
                }
            ) from exc
        if quantity <= 0:
            raise ValidationError(
                {"lines": _("Line %(n)s: the quantity must be positive.") % {"n": position}}
            )
        if not (0 <= tax_rate <= 100):
            raise ValidationError(
                {"lines": _("Line %(n)s: the tax rate must be between 0 and 100.") % {"n": position}}
            )
        if not str(data.get("description", "")).strip():
            raise ValidationError({"lines": _("Line %(n)s: a description is required.") % {"n": position}})
        objects.append(
            InvoiceLine(
                position=position,
                product_code=str(data.get("product_code", ""))[:40],
                description=str(data["description"])[:300],
                quantity=quantity,
                unit_price=unit_price,
                tax_rate=tax_rate,
            )
        )
    if not objects:
        raise ValidationError({"lines": _("An invoice needs at least one line.")})
    return objects


@transaction.atomic
def invoice_create(
    *,
    customer: Customer,
    due_date: date,
    lines: Iterable[dict],
    issue_date: date | None = None,
    number: str = "",
    notes: str = "",
    actor=None,
) -> Invoice:
    """A draft invoice with its lines; totals computed from the lines. No timeline event yet."""
    issue_date = issue_date or timezone.localdate()
    if due_date < issue_date:
        raise ValidationError({"due_date": _("The due date cannot be before the issue date.")})
    objects = _line_objects(lines)
    number = number or Invoice.next_number(issue_date.year)
    if Invoice.objects.filter(number=number).exists():
        raise ValidationError({"number": _("Invoice number %(number)s is taken.") % {"number": number}})
    invoice = Invoice(
        customer=customer,
        number=number,
        issue_date=issue_date,
        due_date=due_date,
        notes=notes,
        created_by=actor,
    )
    invoice.recalculate_totals(objects)
    invoice.save()
    for line in objects:
        line.invoice = invoice
    InvoiceLine.objects.bulk_create(objects)
    return invoice


@transaction.atomic
def invoice_update_draft(
    *,
    invoice: Invoice,
    due_date: date,
    lines: Iterable[dict],
    issue_date: date | None = None,
    notes: str = "",
) -> Invoice:
    """Replace a draft's dates and lines (issued invoices are never edited, they are cancelled)."""
    invoice = _locked(invoice)
    if invoice.status != Status.DRAFT:
        raise ValidationError({"status": _("Only drafts can be edited; cancel an issued invoice instead.")})
    issue_date = issue_date or invoice.issue_date
    if due_date < issue_date:
        raise ValidationError({"due_date": _("The due date cannot be before the issue date.")})
    objects = _line_objects(lines)
    invoice.lines.all().delete()
    for line in objects:
        line.invoice = invoice
    InvoiceLine.objects.bulk_create(objects)
    invoice.issue_date, invoice.due_date, invoice.notes = issue_date, due_date, notes
    invoice.recalculate_totals(objects)
    invoice.save()
    return invoice


@transaction.atomic
def invoice_issue(*, invoice: Invoice, actor=None) -> Invoice:
    """Send a draft: it becomes owed (event ``invoice.issued``)."""
    invoice = _locked(invoice)
    if invoice.status != Status.DRAFT:
        raise ValidationError(
            {"status": _("Invoice %(number)s has already been issued.") % {"number": invoice.number}}
        )
    invoice.recalculate_totals()
    if invoice.gross_total <= 0:
        raise ValidationError(
            {"lines": _("An invoice needs lines with a positive total before it is issued.")}
        )
    invoice.status = Status.ISSUED
    _bump(invoice)
    invoice.save()
    _record(
        invoice,
        events.INVOICE_ISSUED,
        key=("billing.invoice", invoice.pk, "issued"),
        actor=actor,
        values={"amount": invoice.gross_total, "due_date": invoice.due_date},
    )
    return invoice


@transaction.atomic
def invoice_record_payment(
    *,
    invoice: Invoice,
    amount: Decimal,
    received_at: datetime | None = None,
    method: str = Payment.Method.BANK_TRANSFER,
    reference: str = "",
    actor=None,
) -> Payment:
    """Book money received. A full payment settles the invoice and closes its dunning case.

    One event per payment (``payment.received``); its title says when the invoice is paid in full.
    A payment whose reference was already booked on this invoice is returned unchanged (retries).
    """
    invoice = _locked(invoice)
    try:
        amount = money(str(amount))
    except InvalidOperation as exc:
        raise ValidationError({"amount": _("Enter an amount such as 1240.00.")}) from exc
    reference = (reference or "").strip()
    if reference:
        existing = invoice.payments.filter(reference=reference).first()
        if existing is not None:
            return existing
    _check_payment(invoice, amount)
    payment = Payment.objects.create(
        invoice=invoice,
        amount=amount,
        received_at=received_at or timezone.now(),
        method=method,
        reference=reference,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    invoice.apply_payment(amount)
    invoice.save()
    _record(
        invoice,
        events.PAYMENT_RECEIVED,
        key=("billing.payment", payment.pk, "received"),
        actor=actor,
        occurred_at=payment.received_at,
        values=payment_received_values(invoice, payment),
    )
    return payment


def _refuse(invoice: Invoice, refusal: StateRefusal | None, action: str = "") -> None:
    """The invoice's refusal (:class:`billing.models.StateRefusal`) as the services' sentence."""
    if refusal is None:
        return
    if refusal.reason == "not_open":
        _require_open(invoice, action)
    values = {"number": invoice.number, "paid": _amount(invoice, invoice.paid_amount)}
    messages = {
        "draft": _("A draft is not cancelled; delete it instead."),
        "has_payments": _("Invoice %(number)s has payments of %(paid)s; refund them before cancelling."),
        "disputed": _("Invoice %(number)s is already disputed."),
        "not_disputed": _("Invoice %(number)s is not disputed."),
    }
    raise ValidationError({refusal.field: messages[refusal.reason] % values})


@transaction.atomic
def invoice_cancel(*, invoice: Invoice, reason: str = "", actor=None) -> Invoice:
    """Cancel an issued invoice that nothing has been paid on (event ``invoice.cancelled``)."""
    invoice = _locked(invoice)
    _refuse(invoice, invoice.cancel_refusal(), _("cancelled"))
    invoice.cancel(reason)
    invoice.save()
    _record(
        invoice,
        events.INVOICE_CANCELLED,
        summary=reason,
        key=("billing.invoice", invoice.pk, "cancelled", invoice.revision),
        actor=actor,
    )
    return invoice


@transaction.atomic
def invoice_dispute(*, invoice: Invoice, reason: str, actor=None) -> Invoice:
    """The customer contests the invoice: dunning stops until the dispute is resolved."""
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Say what the customer disputes.")})
    invoice = _locked(invoice)
    _refuse(invoice, invoice.dispute_refusal(), _("disputed"))
    invoice.dispute(reason)
    invoice.save()
    _record(
        invoice,
        events.INVOICE_DISPUTED,
        summary=invoice.dispute_reason,
        key=("billing.invoice", invoice.pk, "disputed", invoice.revision),
        actor=actor,
    )
    return invoice


@transaction.atomic
def invoice_resolve_dispute(
    *, invoice: Invoice, note: str = "", actor=None, today: date | None = None
) -> Invoice:
    """End a dispute: the invoice goes back to its money-and-date status and dunning may continue."""
    invoice = _locked(invoice)
    _refuse(invoice, invoice.resolve_dispute_refusal())
    invoice.resolve_dispute(today)
    invoice.save()
    _record(
        invoice,
        events.INVOICE_DISPUTE_RESOLVED,
        summary=note,
        key=("billing.invoice", invoice.pk, "dispute_resolved", invoice.revision),
        actor=actor,
    )
    return invoice


@transaction.atomic
def invoice_promise_payment(
    *, invoice: Invoice, promised_date: date, note: str = "", actor=None, today: date | None = None
) -> Invoice:
    """The customer promised to pay by a date: no escalation until that date has passed."""
    today = today or timezone.localdate()
    if promised_date is None or promised_date < today:
        raise ValidationError({"promised_date": _("The promised date cannot be in the past.")})
    invoice = _locked(invoice)
    _require_open(invoice, _("promised"))
    invoice.promise_to_pay_date = promised_date
    revision = _bump(invoice)
    invoice.save()
    _record(
        invoice,
        events.PAYMENT_PROMISED,
        summary=note,
        key=("billing.invoice", invoice.pk, "promised", revision),
        actor=actor,
        values={"promised_date": promised_date, "open_amount": invoice.open_amount},
    )
    return invoice


@transaction.atomic
def dunning_pause(
    *, invoice: Invoice, until: date | None = None, reason: str = "", actor=None, today: date | None = None
) -> Invoice:
    """Stop escalation of one invoice, until a date or until resumed."""
    today = today or timezone.localdate()
    if until is not None and until < today:
        raise ValidationError({"until": _("The pause cannot end in the past.")})
    invoice = _locked(invoice)
    _require_open(invoice, _("paused"))
    if invoice.pause_active(today) and invoice.dunning_paused_until == until:
        return invoice  # already paused exactly so: a retry, nothing to record
    invoice.dunning_paused, invoice.dunning_paused_until = True, until
    revision = _bump(invoice)
    invoice.save()
    _record(
        invoice,
        events.DUNNING_PAUSED,
        summary=reason,
        key=("billing.invoice", invoice.pk, "dunning_paused", revision),
        actor=actor,
        values={"until": until, "level": invoice.dunning_level},
    )
    return invoice


@transaction.atomic
def dunning_resume(*, invoice: Invoice, actor=None) -> Invoice:
    """Let the dunning run escalate the invoice again."""
    invoice = _locked(invoice)
    if not invoice.dunning_paused:
        raise ValidationError(
            {"status": _("Dunning of invoice %(number)s is not paused.") % {"number": invoice.number}}
        )
    invoice.dunning_paused, invoice.dunning_paused_until = False, None
    revision = _bump(invoice)
    invoice.save()
    _record(
        invoice,
        events.DUNNING_RESUMED,
        key=("billing.invoice", invoice.pk, "dunning_resumed", revision),
        actor=actor,
        values={"level": invoice.dunning_level},
    )
    return invoice


# --- the daily dunning run -----------------------------------------------------------------------
def notice_values(invoice: Invoice, level: DunningLevel, *, days_overdue: int, decision=None) -> dict:
    """The payload of a dunning notice's event, after its fee was charged to ``invoice``: the text
    quotes the open principal and names the fee apart (services and demo data alike); with a
    ``decision`` (billing.dunning_care) the fee charged and why the step was taken so."""
    return {
        "level": level.level,
        "amount": invoice.open_principal,
        "open_amount": invoice.open_amount,
        "fee": decision.fee if decision else level.fee,
        "level_name": level.name,
        "notice_channel": level.channel,
        "days_overdue": days_overdue,
        **(decision.payload() if decision else {}),
    }


@dataclass
class DunningRunResult:
    """What one run did: invoices newly marked overdue and notices per level."""

    day: date
    marked_overdue: int = 0
    notices: dict[int, int] = field(default_factory=dict)
    notice_ids: list[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.notices.values())

    def as_dict(self) -> dict:
        return {
            "date": self.day.isoformat(),
            "marked_overdue": self.marked_overdue,
            "notices": {str(k): v for k, v in sorted(self.notices.items())},
            "total": self.total,
        }


def escalation_candidates(level: DunningLevel, today: date):
    """Overdue invoices one level below ``level`` whose threshold day has come and nothing blocks."""
    threshold = today - timedelta(days=level.days_after_due)
    return (
        Invoice.objects.filter(
            status=Status.OVERDUE, dunning_level=level.level - 1, due_date__lte=threshold, disputed=False
        )
        .exclude(last_dunned_on=today)
        .exclude(
            Q(dunning_paused=True)
            & (Q(dunning_paused_until__isnull=True) | Q(dunning_paused_until__gte=today))
        )
        .exclude(promise_to_pay_date__gte=today)
    )


def dunning_run(*, today: date | None = None) -> DunningRunResult:
    """The daily run: mark issued invoices past due as overdue, then escalate each overdue invoice
    by at most ONE level whose day threshold is reached. Running it twice on a day changes nothing."""
    today = today or timezone.localdate()
    result = DunningRunResult(day=today)
    result.marked_overdue = Invoice.objects.filter(
        status__in=(Status.ISSUED, Status.PARTIALLY_PAID), due_date__lt=today
    ).update(status=Status.OVERDUE, updated_at=timezone.now())
    policy = DunningPolicy.active()
    if policy is None:
        logger.warning("dunning run: no active policy")
        return result
    early = dunning_care.early_reminders(today=today)
    if early:
        result.notices[dunning_care.EARLY_LEVEL] = len(early)
        result.notice_ids.extend(early)
    for level in policy.levels.order_by("level"):
        ids = list(escalation_candidates(level, today).order_by("id").values_list("id", flat=True))
        for invoice_id in ids:
            notice = dunning_escalate(invoice_id=invoice_id, level=level, today=today)
            if notice is not None:
                result.notices[level.level] = result.notices.get(level.level, 0) + 1
                result.notice_ids.append(notice.pk)
    logger.info("dunning run %s: %s", today, result.as_dict())
    return result


@transaction.atomic
def dunning_escalate(*, invoice_id: int, level: DunningLevel, today: date) -> DunningNotice | None:
    """Raise one invoice to ``level``: notice, fee, one timeline event. ``None`` when another run
    got there first or the invoice no longer qualifies. The customer's learned payment risk decides
    the fee and the tone (billing.dunning_care); the event says which and why."""
    decision = dunning_care.decision_for(invoice_id=invoice_id, level=level, today=today)
    # The conditional update claims the escalation; a second run (or a parallel one) updates 0 rows.
    claimed = (
        escalation_candidates(level, today)
        .filter(pk=invoice_id)
        .update(
            dunning_level=level.level,
            last_dunned_on=today,
            fees_total=F("fees_total") + decision.fee,
            revision=F("revision") + 1,
            updated_at=timezone.now(),
        )
    )
    if not claimed:
        return None
    invoice = _locked(invoice_id)
    language = invoice.customer.preferred_language or "de"
    # The text quotes what was owed before this fee and names the fee separately.
    before = Invoice(number=invoice.number, currency=invoice.currency, due_date=invoice.due_date,
                     status=invoice.status, gross_total=invoice.gross_total,
                     fees_total=invoice.fees_total - decision.fee, paid_amount=invoice.paid_amount)  # fmt: skip
    now = timezone.now()
    if level.hands_over:
        invoice.handed_over_at = now
        invoice.save(update_fields=["handed_over_at"])
    try:
        with transaction.atomic():
            notice = DunningNotice.objects.create(
                invoice=invoice,
                level=level.level,
                fee=decision.fee,
                channel=level.channel,
                language=language,
                text=dunning_care.notice_text(level, before, decision, language),
                open_amount=before.open_amount,
                sent_at=now,
            )
    except IntegrityError:
        # A notice for this level exists (e.g. the level was lowered by hand): undo the claim.
        transaction.set_rollback(True)
        return None
    _record(
        invoice,
        events.DUNNING_HANDED_OVER if level.hands_over else events.DUNNING_NOTICE,
        key=("billing.invoice", invoice.pk, "overdue", level.level),
        channel=level.channel,
        occurred_at=now,
        values=notice_values(invoice, level, days_overdue=invoice.days_overdue(today), decision=decision),
    )
    return notice
