"""Demo data of the feed with a planted communication pattern the analytics must reproduce.

* Service asks Accounting 12 times, Sales asks Service 6 times, Marketing asks Sales 3 times.
* Accounting answers after a median of 1 hour (resolves after 2), Service after 4 hours
  (resolves after 6), Sales after 2 hours (resolves after 3).
* The manager posts and answers too; the head of service answers like everyone else.
* Scenario 4: "@accounting can we pause dunning for #Gruber until the replacement ships?"
* Delivery problems rise in the Deliveries space over the last two weeks.

It touches only a handful of customers, so its time does not depend on the number of customers.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.contenttypes.models import ContentType
from django.utils import translation
from django.utils.text import slugify
from django.utils.translation import gettext_noop

from collab import departments, markup, services
from collab.models import (
    Acceptance,
    CodeOfConduct,
    Comment,
    DepartmentRequest,
    Notification,
    Post,
    Space,
)
from customer360 import timeline
from customer360.demo import DemoContext, seeders
from customer360.models import Customer

# (asker, receiving department, answerer, minutes to first answer, minutes to resolution, text)
SERVICE_TO_ACCOUNTING = [
    ("service", "accounting", 30, 90, "@accounting can you credit the shipping fee for a damaged parcel?"),
    ("service_lead", "accounting", 40, 100, "@accounting customer asks for a copy of last year's invoices"),
    ("service", "accounting", 90, 150, "@accounting refund for a double payment, can you check?"),
    ("service", "accounting", 55, 115, "@accounting is the direct debit mandate active for this customer?"),
    ("service", "accounting", 60, 120, "@accounting customer disputes the late fee after our delivery delay"),
    ("service_lead", "accounting", 60, 120, "@accounting please stop reminders, the complaint is still open"),
    ("service", "accounting", 60, 120, "@accounting payment plan possible for an open invoice?"),
    ("service", "accounting", 60, 120, "@accounting wrong VAT on the replacement invoice"),
    ("service", "accounting", 65, 125, "@accounting customer moved, invoices go to the old address"),
    ("service", "accounting", 70, 130, "@accounting voucher for the delivery delay: which account?"),
    ("service", "accounting", 80, 140, "@accounting customer paid twice by mistake"),
    ("service", "accounting", 50, 110, "GRUBER"),  # replaced by the scenario 4 request below
]
SALES_TO_SERVICE = [
    ("rep", "service", 180, 300, "@service is the replacement for the pump already shipped?"),
    ("rep2", "service", 210, 330, "@service open tickets for this customer before my visit?"),
    ("rep", "service", 240, 360, "@service installation date confirmed for the new heating?"),
    ("rep2", "service", 240, 360, "@service can a technician join the on-site meeting?"),
    ("rep", "service", 270, 390, "@service warranty status of the old boiler?"),
    ("rep2", "service", 300, 420, "@service delivery delay for the spare parts, any news?"),
]
MARKETING_TO_SALES = [
    ("marketing", "sales", 60, 120, "@sales which customers should get the Premium renewal offer?"),
    ("marketing", "sales", 120, 180, "@sales feedback on the spring newsletter from your calls?"),
    ("marketing", "sales", 180, 240, "@sales can we quote a customer in the case study?"),
]
ANSWERERS = {
    "accounting": ["accounting"],
    "service": ["service", "service_lead"],
    "sales": ["rep", "manager", "rep2"],
}
GRUBER_TEXT = "@accounting can we pause dunning for #{number} until the replacement ships?"
DELIVERY_POSTS = [
    # (days ago, author, text)
    (20, "service_lead", "Delivery times for spare parts are back to normal this month."),
    (12, "service", "Three complaints today about late delivery of replacement parts. Anyone else?"),
    (9, "rep", "Customers ask me about delivery delays on every call this week."),
    (6, "manager", "Thanks for raising the delivery delays. I asked logistics for a weekly status."),
    (4, "service", "Late delivery again: the carrier lost two parcels. Complaints are rising."),
    (2, "rep2", "Delivery delay for the heating pumps: can we tell customers a date?"),
]


def _user_dept(user) -> tuple[str, str]:
    return departments.department_of(user), departments.role_of(user)


class _Writer:
    """Creates the demo rows with explicit timestamps (a few dozen rows in total)."""

    def __init__(self, ctx: DemoContext) -> None:
        self.ctx = ctx
        self.users = ctx.users
        self.events: list[timeline.EventData] = []
        self.post_type_id = ContentType.objects.get_for_model(Post).id

    def post(self, space: Space, username: str, body: str, at, topic: str = "", customers=()) -> Post:
        author = self.users[username]
        dept, role = _user_dept(author)
        people, depts = services._mention_targets(body, exclude_user_id=None)
        post = Post.objects.create(
            space=space,
            author=author,
            author_department=dept,
            author_role=role,
            body=body,
            body_html=markup.render(body),
            topic=slugify(topic),
            created_at=at,
            mentioned_departments=depts,
        )
        if customers:
            post.customers.set(customers)
        return post

    def comment(self, post: Post, username: str, body: str, at, accepted: bool = False) -> Comment:
        author = self.users[username]
        dept, role = _user_dept(author)
        return Comment.objects.create(
            post=post,
            author=author,
            author_department=dept,
            author_role=role,
            body=body,
            body_html=markup.render(body),
            created_at=at,
            is_accepted=accepted,
            accepted_at=at + timedelta(minutes=5) if accepted else None,
            accepted_by=post.author if accepted else None,
        )

    def customer_events(self, post: Post, customers) -> None:
        request = DepartmentRequest.objects.filter(post=post).first()
        for customer in customers:
            declaration, payload = services.customer_event_payload(post, customer, request)
            self.events.append(
                declaration.event(
                    customer_id=customer.pk,
                    key=f"demo:collab:post:{post.pk}:customer:{customer.pk}",
                    payload=payload,
                    summary=services.customer_event_summary(post, customer),
                    occurred_at=post.created_at,
                    actor_id=post.author_id,
                    source_type_id=self.post_type_id,
                    source_id=str(post.pk),
                    source_url=post.get_absolute_url(),
                    audience=post.space.audience,
                )
            )


def _plant_requests(
    writer: _Writer, spaces: dict[str, Space], rows, days_back: list[int], gruber=None
) -> None:
    ctx = writer.ctx
    rng = ctx.rng(f"collab:requests:{rows[0][1]}")
    for i, (asker, to_dept, first_min, resolve_min, text) in enumerate(rows):
        created = ctx.moment(days_back[i % len(days_back)], rng)
        customers = []
        if text == "GRUBER" and gruber is not None:
            text = GRUBER_TEXT.format(number=gruber.customer_number)
            customers = [gruber]
            created = ctx.moment(2, rng)
        post = writer.post(spaces[to_dept], asker, text, created, customers=customers)
        answerer = ANSWERERS[to_dept][i % len(ANSWERERS[to_dept])]
        answer_at = created + timedelta(minutes=first_min)
        resolved_at = created + timedelta(minutes=resolve_min)
        request = DepartmentRequest.objects.create(
            post=post,
            kind=DepartmentRequest.Kind.TASK if i % 3 == 0 else DepartmentRequest.Kind.QUESTION,
            from_department=post.author_department,
            to_department=to_dept,
            priority=DepartmentRequest.Priority.HIGH if customers else DepartmentRequest.Priority.NORMAL,
            due_date=(created + timedelta(days=2)).date(),
            status=DepartmentRequest.Status.RESOLVED,
            requested_by=post.author,
            assignee=writer.users[answerer],
            created_at=created,
            first_answered_at=answer_at,
            first_answered_by=writer.users[answerer],
            first_answer_seconds=first_min * 60,
            resolved_at=resolved_at,
            resolved_by=writer.users[answerer],
            resolution_seconds=resolve_min * 60,
        )
        answer = (
            "Yes, dunning is paused until the replacement has shipped. I noted it on the invoice."
            if customers
            else "Done, see the note on the customer."
        )
        writer.comment(post, answerer, answer, answer_at, accepted=i % 2 == 0 or bool(customers))
        if customers:
            writer.comment(
                post, asker, "Thank you, I will tell Mr. Gruber.", answer_at + timedelta(minutes=10)
            )
            writer.customer_events(post, customers)
            resolver = writer.users[answerer]
            message = gettext_noop("%(name)s resolved your request: %(text)s")
            params = {
                "name": resolver.get_full_name() or resolver.get_username(),
                "text": markup.plain(post.body, 120),
            }
            with translation.override("en"):  # stored in English; each reader sees their language
                text = Notification.render(message, params)
            Notification.objects.get_or_create(
                recipient=post.author,
                kind=Notification.Kind.RESOLVED,
                source_key=f"request:{request.pk}",
                defaults={
                    "post": post,
                    "message": message,
                    "params": params,
                    "text": text[:300],
                    "url": post.get_absolute_url(),
                },
            )


@seeders.register("collab", order=60)
def seed_collab(ctx: DemoContext) -> None:
    """Department spaces, a Deliveries topic space and a few weeks of internal communication
    (written with the first chunk of customers, which holds the named ones)."""
    if ctx.chunk:
        return
    spaces = services.spaces_ensure_departments()
    deliveries, _created = Space.objects.get_or_create(
        slug="deliveries",
        defaults={
            "name": "Deliveries",
            "kind": Space.Kind.TOPIC,
            "description": "Delivery times, carriers, spare parts.",
        },
    )
    if Post.objects.filter(space=deliveries).exists():
        return  # already seeded
    code = CodeOfConduct.objects.current()
    if code is not None:
        Acceptance.objects.bulk_create(
            [Acceptance(user=user, code=code, accepted_at=ctx.moment(30)) for user in ctx.users.values()],
            ignore_conflicts=True,
        )
    writer = _Writer(ctx)
    named = {c.persona: c.id for c in ctx.customers if c.persona in {"gruber", "complainer"}}
    customers = {c.pk: c for c in Customer.objects.filter(pk__in=list(named.values()))}
    gruber = customers.get(named.get("gruber"))
    _plant_requests(
        writer, spaces, SERVICE_TO_ACCOUNTING, [40, 35, 30, 27, 24, 21, 18, 15, 12, 9, 6, 3], gruber
    )
    _plant_requests(writer, spaces, SALES_TO_SERVICE, [33, 26, 19, 11, 7, 5])
    _plant_requests(writer, spaces, MARKETING_TO_SALES, [28, 14, 8])
    rng = ctx.rng("collab:deliveries")
    for days_ago, author, text in DELIVERY_POSTS:
        post = writer.post(deliveries, author, text, ctx.moment(days_ago, rng), topic="deliveries")
        if author != "manager":
            writer.comment(
                post, "manager", "Thanks, I am on it with logistics.", post.created_at + timedelta(hours=1)
            )
    complainer = customers.get(named.get("complainer"))
    if complainer is not None:
        body = f"#{complainer.customer_number} called again about the late delivery. @service_lead can you call back?"
        post = writer.post(spaces["service"], "service", body, ctx.moment(1, rng), customers=[complainer])
        writer.comment(
            post,
            "service_lead",
            "Called back, replacement ships Friday.",
            post.created_at + timedelta(hours=2),
        )
        writer.customer_events(post, [complainer])
    writer.post(
        spaces["management"],
        "manager",
        "Monday notes: requests are answered faster than last month. Thank you!",
        ctx.moment(1, rng),
    )
    timeline.record_many(writer.events, announce=False)
    ctx.stdout(f"  collab: {Post.objects.count()} posts, {DepartmentRequest.objects.count()} requests")
