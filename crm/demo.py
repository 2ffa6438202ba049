"""Demo history of sales (order 20) and service (order 30), in bulk and deterministic per seed.

Sales: contracts (what each customer owns), deals (loyal: won upsell; churner: lost deal and a
cancelled contract; prospects: open deals), about two calls per customer. Service: tickets by
persona (complainers: complaints and low CSAT), Gruber's late-delivery complaint solved yesterday
with CSAT 2, and a rising topic: late-delivery complaints roughly doubling in the last 30 days
compared with the 30 days before, in varied German and English wording.
"""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from crm import events
from crm.models import (
    Activity,
    BusinessHours,
    Contract,
    Deal,
    Product,
    Satisfaction,
    SlaPolicy,
    Stage,
    Ticket,
)
from crm.services import sla
from customer360.bulk import bulk_insert, instance_maker
from customer360.demo import DemoContext, DemoCustomer, seeders
from customer360.events import EventKind
from customer360.sources.records import url_maker
from customer360.timeline import EventData, record_many

BATCH = 2000
PRODUCTS = [
    ("basic", "Basic plan", Decimal("290.00")),
    ("premium", "Premium plan", Decimal("890.00")),
    ("service", "Service package", Decimal("190.00")),
]
# No call note speaks of deliveries: thousands of routine "feedback on the last delivery" notes would
# share the planted late-delivery topic and dilute its rise at 100k customers.
CALL_SUBJECTS = {
    "de": [
        "Kurzer Check-in",
        "Rückfrage zum Angebot",
        "Vertragsverlängerung besprochen",
        "Bedarf abgefragt",
        "Termin vereinbart",
        "Feedback zu unserem Service",
    ],
    "en": [
        "Quick check-in",
        "Follow-up on the offer",
        "Talked about the renewal",
        "Needs assessment",
        "Set up a meeting",
        "Feedback on our service",
    ],
}
OUTCOMES = ["reached", "reached", "reached", "no_answer", "left_message", "completed"]

# The rising topic: late deliveries, worded the many ways customers write.
LATE_DELIVERY = {
    "de": [
        ("Lieferung verspätet", "Meine Lieferung ist verspätet, angekündigt war sie für letzte Woche."),
        ("Lieferung immer noch nicht da", "Die Lieferung verspätet sich schon wieder, bitte um Rückmeldung."),
        (
            "Verspätete Lieferung – Bestellung {n}",
            "Die Bestellung {n} ist verspätet angekommen, das ist ärgerlich.",
        ),
        ("Wo bleibt meine Lieferung?", "Lieferung verspätet um mehr als zehn Tage, niemand meldet sich."),
        ("Lieferverzug", "Lieferung verspätet, der Liefertermin wurde zweimal verschoben."),
    ],
    "en": [
        ("Late delivery", "My delivery is late again, it was promised for last week."),
        ("Delivery still not here", "The late delivery is causing problems for us, please call back."),
        ("Order {n} delivered late", "Order {n} arrived late and nobody told us about the delay."),
        ("Where is my delivery?", "Late delivery: more than ten days overdue and no tracking update."),
        (
            "Delivery delayed twice",
            "The delivery was rescheduled twice, this late delivery is not acceptable.",
        ),
    ],
}
OTHER_TICKETS = {
    "question": {
        "de": [
            ("Frage zur Rechnung", "Wie kann ich die Rechnungsadresse ändern?"),
            ("Passwort vergessen", "Ich komme nicht mehr ins Kundenportal."),
        ],
        "en": [
            ("Question about my plan", "Which features does the Basic plan include?"),
            ("Password reset", "I cannot log in to the customer portal."),
        ],
    },
    "technical": {
        "de": [
            ("Gerät startet nicht", "Seit dem Update startet das Gerät nicht mehr."),
            ("Fehlermeldung im Portal", "Beim Speichern erscheint eine Fehlermeldung."),
        ],
        "en": [
            ("Device does not start", "Since the update the device no longer starts."),
            ("Error in the portal", "Saving my settings shows an error."),
        ],
    },
    "billing": {
        "de": [
            ("Rechnung doppelt erhalten", "Ich habe die Rechnung zweimal bekommen."),
            ("Mahnung trotz Zahlung", "Ich habe bezahlt und trotzdem eine Mahnung erhalten."),
        ],
        "en": [
            ("Invoice received twice", "I was sent the same invoice twice."),
            ("Reminder despite payment", "I paid but still received a payment reminder."),
        ],
    },
    "complaint": {
        "de": [
            ("Beschwerde über Beratung", "Ich wurde am Telefon unfreundlich behandelt."),
            ("Beschwerde: falsche Ware", "Ich habe die falsche Ware erhalten."),
        ],
        "en": [
            ("Complaint about the service", "I was treated rudely on the phone."),
            ("Complaint: wrong item", "I received the wrong item."),
        ],
    },
}
TICKETS_PER_PERSONA = {  # persona -> (probability of any ticket, extra tickets)
    "complainer": (1.0, 2),
    "late_payer": (0.7, 1),
    "churner": (0.7, 1),
    "loyal": (0.45, 0),
    "ordinary": (0.5, 0),
    "newsletter_reader": (0.4, 0),
    "prospect": (0.1, 0),
}


