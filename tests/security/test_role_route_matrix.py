"""The role x route matrix, generated from the URLconf: every page and API route, for every role and
anonymous users, with a customer in the user's scope and one outside it.

- Nothing answers 500, whatever the role, the scope or the method.
- Anonymous users are sent to the login page (pages) or refused (API), except on the public routes.
- A record of a customer out of scope answers like a missing one (404), never with its data; a write
  naming it creates and changes nothing, and leaves every user's scope as it was.
- What each role may open is the reviewed matrix in ``role_route_matrix.txt`` (also in the README);
  a change of access shows up as a diff there. ``UPDATE_ROLE_MATRIX=1`` rewrites the file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import URLResolver, get_resolver

from customer360.models import Customer
from tests.conftest import client_for
from tests.factories import CustomerFactory, assign

MATRIX_FILE = Path(__file__).with_name("role_route_matrix.txt")
ROLES = ["Sales", "Service", "Marketing", "Accounting", "Manager", "Admin"]
# Routes that answer without a login (they authenticate otherwise or are meant to be public).
PUBLIC = re.compile(
    r"^(accounts/(login/|password/reset/)|health/|i18n/setlang/|api/sources/[^/]+/(records|files|webhook)|"
    r"static/|favicon|calendar/)"  # calendar/: the feed's secret in the path is the credential
)
# Resources whose records belong to a customer: they have an in-scope and an out-of-scope variant.
CUSTOMER_BOUND = {"customer", "deal", "activity", "contract", "ticket", "invoice", "payment", "notice"}
CUSTOMER_BOUND |= {"consent", "touch", "recommendation", "assignment"}
RESOURCE_OF_SEGMENT = {
    "customers": "customer",
    "deals": "deal",
    "activities": "activity",
    "contracts": "contract",
    "tickets": "ticket",
    "invoices": "invoice",
    "payments": "payment",
    "notices": "notice",
    "consents": "consent",
    "touches": "touch",
    "recommendations": "recommendation",
    "campaigns": "campaign",
    "segments": "segment",
    "posts": "post",
    "comments": "comment",
    "requests": "request",
    "notifications": "notification",
    "spaces": "space",
    "jobs": "job",
    "topics": "topic",
    "actions": "action",
    "products": "product",
    "pipelines": "pipeline",
    "stages": "stage",
    "policies": "policy",
    "levels": "level",
    "model-versions": "model_version",
    "outcomes": "outcome",
    "access": "assignment",
    "suggestions": "ticket",
    "tokens": "token",
    "runs": "run",
    "history": "deal",  # history/<model>/<pk>/: the matrix opens a deal's history
}
TABLES = [
    "customer360.Customer",
    "customer360.TimelineEvent",
    "customer360.CustomerAssignment",
    "crm.Deal",
    "crm.Activity",
    "crm.Contract",
    "crm.Ticket",
    "billing.Invoice",
    "billing.Payment",
    "marketing.Consent",
    "marketing.Touch",
    "collab.Post",
    "collab.Comment",
]


def routes() -> list[str]:
    """Every route of the URLconf but the Django admin, format-suffix twins and API roots."""
    found = []

    def walk(resolver, prefix=""):
        for pattern in resolver.url_patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern, route)
            elif not (
                route.startswith(("admin/", "static/", "media/"))
                or "format" in route
                or pattern.name == "api-root"
            ):
                found.append(route)

    walk(get_resolver())
    return sorted(set(found))


PARAM = re.compile(r"<(?:(\w+):)?(\w+)>|\(\?P<(\w+)>[^)]*\)")


def resource_of(route: str, param: str, position: int) -> str:
    if param in {"customer_pk"}:
        return "customer"
    if param in {"ticket_pk"}:
        return "ticket"
    if param == "assignment_pk":
        return "assignment"
    words = [w for w in re.split(r"[/^$]+", route[:position]) if w and "<" not in w and "(" not in w]
    return RESOURCE_OF_SEGMENT.get(words[-1] if words else "", "unknown")


def concrete(route: str, objects: dict, variant: str) -> tuple[str, bool]:
    """The route with its parameters filled in from ``objects``; and whether it is customer-bound."""
    bound = False

    def fill(match):
        nonlocal bound
        param = match.group(2) or match.group(3)
        resource = resource_of(route, param, match.start())
        if param in {"slug"} and route.startswith("feed/"):
            return objects["shared"]["space_slug"]
        if param in {"slug"}:
            return objects["shared"]["source_slug"]
        if param == "model":
            return "crm.deal"
        if param == "key" or param == "dashboard":
            return "sales"
        if param in {"chart_key", "chart"}:
            return objects["shared"]["chart"]
        if param == "action":
            return objects["shared"]["actions"].get(route.split("/")[0], "x")
        if resource in CUSTOMER_BOUND:
            bound = True
            return str(objects[variant][resource])
        return str(objects["shared"].get(resource, 1))

    path = PARAM.sub(fill, route).replace("^", "").replace("$", "")
    return "/" + path, bound


@pytest.fixture
def world(import_sandbox, rep, rep2, service_user, marketing_user, accounting_user, manager, admin_user):
    from crm.models import Pipeline, Product, Stage
    from insights.models import Action, OutcomeDefinition, Recommendation
    from marketing.models import Touch
    from tests.billing.factories import make_invoice
    from tests.collab.factories import SpaceFactory, accept_conduct, post
    from tests.crm.factories import make_activity, make_contract, make_deal, make_ticket
    from tests.marketing.factories import CampaignFactory, SegmentFactory, grant

    accept_conduct(rep, rep2, service_user, marketing_user, accounting_user, manager, admin_user)
    objects = {}
    for variant, owner in (("in", rep), ("out", rep2)):
        customer = CustomerFactory(owner=owner, last_name=f"Scope{variant.title()}")
        if variant == "in":
            assign(customer, "accounting", "marketing")
        invoice = make_invoice(customer)
        from billing import services as billing

        payment = billing.invoice_record_payment(invoice=invoice, amount=invoice.gross_total / 2)
        consent = grant(customer)
        campaign = CampaignFactory()
        touch = Touch.objects.create(campaign=campaign, customer=customer, status="sent")
        rec = Recommendation.objects.create(
            customer=customer, action=Action.objects.first(), priority=1, propensity=0.1, value=10
        )
        objects[variant] = {
            "customer": customer.pk,
            "deal": make_deal(owner, customer).pk,
            "activity": make_activity(owner, customer).pk,
            "contract": make_contract(owner, customer, code=f"p{variant}").pk,
            "ticket": make_ticket(owner, customer).pk,
            "invoice": invoice.pk,
            "payment": payment.pk,
            "notice": 1,
            "consent": consent.pk,
            "touch": touch.pk,
            "recommendation": rec.pk,
            "assignment": customer.assignments.first().pk if variant == "in" else 999999,
        }
    from customer360.models import DataSource
    from customer360.sources.models import ImportRun

    space = SpaceFactory()
    first = post(rep, "Hello everyone")
    source = DataSource.objects.create(
        name="ERP", slug="erp", kind=DataSource.Kind.CSV, created_by=admin_user
    )
    run = ImportRun(source=source, file_name="customers.csv", total=1, created_by=admin_user)
    run.file.save("customers.csv", ContentFile(b"name;email\nA;a@example.com\n"), save=False)
    run.save()
    objects["shared"] = {
        "campaign": CampaignFactory().pk,
        "segment": SegmentFactory().pk,
        "space": space.pk,
        "space_slug": space.slug,
        "post": first.pk,
        "product": Product.objects.first().pk,
        "pipeline": Pipeline.objects.first().pk,
        "stage": Stage.objects.first().pk,
        "action": Action.objects.first().pk,
        "outcome": OutcomeDefinition.objects.create(key="matrix", name_en="M", name_de="M", attribute="a").pk,
        "source_slug": source.slug,
        "run": run.pk,
        "chart": "sales.pipeline",
        "actions": {"marketing": "complete", "billing": "issue", "feed": "resolve"},
    }
    return objects


def snapshot(customer_id: int) -> dict:
    """How many rows of each table belong to the customer (its own row, its records, their events)."""
    counts = {}
    for label in TABLES:
        model = apps.get_model(label)
        names = {f.name for f in model._meta.get_fields()}
        if label == "customer360.Customer":
            rows = model.objects.filter(pk=customer_id)
        elif "customer" in names:
            rows = model.objects.filter(customer_id=customer_id)
        elif "invoice" in names:
            rows = model.objects.filter(invoice__customer_id=customer_id)
        else:
            rows = (
                model.objects.filter(customers=customer_id) if "customers" in names else model.objects.all()
            )
        counts[label] = rows.count()
    return counts


def scopes(users: dict) -> dict:
    return {
        role: set(Customer.objects.visible_to(user).values_list("pk", flat=True))
        for role, user in users.items()
    }


@pytest.mark.slow
@pytest.mark.django_db
def test_every_route_for_every_role(world, role_users):
    anonymous = Client()
    rows, failures = [], []
    for route in routes():
        path, bound = concrete(route, world, "in")
        out_path, _ = concrete(route, world, "out")
        answer = anonymous.get(path)
        if not PUBLIC.match(route):
            api = route.startswith("api/") and route not in ("api/docs/", "api/redoc/")  # HTML docs: pages
            ok = (
                answer.status_code in (401, 403)
                if api
                else (answer.status_code == 302 and "/accounts/login/" in answer["Location"])
            )
            if not ok:
                failures.append(f"anonymous GET {path}: {answer.status_code}")
        statuses = []
        for role in ROLES:
            client = client_for(role_users[role])
            status = client.get(path).status_code
            statuses.append(str(status))
            if status >= 500 and route != "health/":  # health answers 503 while no worker runs
                failures.append(f"{role} GET {path}: {status}")
            if bound and role in ("Sales", "Marketing", "Accounting"):
                hidden = client.get(out_path)
                if hidden.status_code not in (403, 404, 405):
                    failures.append(f"{role} GET out of scope {out_path}: {hidden.status_code}")
        rows.append(f"{route} | {' '.join(statuses)}")
    matrix = (
        "# route | " + " ".join(ROLES) + " (status of GET with an in-scope record)\n" + "\n".join(rows) + "\n"
    )
    if os.environ.get("UPDATE_ROLE_MATRIX"):
        MATRIX_FILE.write_text(matrix, encoding="utf-8")
    assert not failures, "\n".join(failures)
    assert matrix == MATRIX_FILE.read_text(encoding="utf-8")


@pytest.mark.slow
@pytest.mark.django_db
def test_writes_naming_an_out_of_scope_customer_change_nothing(world, role_users):
    scoped = {role: role_users[role] for role in ("Sales", "Marketing", "Accounting")}
    out = world["out"]
    before, scope_before = snapshot(out["customer"]), scopes(role_users)
    failures = []
    body = {
        "customer": out["customer"],
        "customer_number": Customer.objects.get(pk=out["customer"]).customer_number,
    }
    for route in routes():
        if PUBLIC.match(route):
            continue
        path, bound = concrete(route, world, "out")
        for role, user in scoped.items():
            client = client_for(user)
            for answer in (
                client.post(path, body),
                client.post(path, body, content_type="application/json"),
            ):
                # 415: the API takes JSON only, so the form-encoded write is refused before anything else.
                if answer.status_code >= 500 or (
                    bound and answer.status_code not in (400, 403, 404, 405, 415)
                ):
                    failures.append(f"{role} POST {path}: {answer.status_code}")
    assert not failures, "\n".join(failures)
    assert snapshot(out["customer"]) == before
    assert scopes(role_users) == scope_before
