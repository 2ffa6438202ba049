"""Core workflows: notes on the timeline, personal API tokens."""

from __future__ import annotations

import datetime
import hashlib
import logging
import secrets
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import connection
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from customer360 import access, roles, timeline
from customer360.events_core import CUSTOMER_CHANGED, NOTE_ADDED
from customer360.models import (
    API_AREAS,
    API_TOKEN_PREFIX,
    ApiToken,
    Customer,
    CustomerAssignment,
    Department,
    TimelineEvent,
    api_scope,
)

logger = logging.getLogger(__name__)


def note_add(*, customer: Customer, user, text: str, token: str) -> TimelineEvent:
    """A free note by any employee, filed under the author's department."""
    departments = roles.departments_of(user)
    event, _created = NOTE_ADDED.record(
        customer=customer,
        department=departments[0] if departments else Department.INTERNAL,
        payload=NOTE_ADDED.payload(name=user.get_full_name() or user.get_username()),
        summary=text,
        actor=user,
        key=timeline.idempotency_key("core.note", customer.pk, token),
    )
    return event


# --- Who works with a customer ---------------------------------------------------------------------
def customer_assign(
    *, customer: Customer, by, department: str = "", user=None, reason: str = ""
) -> CustomerAssignment:
    """Put ``customer`` into a department's or a person's scope: a lead's or an admin's recorded
    decision. ``by`` needs the permission and must see the customer; an active assignment of the
    same kind is returned as it is."""
    access.require(by, "customer360.add_customerassignment")
    if not Customer.objects.visible_to(by).filter(pk=customer.pk).exists():
        raise Http404
    if bool(department) == (user is not None):
        raise ValidationError({"department": _("Choose a department or a person, not both.")})
    if department and department not in ASSIGNABLE_DEPARTMENTS:
        raise ValidationError({"department": _("This department cannot be assigned customers.")})
    existing = CustomerAssignment.objects.active().filter(customer=customer, department=department, user=user)
    if found := existing.first():
        return found
    return CustomerAssignment.objects.create(
        customer=customer,
        department=department,
        user=user,
        reason=reason[:200],
        granted_by=by,
        origin=CustomerAssignment.Origin.MANUAL,
    )


def assignment_revoke(*, assignment: CustomerAssignment, by) -> CustomerAssignment:
    """End an assignment; the row stays as the record of who decided what and when."""
    access.require(by, "customer360.delete_customerassignment")
    if assignment.revoked_at is None:
        assignment.revoked_at = timezone.now()
        assignment.revoked_by = by
        assignment.save(update_fields=["revoked_at", "revoked_by"])
    return assignment


def departments_assign(
    pairs: Iterable[tuple[int, str]], *, origin: str = CustomerAssignment.Origin.IMPORT, reason: str = ""
) -> None:
    """Assign customers to departments in bulk (an admin's import into a department, demo data);
    pairs that are already assigned stay as they are."""
    rows = {
        (customer_id, department) for customer_id, department in pairs if department in ASSIGNABLE_DEPARTMENTS
    }
    if not rows:
        return
    now = timezone.now()
    CustomerAssignment.objects.bulk_create(
        [
            CustomerAssignment(
                customer_id=c, department=d, origin=origin, reason=reason[:200], created_at=now
            )
            for c, d in sorted(rows)
        ],
        ignore_conflicts=True,
        batch_size=5000,
    )


def departments_assign_from_records(*, origin: str, reason: str = "") -> None:
    """Assign every customer to the departments it has timeline records of (demo data, which
    stands for what admins imported into each department). One INSERT ... SELECT."""
    table, events = CustomerAssignment._meta.db_table, TimelineEvent._meta.db_table
    departments = sorted(ASSIGNABLE_DEPARTMENTS)
    placeholders = ", ".join(["%s"] * len(departments))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (customer_id, department, origin, reason, created_at)"  # noqa: S608
            f" SELECT DISTINCT customer_id, department, %s, %s, %s FROM {events}"
            f" WHERE department IN ({placeholders}) ON CONFLICT DO NOTHING",
            [origin, reason[:200], timezone.now(), *departments],
        )


ASSIGNABLE_DEPARTMENTS = frozenset(
    {Department.SALES, Department.SERVICE, Department.MARKETING, Department.ACCOUNTING}
)


def api_token_create(
    *, user, name: str, scopes: list[str], expires_at: datetime.datetime
) -> tuple[ApiToken, str]:
    """A new personal API token; only the hash of the secret is kept, so show the returned secret once."""
    unknown = set(scopes) - {api_scope(area, write) for area in API_AREAS for write in (False, True)}
    if unknown:
        raise ValueError(f"unknown scopes: {sorted(unknown)}")
    secret = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=secret[: len(API_TOKEN_PREFIX) + 6],
        token_hash=api_token_hash(secret),
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
    )
    logger.info("api token %s created for user %s", token.pk, user.pk)
    return token, secret


def api_token_revoke(*, token: ApiToken, by) -> None:
    """The token stops working at once (kept, so its history stays visible)."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        logger.info("api token %s revoked by user %s", token.pk, by.pk)


def api_token_hash(secret: str) -> str:
    # The secret is 256 bits of randomness: a plain SHA-256 cannot be brute-forced, no slow hash needed.
    return hashlib.sha256(secret.encode()).hexdigest()


def api_token_for(secret: str) -> ApiToken | None:
    """The usable token with this secret, with its user; None for anything else."""
    if not secret.startswith(API_TOKEN_PREFIX):
        return None
    return ApiToken.objects.usable().select_related("user").filter(token_hash=api_token_hash(secret)).first()


# --- The customer record ---------------------------------------------------------------------------
CUSTOMER_EDITABLE = (
    "kind",
    "first_name",
    "last_name",
    "company",
    "email",
    "phone",
    "street",
    "postcode",
    "city",
    "country",
    "birth_date",
    "preferred_language",
    "lifecycle",
)


def customer_update(*, customer: Customer, user, changes: dict) -> list[str]:
    """Change the core fields of a visible customer; validated like any write, recorded on the
    timeline as one "record changed" event that names the fields (not their values: the timeline
    is read widely, the change history keeps the values). Returns the changed field names."""
    access.require(user, "customer360.change_customer")
    if not Customer.objects.visible_to(user).filter(pk=customer.pk).exists():
        raise Http404
    unknown = set(changes) - set(CUSTOMER_EDITABLE)
    if unknown:
        raise ValidationError({name: _("This field cannot be changed here.") for name in sorted(unknown)})
    changed = [name for name, value in changes.items() if getattr(customer, name) != value]
    if not changed:
        return []
    for name in changed:
        setattr(customer, name, changes[name])
    customer.full_clean(exclude=["customer_number", "owner", "search_key"])
    customer.save()
    CUSTOMER_CHANGED.record(
        customer=customer,
        department=(roles.departments_of(user) or [Department.INTERNAL])[0],
        actor=user,
        payload=CUSTOMER_CHANGED.payload(name=user.get_full_name() or user.get_username(), fields=changed),
        key=timeline.idempotency_key(
            "core.customer_changed", customer.pk, timezone.now().isoformat(), *changed
        ),
    )
    logger.info("customer %s changed by user %s: %s", customer.pk, user.pk, ",".join(changed))
    return changed