def _lang(customer: DemoCustomer) -> str:
    return "en" if customer.language == "en" else "de"


def _ct(model) -> int:
    return ContentType.objects.get_for_model(model).id


class Events:
    """Builds the demo's events of one model through the declarations (crm.events), with the link
    to the record's page (one ``reverse`` per batch)."""

    def __init__(self, model, view_name: str) -> None:
        self.type_id = _ct(model)
        self.url = url_maker(view_name)

    def __call__(self, kind: EventKind, obj, key: str, when, *, values: dict, actor_id=None) -> EventData:
        return kind.event(
            customer_id=obj.customer_id,
            key=f"demo:crm:{key}",
            occurred_at=when,
            actor_id=actor_id,
            actor_label="Demo data",
            source_type_id=self.type_id,
            source_id=str(obj.pk),
            source_url=self.url(obj.pk),
            **values,
        )


# --- Sales -----------------------------------------------------------------------------------------
@seeders.register("sales", order=20, bulk_load=("crm.Contract", "crm.Deal", "crm.Activity"))
def seed_sales(ctx: DemoContext) -> None:
    """Contracts, deals and calls per persona (about 3 sales events per customer)."""
    rng = ctx.rng("crm.sales")
    products = {}
    for code, name, price in PRODUCTS:
        products[code], _ = Product.objects.get_or_create(code=code, defaults={"name": name, "price": price})
    stages = {s.name: s for s in Stage.objects.filter(pipeline__is_default=True)}
    open_stages = [s for s in stages.values() if not s.is_closing]
    won = next(s for s in stages.values() if s.is_won)
    lost = next(s for s in stages.values() if s.is_lost)
    rep_ids = [ctx.users["rep"].pk, ctx.users["rep2"].pk]
    contracts: list[tuple[Contract, DemoCustomer]] = []
    deals: list[tuple[Deal, DemoCustomer, datetime]] = []
    activities: list[Activity] = []
    today = ctx.today
    for c in ctx.customers:
        owner = c.owner_id or rng.choice(rep_ids)
        plan = _plan_for(c.persona, rng)
        if plan:
            start = today - timedelta(days=rng.randint(60, 900))
            renewal = _next_anniversary(start, today)
            if c.persona == "gruber":
                renewal = today + timedelta(weeks=6)
                start = renewal.replace(year=renewal.year - 1)
            contract = instance_maker(Contract)(
                customer_id=c.id,
                product=products[plan],
                start=start,
                renewal_date=renewal,
                value_per_year=products[plan].price,
                created_at=ctx.moment((today - start).days, rng),
            )
            if c.persona == "churner":
                contract.status = Contract.Status.CANCELLED
                contract.cancelled_at = ctx.moment(rng.randint(5, 50), rng)
                contract.end = renewal
            contracts.append((contract, c))
            if c.persona == "loyal" and rng.random() < 0.5:
                extra = instance_maker(Contract)(
                    customer_id=c.id,
                    product=products["service"],
                    start=start,
                    renewal_date=renewal,
                    value_per_year=products["service"].price,
                    created_at=contract.created_at,
                )
                contracts.append((extra, c))
        deal = _deal_for(c, rng, owner, open_stages, won, lost, ctx)
        if deal:
            deals.append(deal)
        calls = 1 if rng.random() < 0.5 else 2
        for n in range(calls):
            days = 21 if (c.persona == "gruber" and n == 0) else rng.randint(1, 180)
            lang = _lang(c)
            follow = today + timedelta(days=rng.randint(1, 30)) if rng.random() < 0.25 else None
            activities.append(
                instance_maker(Activity)(
                    customer_id=c.id,
                    kind=Activity.Kind.CALL,
                    subject=rng.choice(CALL_SUBJECTS[lang]),
                    outcome=rng.choice(OUTCOMES),
                    occurred_at=ctx.moment(days, rng),
                    follow_up_date=follow,
                    user_id=owner,
                    created_at=ctx.moment(days, rng),
                )
            )
    bulk_insert([c for c, _ in contracts], with_ids=True)
    bulk_insert([d for d, _, _ in deals], with_ids=True)
    bulk_insert(activities, with_ids=True)
    record_many(_sales_events(contracts, deals, activities, stages), announce=False)


