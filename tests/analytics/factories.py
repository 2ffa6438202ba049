"""A small fixed world for the dashboard tests: every department's records, written directly.

The dates are relative to TODAY (2026-11-27, tests travel there), so each record falls into a
known bucket of each chart.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from billing.models import DunningNotice, Invoice, Payment
from crm.models import Contract, Deal, Product, Satisfaction, Stage, Ticket
from customer360 import timeline
from customer360.models import Customer
from marketing.models import Campaign, Consent, ConsentChange, Touch
from tests.factories import CustomerFactory

TODAY = datetime.date(2026, 11, 27)


def at(day: datetime.date, hour: int = 12) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime(day.year, day.month, day.day, hour))


def ago(days: int, hour: int = 12) -> datetime.datetime:
    return at(TODAY - datetime.timedelta(days=days), hour)


@dataclass
class World:
    customers: dict[str, Customer] = field(default_factory=dict)
    deals: list[Deal] = field(default_factory=list)
    tickets: list[Ticket] = field(default_factory=list)
    invoices: dict[str, Invoice] = field(default_factory=dict)
    campaign: Campaign | None = None


def _invoice(customer, number, *, issued_days_ago, due_days_ago, gross, paid="0", level=0, status="issued"):
    return Invoice.objects.create(
        customer=customer, number=number, issue_date=TODAY - datetime.timedelta(days=issued_days_ago),
        due_date=TODAY - datetime.timedelta(days=due_days_ago), status=status, net_total=Decimal(gross),
        gross_total=Decimal(gross), paid_amount=Decimal(paid), dunning_level=level,
    )  # fmt: skip


def build_world(rep, rep2) -> World:
    w = World()
    c = w.customers
    c["anna"] = CustomerFactory(last_name="Alpha", owner=rep, country="AT", attributes={"segment": "SME"})
    c["bert"] = CustomerFactory(
        last_name="Beta", owner=rep2, country="DE", attributes={"segment": "Enterprise"}
    )
    c["cora"] = CustomerFactory(last_name="Gamma", owner=None, country="AT", attributes={"segment": "Private"},
                                lifecycle=Customer.Lifecycle.AT_RISK)  # fmt: skip
    c["dora"] = CustomerFactory(last_name="Delta", owner=rep, country="AT", attributes={"segment": "SME"},
                                lifecycle=Customer.Lifecycle.CHURNED)  # fmt: skip
    for key, days in (("anna", 400), ("bert", 40), ("cora", 10), ("dora", 700)):
        Customer.objects.filter(pk=c[key].pk).update(created_at=ago(days))
        c[key].refresh_from_db()
    # --- sales ---
    stages = {s.name: s for s in Stage.objects.all()}
    open_stages = [s for s in Stage.objects.order_by("order") if not s.is_closing]
    won = next(s for s in stages.values() if s.is_won)
    lost = next(s for s in stages.values() if s.is_lost)
    first, second = open_stages[0], open_stages[1]
    specs = [
        (c["anna"], first, "1000", rep, TODAY + datetime.timedelta(days=10), "open", None, 30),
        (c["bert"], first, "2000", rep2, TODAY + datetime.timedelta(days=40), "open", None, 30),
        (c["anna"], second, "500", rep, TODAY + datetime.timedelta(days=5), "open", None, 30),
        (c["bert"], won, "3000", rep2, None, "won", ago(20), 50),
        (c["anna"], won, "700", rep, None, "won", ago(15), 25),
        (c["anna"], lost, "900", rep, None, "lost", ago(60), 90),
        (c["cora"], lost, "100", None, None, "lost", ago(400), 10),  # outside the last 12 months
    ]
    for customer, stage, amount, owner, close, status, closed_at, cycle in specs:
        w.deals.append(
            Deal.objects.create(
                customer=customer,
                title=f"Deal {amount}",
                amount=Decimal(amount),
                stage=stage,
                owner=owner,
                expected_close=close,
                status=status,
                closed_at=closed_at,
                created_at=(closed_at or timezone.now()) - datetime.timedelta(days=cycle),
            )  # fmt: skip
        )
    product = Product.objects.create(name="Basic", code="basic-t", price=Decimal("290"))
    Contract.objects.create(customer=c["anna"], product=product, start=TODAY - datetime.timedelta(days=500))
    Contract.objects.create(customer=c["dora"], product=product, start=TODAY - datetime.timedelta(days=600),
                            status="cancelled", cancelled_at=ago(35))  # fmt: skip
    Contract.objects.create(customer=c["dora"], product=product, start=TODAY - datetime.timedelta(days=900),
                            status="cancelled", cancelled_at=ago(300))  # fmt: skip
    # --- service ---
    tickets = [
        # customer, category, channel, priority, opened days ago, first response h, solved h, due h, csat
        (c["anna"], "complaint", "email", "high", 3, 2, None, 48, None),
        (c["anna"], "delivery", "phone", "normal", 40, 0.5, 30, 24, 2),
        (c["bert"], "delivery", "email", "normal", 45, 5, 100, 200, 4),
        (c["bert"], "billing", "web", "low", 70, 10, 200, 100, 5),
        (c["cora"], "complaint", "email", "urgent", 1, None, None, 0.5, None),
        (c["cora"], "question", "email", "normal", 500, 1, 2, 10, 3),  # outside the period
    ]
    for customer, category, channel, priority, days, first_h, solved_h, due_h, score in tickets:
        opened = ago(days, 9)
        ticket = Ticket.objects.create(
            customer=customer, subject=f"{category} ticket", category=category, channel=channel,
            priority=priority, opened_at=opened,
            first_response_at=opened + datetime.timedelta(hours=first_h) if first_h is not None else None,
            solved_at=opened + datetime.timedelta(hours=solved_h) if solved_h else None,
            status="solved" if solved_h else "open",
            resolution_due=opened + datetime.timedelta(hours=due_h),
            sla_breached_resolution=bool(solved_h and solved_h > due_h), assignee=rep,
        )  # fmt: skip
        if score:
            Satisfaction.objects.create(ticket=ticket, score=score, created_at=ticket.solved_at)
        w.tickets.append(ticket)
    # --- billing ---
    inv = w.invoices
    inv["a_not_due"] = _invoice(c["anna"], "T-1", issued_days_ago=5, due_days_ago=-9, gross="100")
    inv["a_10"] = _invoice(c["anna"], "T-2", issued_days_ago=24, due_days_ago=10, gross="200", paid="50",
                           status="partially_paid")  # fmt: skip
    inv["b_45"] = _invoice(
        c["bert"], "T-3", issued_days_ago=59, due_days_ago=45, gross="400", level=2, status="overdue"
    )
    inv["c_100"] = _invoice(c["cora"], "T-4", issued_days_ago=114, due_days_ago=100, gross="800", level=3,
                            status="overdue")  # fmt: skip
    inv["b_paid"] = _invoice(c["bert"], "T-5", issued_days_ago=80, due_days_ago=66, gross="300", paid="300",
                             level=1, status="paid")  # fmt: skip
    Payment.objects.create(invoice=inv["a_10"], amount=Decimal("50"), received_at=ago(3))
    Payment.objects.create(invoice=inv["b_paid"], amount=Decimal("300"), received_at=ago(50))
    for key, level, days in (("b_paid", 1, 58), ("b_45", 1, 38), ("b_45", 2, 24), ("c_100", 1, 93),
                             ("c_100", 2, 79), ("c_100", 3, 65)):  # fmt: skip
        DunningNotice.objects.create(
            invoice=inv[key], level=level, channel="email", text="x", sent_at=ago(days)
        )
    # A promise kept (paid before the date) and one broken.
    for key, promised, days in (("b_paid", 48, 55), ("b_45", 30, 35)):
        timeline.record(
            customer=inv[key].customer, department="accounting", kind="payment.promised", title="promised",
            idempotency_key=f"t:promise:{key}", occurred_at=ago(days), source=inv[key],
            payload={"promised_date": (TODAY - datetime.timedelta(days=promised)).isoformat(),
                     "open_amount": str(inv[key].gross_total)},
        )  # fmt: skip
    # --- marketing ---
    w.campaign = campaign = Campaign.objects.create(name="=HYPERLINK(evil)", channel="email", purpose="newsletter",
                                                    status="running")  # fmt: skip
    for customer, statuses in ((c["anna"], ["sent", "opened", "clicked", "clicked"]),
                               (c["bert"], ["sent", "opened"]), (c["cora"], ["sent"])):  # fmt: skip
        for n, status in enumerate(statuses):
            Touch.objects.create(campaign=campaign, customer=customer, status=status, occurred_at=ago(20 - n),
                                 external_id=str(n))  # fmt: skip
    Touch.objects.create(campaign=campaign, customer=c["dora"], status="sent", occurred_at=ago(500))
    for customer, status, days in (
        (c["anna"], "granted", 20),
        (c["bert"], "granted", 50),
        (c["bert"], "withdrawn", 5),
    ):
        consent, _ = Consent.objects.get_or_create(customer=customer, channel="email", purpose="newsletter",
                                                   defaults={"status": status})  # fmt: skip
        ConsentChange.objects.create(consent=consent, new_status=status, changed_at=ago(days))
    # --- next-best action ---
    from insights.models import Action, CustomerScore, Recommendation

    actions = list(Action.objects.order_by("key")[:2])
    for customer, action, status, days in ((c["anna"], actions[0], "accepted", 5), (c["anna"], actions[1], "open", 5),
                                           (c["bert"], actions[0], "dismissed", 10), (c["bert"], actions[1], "completed", 400)):  # fmt: skip
        Recommendation.objects.create(customer=customer, action=action, status=status, created_at=ago(days))
    for key, holdout in (("anna", False), ("bert", False), ("cora", True), ("dora", True)):
        CustomerScore.objects.create(customer=c[key], scored_at=ago(1), holdout=holdout)
    return w
