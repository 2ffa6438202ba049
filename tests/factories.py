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