def _plan_for(persona: str, rng: random.Random) -> str:
    if persona == "prospect":
        return ""
    if persona == "gruber":
        return "basic"
    if persona == "loyal":
        return "premium" if rng.random() < 0.5 else "basic"
    if persona == "newsletter_reader" and rng.random() < 0.5:
        return ""
    return "basic"


def _next_anniversary(start, today):
    year = today.year
    for candidate_year in (year, year + 1):
        try:
            candidate = start.replace(year=candidate_year)
        except ValueError:  # 29 February
            candidate = start.replace(year=candidate_year, day=28)
        if candidate >= today:
            return candidate
    return today + timedelta(days=365)


def _deal_for(c: DemoCustomer, rng, owner, open_stages, won, lost, ctx):
    created_days = rng.randint(20, 200)
    created = ctx.moment(created_days, rng)
    if c.persona == "loyal" and rng.random() < 0.6:
        deal = instance_maker(Deal)(
            customer_id=c.id,
            title="Upsell: Premium plan",
            amount=Decimal("890.00"),
            stage=won,
            status=Deal.Status.WON,
            owner_id=owner,
            created_at=created,
            closed_at=created + timedelta(days=rng.randint(5, 15)),
        )
    elif c.persona == "churner":
        deal = instance_maker(Deal)(
            customer_id=c.id,
            title="Renewal offer",
            amount=Decimal("290.00"),
            stage=lost,
            status=Deal.Status.LOST,
            lost_reason=rng.choice(["Price too high", "Switched to a competitor", "No budget"]),
            owner_id=owner,
            created_at=created,
            closed_at=created + timedelta(days=rng.randint(5, 15)),
        )
    elif c.persona == "prospect" or (c.persona == "ordinary" and rng.random() < 0.25):
        deal = instance_maker(Deal)(
            customer_id=c.id,
            title=rng.choice(["Basic plan", "Premium plan", "Service package"]),
            amount=Decimal(rng.choice([190, 290, 890, 1480])),
            stage=rng.choice(open_stages),
            owner_id=owner,
            created_at=created,
            expected_close=ctx.today + timedelta(days=rng.randint(7, 90)),
        )
    else:
        return None
    return deal, c, created


