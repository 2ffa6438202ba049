"""Factories and small helpers for the feed's tests."""

import factory

from collab import services
from collab.models import CodeOfConduct, Space


class SpaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Space

    name = factory.Sequence(lambda n: f"Topic {n}")
    slug = factory.Sequence(lambda n: f"topic-{n}")
    kind = Space.Kind.TOPIC
    visibility = Space.Visibility.PUBLIC


def accept_conduct(*users):
    """Let users post: accept the current code of conduct (publishing one if there is none)."""
    code = CodeOfConduct.objects.current() or services.conduct_publish(text="Be kind.", by=None)
    for user in users:
        services.conduct_accept(user=user, code=code)
    return code


def give_department_access(customer, department: str, key: str = ""):
    """Department-scoped roles see the customers assigned to their department."""
    from tests.factories import assign

    assign(customer, department)


def post(author, body, space=None, **kwargs):
    space = space or services.space_for_department(department="service")
    return services.post_create(author=author, space=space, body=body, **kwargs)
