"""factory-boy factories for the core models; apps add theirs in tests/<app>/factories.py."""

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from customer360.models import Customer, StaffProfile


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name", locale="de_AT")
    last_name = factory.Faker("last_name", locale="de_AT")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")

    @factory.post_generation
    def password(self, create, extracted, **kwargs):
        self.set_password(extracted or "demo")
        if create:
            self.save(update_fields=["password"])

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(Group.objects.get(name=extracted))

    @factory.post_generation
    def team(self, create, extracted, **kwargs):
        if create:
            StaffProfile.objects.update_or_create(user=self, defaults={"team": extracted or ""})


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    first_name = factory.Faker("first_name", locale="de_AT")
    last_name = factory.Faker("last_name", locale="de_AT")
    email = factory.Sequence(lambda n: f"customer{n}@example.at")
    city = "Wien"
    postcode = "1010"
    country = "AT"
    lifecycle = Customer.Lifecycle.CUSTOMER


def assign(customer, *departments: str):
    """Put ``customer`` into departments' scope, as a lead's recorded decision would."""
    from customer360.models import CustomerAssignment

    for department in departments:
        CustomerAssignment.objects.get_or_create(
            customer=customer, department=department, revoked_at=None, defaults={"reason": "test"}
        )
    return customer


def assigning_new_customers(department: str):
    """A context in which every customer created is assigned to ``department`` (the tests of a
    department's own work, whose customers would come from an import into that department)."""
    from contextlib import contextmanager

    from django.db.models.signals import post_save

    from customer360.models import Customer

    @contextmanager
    def context():
        def handler(sender, instance, created, **kwargs):
            if created:
                assign(instance, department)

        post_save.connect(handler, sender=Customer, weak=False, dispatch_uid=f"test-assign-{department}")
        try:
            yield
        finally:
            post_save.disconnect(sender=Customer, dispatch_uid=f"test-assign-{department}")

    return context()


def unassigned(customer):
    """``customer`` without any department assignment (out of a department's scope)."""
    customer.assignments.all().delete()
    return customer
