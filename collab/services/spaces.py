"""Spaces of the feed: one per department (created on demand) and the ones people open."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import translation
from django.utils.text import slugify
from django.utils.translation import gettext as _

from collab import departments
from collab.models import (
    Space,
    SpaceMembership,
)


def space_for_department(*, department: str) -> Space:
    """The department's own space, created on first use (one per department)."""
    if department not in departments.LABELS:
        raise ValueError(f"unknown department {department!r}")
    with translation.override("en"):
        name = str(departments.LABELS[department])
    space, _created = Space.objects.get_or_create(
        kind=Space.Kind.DEPARTMENT,
        department=department,
        defaults={"name": name, "slug": f"dept-{department}", "visibility": Space.Visibility.PUBLIC},
    )
    return space


def spaces_ensure_departments() -> dict[str, Space]:
    """Every department's space (idempotent; the data migration and the demo call it)."""
    return {key: space_for_department(department=key) for key in departments.KEYS}


def space_create(
    *,
    name: str,
    created_by,
    kind: str = Space.Kind.TOPIC,
    visibility: str = Space.Visibility.PUBLIC,
    description: str = "",
    members: Iterable = (),
) -> Space:
    """A cross-department or topic space; the creator is always a member."""
    if kind == Space.Kind.DEPARTMENT:
        raise ValidationError({"kind": _("Department spaces are created automatically.")})
    base = slugify(name)[:60] or "space"
    slug, n = base, 1
    while Space.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    with transaction.atomic():
        space = Space.objects.create(
            name=name,
            slug=slug,
            kind=kind,
            visibility=visibility,
            description=description,
            created_by=created_by,
        )
        people = {created_by.pk, *(getattr(m, "pk", m) for m in members)}
        SpaceMembership.objects.bulk_create(
            [SpaceMembership(space=space, user_id=pk) for pk in people], ignore_conflicts=True
        )
    return space
