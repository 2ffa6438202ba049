"""Demo invoices, payments and dunning notices by persona, in bulk (100k customers in seconds).

loyal/ordinary/newsletter_reader/complainer: regular invoices paid on time (now and then in two
parts); late_payer: invoices paid late after reminders and open ones at dunning levels 1-3, some
partly paid; churner: the last invoice cancelled or handed over to collection; gruber: invoice
2026-0142 23 days overdue at level 2 (fee EUR 10) and older paid ones; prospect: nothing.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db.models import Max

from billing import events as billing_events
from billing.models import ZERO, DunningNotice, DunningPolicy, Invoice, InvoiceLine, Payment, money
from billing.services import notice_values, payment_received_values
from customer360.bulk import bulk_insert, instance_maker
from customer360.demo import DemoContext, DemoCustomer, seeders
from customer360.events import EventKind
from customer360.sources import records
from customer360.timeline import record_many

PAYMENT_TERM = 14
PRODUCTS = [
    # code, description, unit price, max quantity
    ("BASIC-12", "Basic plan, 12 months", Decimal("490.00"), 1),
    ("PREM-12", "Premium plan, 12 months", Decimal("1290.00"), 1),
    ("SVC-H", "Service hour", Decimal("95.00"), 8),
    ("INST", "Installation", Decimal("350.00"), 1),
    ("PART-R", "Replacement part", Decimal("48.50"), 4),
    ("MAINT-Q", "Maintenance, quarterly", Decimal("180.00"), 1),
]
GRUBER_NUMBER_SUFFIX = 142


@dataclass
class Plan:
    """One demo invoice before it has a primary key."""

    customer: DemoCustomer
    issued_days_ago: int
    lines: list[InvoiceLine]
    payments: list[tuple[int, Decimal]] = field(default_factory=list)  # (days ago, amount)
    level: int = 0
    cancelled: bool = False
    disputed: bool = False
    gruber: bool = False
    invoice: Invoice | None = None


def _lines(rng: random.Random, count: int) -> list[InvoiceLine]:
    lines = []
    new_line = instance_maker(InvoiceLine)
    for position, (code, text, price, most) in enumerate(rng.sample(PRODUCTS, count), start=1):
        lines.append(
            new_line(
                position=position,
                product_code=code,
                description=text,
                quantity=Decimal(rng.randint(1, most)),
                unit_price=price,
                tax_rate=Decimal("20.00"),
            )
        )
    return lines


def _gross(lines: list[InvoiceLine]) -> Decimal:
    return money(sum((line.gross_amount for line in lines), ZERO))


def _paid_on_time(rng, customer, days_ago, split=False) -> Plan:
    plan = Plan(customer, days_ago, _lines(rng, 1 if rng.random() < 0.7 else 2))
    gross = _gross(plan.lines)
    paid_after = rng.randint(3, PAYMENT_TERM)
    if split and days_ago - paid_after > 10:
        first = money(gross * Decimal("0.5"))
        plan.payments = [(days_ago - paid_after, first), (days_ago - paid_after - 10, gross - first)]
    else:
        plan.payments = [(max(days_ago - paid_after, 0), gross)]
    return plan


def _dunned(rng, customer, level: int, thresholds: dict[int, int], partial=False) -> Plan:
    """An open invoice that the run has escalated to ``level`` by today."""
    lower = thresholds[level]
    upper = thresholds.get(level + 1, lower + 14) - 1
    overdue = rng.randint(lower, upper)
    plan = Plan(customer, overdue + PAYMENT_TERM, _lines(rng, rng.randint(1, 2)), level=level)
    if partial:
        plan.payments = [
            (overdue - rng.randint(1, max(overdue - 1, 1)), money(_gross(plan.lines) * Decimal("0.3")))
        ]
    return plan


def _plans_for(customer: DemoCustomer, rng: random.Random, thresholds: dict[int, int]) -> list[Plan]:
    persona = customer.persona
    if persona == "prospect":
        return []
    if persona == "gruber":
        plans = [_paid_on_time(rng, customer, d) for d in (400, 220)]
        new_line = instance_maker(InvoiceLine)
        lines = [
            new_line(
                position=1,
                product_code="BASIC-12",
                description="Basic plan, 12 months",
                quantity=Decimal("1"),
                unit_price=Decimal("783.33"),
                tax_rate=Decimal("20.00"),
            ),
            new_line(
                position=2,
                product_code="INST",
                description="Installation",
                quantity=Decimal("1"),
                unit_price=Decimal("250.00"),
                tax_rate=Decimal("20.00"),
            ),
        ]  # fmt: skip  (net 1,033.33 + 20 % tax 206.67 = EUR 1,240.00)
        plans.append(Plan(customer, 23 + PAYMENT_TERM, lines, level=2, gruber=True))
        return plans
    if persona == "loyal":
        return [_paid_on_time(rng, customer, d + rng.randint(0, 30)) for d in (660, 400, 140)]
    if persona in ("ordinary", "complainer"):
        plans = [
            _paid_on_time(rng, customer, d + rng.randint(0, 40), split=rng.random() < 0.15)
            for d in (520, 200)
        ]
        if rng.random() < 0.5:
            plans.append(_paid_on_time(rng, customer, rng.randint(40, 90)))
        if persona == "complainer" and rng.random() < 0.3:
            disputed = Plan(customer, rng.randint(20, 40), _lines(rng, 1), disputed=True)
            plans.append(disputed)
        return plans
    if persona == "newsletter_reader":
        return [_paid_on_time(rng, customer, d + rng.randint(0, 40)) for d in (420, 150)]
    if persona == "late_payer":
        # paid late, after two reminders (fee 10 paid too)
        old = Plan(customer, rng.randint(300, 500), _lines(rng, 1), level=2)
        old.payments = [(old.issued_days_ago - PAYMENT_TERM - thresholds[2] - rng.randint(2, 10), None)]
        plans = [old, _dunned(rng, customer, rng.randint(1, 3), thresholds, partial=rng.random() < 0.4)]
        if rng.random() < 0.5:
            plans.append(_dunned(rng, customer, 1, thresholds))
        return plans
    if persona == "churner":
        plans = [_paid_on_time(rng, customer, d + rng.randint(0, 40)) for d in (600, 330)]
        if rng.random() < 0.5:
            plans.append(Plan(customer, rng.randint(60, 150), _lines(rng, 1), cancelled=True))
        else:
            plans.append(_dunned(rng, customer, 4, thresholds))
        return plans
    return []


class _Numbers:
    """Invoice numbers per year in issue order, after what the database already holds."""

    def __init__(self, reserved: tuple[int, int] | None) -> None:
        self.next: dict[int, int] = {}
        self.reserved = reserved

    def take(self, year: int) -> str:
        if year not in self.next:
            self.next[year] = int(Invoice.next_number(year).split("-", 1)[1])
        number = self.next[year]
        if self.reserved == (year, number):
            number += 1
        self.next[year] = number + 1
        return f"{year}-{number:04d}"


@seeders.register(
    "billing",
    order=40,
    bulk_load=("billing.Invoice", "billing.InvoiceLine", "billing.Payment", "billing.DunningNotice"),
    lane="billing",
)
def seed_billing(ctx: DemoContext) -> None:
    """Invoices, lines, payments, notices and ~5 accounting events per customer, all in bulk."""
    rng = ctx.rng("billing")
    policy = DunningPolicy.active()
    levels = {lvl.level: lvl for lvl in policy.levels.all()} if policy else {}
    thresholds = {n: lvl.days_after_due for n, lvl in levels.items()} or {1: 7, 2: 21, 3: 35, 4: 49}
    plans: list[Plan] = []
    for customer in ctx.customers:
        plans.extend(_plans_for(customer, rng, thresholds))
    plans.sort(key=lambda p: (-p.issued_days_ago, p.customer.id))
    today = ctx.today
    gruber_plan = next((p for p in plans if p.gruber), None)
    gruber_year = (today - timedelta(days=gruber_plan.issued_days_ago)).year if gruber_plan else None
    gruber_number = f"{gruber_year}-{GRUBER_NUMBER_SUFFIX:04d}"
    if gruber_plan and Invoice.objects.filter(number=gruber_number).exists():
        gruber_plan.gruber = False  # seeded into a database that has it already: a normal number
        gruber_plan = None
    # One numbering for the whole seed: later chunks go on where the first left off (numbers are in
    # issue order within a chunk) and keep Gruber's number free.
    numbers = ctx.once(
        "billing:numbers", lambda: _Numbers((gruber_year, GRUBER_NUMBER_SUFFIX) if gruber_plan else None)
    )
    accountant = ctx.users.get("accounting")
    moment = ctx.moment
    new_invoice = instance_maker(Invoice)
    for plan in plans:
        issue_date = today - timedelta(days=plan.issued_days_ago)
        due_date = issue_date + timedelta(days=PAYMENT_TERM)
        invoice = new_invoice(
            customer_id=plan.customer.id,
            number=numbers.take(issue_date.year),
            issue_date=issue_date,
            due_date=due_date,
            created_by_id=accountant.pk if accountant else None,
            created_at=moment(plan.issued_days_ago, rng),
        )
        invoice.recalculate_totals(plan.lines)
        invoice.fees_total = money(
            sum((levels[n].fee for n in range(1, plan.level + 1) if n in levels), ZERO)
        )
        invoice.dunning_level = plan.level
        if plan.level:
            invoice.last_dunned_on = due_date + timedelta(days=thresholds[plan.level])
        plan.payments = [(d, amount if amount is not None else invoice.gross_total + invoice.fees_total)
                         for d, amount in plan.payments]  # fmt: skip
        invoice.paid_amount = money(sum((a for _, a in plan.payments), ZERO))
        if plan.cancelled:
            invoice.status, invoice.cancelled_reason = (
                Invoice.Status.CANCELLED,
                "Contract ended before delivery",
            )
        elif plan.disputed:
            invoice.status, invoice.disputed = Invoice.Status.DISPUTED, True
            invoice.dispute_reason = "Delivery arrived late and incomplete"
        else:
            invoice.status = invoice.settled_status(today)
        if plan.level == 4:
            invoice.handed_over_at = moment((today - invoice.last_dunned_on).days, rng)
        if plan.gruber:
            invoice.number = gruber_number
        plan.invoice = invoice
    before = Invoice.objects.aggregate(m=Max("id"))["m"] or 0
    bulk_insert([p.invoice for p in plans], with_ids=True)
    if plans and plans[0].invoice.pk is None:  # a backend without RETURNING: read the keys back
        ids = dict(Invoice.objects.filter(id__gt=before).values_list("number", "id").iterator())
        for plan in plans:
            plan.invoice.pk = ids[plan.invoice.number]
    _children(ctx, plans, levels, thresholds, rng, moment)


def _children(
    ctx: DemoContext,
    plans: list[Plan],
    levels: dict,
    thresholds: dict,
    rng: random.Random,
    moment: Callable[[int, random.Random], datetime],
) -> None:
    invoice_type = ContentType.objects.get_for_model(Invoice).id
    url = records.url_maker("billing:invoice_detail")
    lines, payments, notices, events = [], [], [], []
    for plan in plans:
        invoice = plan.invoice
        event = _event_maker(invoice, events, invoice_type, url)
        for line in plan.lines:
            line.invoice_id = invoice.pk
            lines.append(line)
        event(
            billing_events.INVOICE_ISSUED, "issued", moment(plan.issued_days_ago, rng),
            amount=invoice.gross_total, due_date=invoice.due_date,
        )  # fmt: skip
        _replay(ctx, plan, levels, thresholds, rng, moment, event, payments, notices)
        if plan.cancelled:
            event(billing_events.INVOICE_CANCELLED, "cancelled", moment(max(plan.issued_days_ago - 5, 0), rng),
                  summary=invoice.cancelled_reason)  # fmt: skip
        if plan.disputed:
            event(billing_events.INVOICE_DISPUTED, "disputed", moment(max(plan.issued_days_ago - 3, 0), rng),
                  summary=invoice.dispute_reason)  # fmt: skip
    bulk_insert(lines)
    _insert_payments([p[0] for p in payments])
    for payment, key, values, event in payments:
        values["payment_id"] = payment.pk
        event(billing_events.PAYMENT_RECEIVED, key, payment.received_at, **values)
    bulk_insert(notices)
    record_many(events, announce=False)
    customers = max(len(ctx.customers), 1)
    ctx.stdout(
        f"    billing: {len(plans)} invoices, {len(payments)} payments, {len(notices)} notices, "
        f"{len(events)} events ({len(events) / customers:.1f} per customer)"
    )


def _event_maker(invoice: Invoice, events: list, invoice_type: int, url) -> Callable:
    """``event(kind, key, when, summary=, channel=, **values)`` appends one event of ``invoice``.
    What all of the invoice's events share is worked out once (about five events per invoice)."""
    customer_id, source_id, source_url = invoice.customer_id, str(invoice.pk), url(invoice.pk)
    fields, prefix = billing_events.invoice_fields(invoice), f"demo:billing:{invoice.pk}:"

    def event(kind: EventKind, key: str, when: datetime, summary=None, channel=None, **values) -> None:
        events.append(
            kind.event(
                customer_id=customer_id,
                key=prefix + key,
                payload=kind.payload(**fields, **values),
                occurred_at=when,
                actor_label="Demo data",
                source_type_id=invoice_type,
                source_id=source_id,
                source_url=source_url,
                summary=summary,
                channel=channel,
            )
        )

    return event