def _sales_events(contracts, deals, activities, stages):
    contract_event = Events(Contract, "crm:contract_detail")
    for contract, _c in contracts:
        key = f"contract:{contract.pk}"
        started = events.contract_values(events.CONTRACT_STARTED, contract)
        yield contract_event(
            events.CONTRACT_STARTED, contract, f"{key}:started", contract.created_at, values=started
        )
        if contract.status == Contract.Status.CANCELLED:
            cancelled = events.contract_values(events.CONTRACT_CANCELLED, contract)
            yield contract_event(
                events.CONTRACT_CANCELLED,
                contract,
                f"{key}:cancelled",
                contract.cancelled_at,
                values=cancelled,
            )
    deal_event = Events(Deal, "crm:deal_detail")
    for deal, _c, created in deals:
        key = f"deal:{deal.pk}"
        values = events.deal_values(events.DEAL_CREATED, deal)
        yield deal_event(events.DEAL_CREATED, deal, f"{key}:created", created, values=values)
        closing = {Deal.Status.WON: events.DEAL_WON, Deal.Status.LOST: events.DEAL_LOST}.get(deal.status)
        if closing is not None:
            values = events.deal_values(closing, deal)
            yield deal_event(closing, deal, f"{key}:{deal.status}", deal.closed_at, values=values)
    activity_event = Events(Activity, "crm:activity_detail")
    for a in activities:
        yield activity_event(
            events.ACTIVITY_KINDS[a.kind],
            a,
            f"activity:{a.pk}:logged",
            a.occurred_at,
            values=events.activity_values(a),
            actor_id=a.user_id,
        )


# --- Service ---------------------------------------------------------------------------------------
@seeders.register("service", order=30, bulk_load=("crm.Ticket", "crm.Satisfaction"))
def seed_service(ctx: DemoContext) -> None:
    """Tickets with SLA data, CSAT, the Gruber complaint and the rising late-delivery topic."""
    rng = ctx.rng("crm.service")
    hours = BusinessHours.current()
    policies = {p.priority: p for p in SlaPolicy.objects.all()}
    agents = [u.pk for key, u in ctx.users.items() if key in ("service", "service_lead")]
    now = timezone.make_aware(datetime.combine(ctx.today, datetime.min.time())) + timedelta(hours=9)
    planned: list[tuple[Ticket, DemoCustomer, int | None, str]] = []
    late_numbers = ctx.once("crm:late_numbers", itertools.count)  # runs on across chunks
    for c in ctx.customers:
        if c.persona == "gruber":
            planned.append(_gruber_ticket(c, ctx, agents, now))
            continue
        chance, extra = TICKETS_PER_PERSONA.get(c.persona, (0.2, 0))
        if rng.random() >= chance:
            continue
        for _ in range(1 + (rng.randint(0, extra) if extra else 0)):
            planned.append(_ticket_for(c, rng, ctx, agents, now, late_numbers))
    tickets = [t for t, _, _, _ in planned]
    for ticket in tickets:
        policy = policies.get(ticket.priority)
        if policy and not ticket.first_response_due:
            ticket.compute_due_times(policy, hours)
        # Breaches in the past are flagged as the SLA check would have flagged them, on each of its
        # clocks (the check itself flags what is late now), or the check would spend its first runs
        # on the seeded history and the service dashboard would count fewer meanwhile.
        for _name, flag, at_field, due_field, done_field in sla.BREACHES:
            due, done = getattr(ticket, due_field), getattr(ticket, done_field)
            if due and done and done > due:
                setattr(ticket, flag, True)
                setattr(ticket, at_field, due)
    bulk_insert(tickets, with_ids=True)
    ratings = []
    for ticket, _customer, score, comment in planned:
        if score:
            ratings.append(
                instance_maker(Satisfaction)(
                    ticket=ticket,
                    score=score,
                    comment=comment,
                    created_at=ticket.solved_at + timedelta(hours=2),
                )
            )
    bulk_insert(ratings, with_ids=True)
    record_many(_service_events(tickets, ratings), announce=False)


