"""factory-boy factories for crm; records that need their timeline event go through the services."""

import factory
from django.utils import timezone

from crm import services
from crm.models import Product, Stage, Ticket
from tests.factories import CustomerFactory


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"p{n}")
    name = factory.LazyAttribute(lambda p: f"Product {p.code}")
    price = 290


def first_stage() -> Stage:
    return (
        Stage.objects.filter(pipeline__is_default=True, is_won=False, is_lost=False).order_by("order").first()
    )


def make_deal(user, customer=None, **kwargs):
    return services.deal_create(
        customer=customer or CustomerFactory(owner=user),
        user=user,
        title=kwargs.pop("title", "Premium"),
        amount=kwargs.pop("amount", 890),
        **kwargs,
    )


def make_ticket(user, customer=None, **kwargs):
    kwargs.setdefault("subject", "Lieferung verspätet")
    kwargs.setdefault("priority", Ticket.Priority.NORMAL)
    return services.ticket_create(customer=customer or CustomerFactory(), user=user, **kwargs)


def make_contract(user, customer, code="basic", **kwargs):
    product = ProductFactory(code=code, name=f"{code.title()} plan")
    return services.contract_create(
        customer=customer, product=product, user=user, start=timezone.localdate(), **kwargs
    )


def make_activity(user, customer, **kwargs):
    kwargs.setdefault("subject", "Check-in")
    return services.activity_log(customer=customer, user=user, **kwargs)