def _insert_payments(payments: list[Payment]) -> None:
    before = Payment.objects.aggregate(m=Max("id"))["m"] or 0
    bulk_insert(payments, with_ids=True)
    if payments and payments[0].pk is None:  # a backend without RETURNING: read the keys back
        ids = dict(Payment.objects.filter(id__gt=before).values_list("reference", "id").iterator())
        for payment in payments:
            payment.pk = ids[payment.reference]


def _replay(ctx, plan, levels, thresholds, rng, moment, event, payments, notices) -> None:
    """The invoice's notices and payments in the order they happened, each event with the payload
    the services write at that moment (the invoice as it stood then)."""
    invoice, today = plan.invoice, ctx.today
    # The invoice as it stood after each step: fees charged so far, payments so far. Never saved.
    then = instance_maker(Invoice)(issue_date=invoice.issue_date, created_at=invoice.created_at)
    then.pk, then.number, then.currency = invoice.pk, invoice.number, invoice.currency
    then.due_date, then.status, then.gross_total = (
        invoice.due_date,
        Invoice.Status.OVERDUE,
        invoice.gross_total,
    )
    for n in range(1, plan.level + 1):
        level = levels.get(n)
        if level is None:
            continue
        sent_on = invoice.due_date + timedelta(days=thresholds[n])
        language = plan.customer.language if plan.customer.language in ("de", "en") else "de"
        sent_at = moment((today - sent_on).days, rng)
        notices.append(instance_maker(DunningNotice)(
            invoice_id=invoice.pk, level=n, fee=level.fee, channel=level.channel, language=language,
            text=level.render(then, language), open_amount=then.open_amount, sent_at=sent_at,
        ))  # fmt: skip
        then.fees_total += level.fee
        then.dunning_level = n
        kind = billing_events.DUNNING_HANDED_OVER if level.hands_over else billing_events.DUNNING_NOTICE
        values = notice_values(then, level, days_overdue=thresholds[n])
        event(kind, f"overdue:{n}", sent_at, channel=level.channel, **values)
    then.fees_total = invoice.fees_total
    for k, (days_ago, amount) in enumerate(plan.payments):
        received_at = moment(max(days_ago, 0), rng)
        payment = instance_maker(Payment)(invoice_id=invoice.pk, amount=amount, received_at=received_at,
                          reference=f"DEMO-{invoice.number}-{k + 1}", created_at=received_at)  # fmt: skip
        then.apply_payment(amount, today)
        # The event needs the payment's id: built once the payments are inserted (in _children).
        payments.append((payment, f"payment:{k + 1}", payment_received_values(then, payment), event))