def _ticket_for(c: DemoCustomer, rng: random.Random, ctx, agents, now, late_numbers):
    lang = _lang(c)
    late_delivery = rng.random() < (0.45 if c.persona == "complainer" else 0.2)
    if late_delivery:
        # Rising topic: twice as many in the last 30 days as in the 30 before (plus a thin old tail);
        # stratified by a running number so even a small demo shows the trend.
        bucket = next(late_numbers) % 10
        days = (
            rng.uniform(0.5, 30)
            if bucket < 6
            else rng.uniform(30, 60)
            if bucket < 9
            else rng.uniform(60, 365)
        )
        subject, description = rng.choice(LATE_DELIVERY[lang])
        number = f"{rng.randint(10000, 99999)}"
        subject, description = subject.format(n=number), description.format(n=number)
        category = rng.choice(["complaint", "complaint", "delivery"])
    else:
        days = rng.uniform(0.5, 365)
        category = (
            "complaint" if c.persona == "complainer" else rng.choice(["question", "technical", "billing"])
        )
        if c.persona == "late_payer":
            category = "billing"
        subject, description = rng.choice(OTHER_TICKETS[category][lang])
    opened = now - timedelta(days=days, minutes=rng.randint(0, 600))
    priority = rng.choice(
        ["normal", "normal", "high", "low"] + (["high", "urgent"] if category == "complaint" else [])
    )
    ticket = instance_maker(Ticket)(
        customer_id=c.id,
        subject=subject,
        description=description,
        category=category,
        priority=priority,
        channel=rng.choice(["email", "email", "phone", "web"]),
        assignee_id=rng.choice(agents) if agents else None,
        opened_at=opened,
    )
    still_open = days < 7 and rng.random() < 0.6
    score, comment = None, ""
    if still_open:
        ticket.status = rng.choice(["new", "open", "waiting"])
        if ticket.status == "waiting":
            ticket.sla_paused_since = min(opened + timedelta(hours=3), now)
    else:
        ticket.first_response_at = opened + timedelta(hours=rng.uniform(0.5, 20))
        ticket.solved_at = min(opened + timedelta(days=rng.uniform(0.2, 6)), now - timedelta(hours=1))
        ticket.status = "closed" if days > 14 else "solved"
        ticket.closed_at = ticket.solved_at + timedelta(days=7) if ticket.status == "closed" else None
        if rng.random() < 0.55:
            low = c.persona in ("complainer", "churner") or category == "complaint"
            score = rng.choice([1, 2, 2, 3]) if low else rng.choice([3, 4, 5, 5])
            comment = rng.choice(["", "", "Zu langsam.", "Danke!", "Too slow.", "Thanks, all good."])
    if ticket.first_response_at is None and ticket.status != "new":
        ticket.first_response_at = opened + timedelta(hours=2)
    return ticket, c, score, comment


def _gruber_ticket(c: DemoCustomer, ctx, agents, now):
    """Scenario 1: a complaint about a late delivery, solved yesterday, CSAT 2."""
    opened = now - timedelta(days=6)
    solved = now - timedelta(days=1)
    ticket = instance_maker(Ticket)(
        customer_id=c.id,
        subject="Lieferung verspätet – Ersatzteil für Heizung",
        description="Das bestellte Ersatzteil ist zwei Wochen verspätet, der Kunde musste seine eigenen "
        "Kunden vertrösten. Late delivery of the replacement part.",
        category="complaint",
        priority="high",
        channel="phone",
        status="solved",
        assignee_id=agents[0] if agents else None,
        opened_at=opened,
        first_response_at=opened + timedelta(hours=3),
        solved_at=solved,
    )
    return ticket, c, 2, "Hat viel zu lange gedauert."


def _service_events(tickets: list[Ticket], ratings: list[Satisfaction]):
    event = Events(Ticket, "crm:ticket_detail")
    for t in tickets:
        key = f"ticket:{t.pk}"
        values = events.ticket_values(events.TICKET_OPENED, t)
        yield event(events.TICKET_OPENED, t, f"{key}:opened", t.opened_at, values=values)
        if t.solved_at:
            values = events.ticket_values(events.TICKET_SOLVED, t)
            yield event(
                events.TICKET_SOLVED, t, f"{key}:solved", t.solved_at, values=values, actor_id=t.assignee_id
            )
        for name, flag, at_field, _due_field, _done_field in sla.BREACHES:
            if getattr(t, flag):
                values = events.ticket_values(events.TICKET_SLA_BREACHED, t, sla=name)
                when = getattr(t, at_field)
                yield event(events.TICKET_SLA_BREACHED, t, f"{key}:sla_breached:{name}", when, values=values)
    by_id = {t.pk: t for t in tickets}
    for r in ratings:
        t = by_id[r.ticket_id]
        values = events.ticket_values(events.CSAT_RECEIVED, t, score=r.score, comment=r.comment)
        yield event(events.CSAT_RECEIVED, t, f"ticket:{t.pk}:csat", r.created_at, values=values)
