"""Erasure (GDPR Art. 17): requested with a reason, approved by a second person, executed by a
worker that asks every registered contributor to remove or anonymise the person's data.

Invoices and payments stay (legal retention, e.g. 7 years under the Austrian BAO) and point at
the customer row, which remains as a pseudonym ("ERASED-000012") without any personal field.
The identifiers go to the suppression list as keyed hashes first, in the same transaction, so no
import can slip the person back in between.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from customer360 import celery, roles
from customer360.models import Customer, CustomerIdentity
from customer360.privacy import suppression
from customer360.privacy.models import ErasureRequest
from customer360.privacy.registry import subject_data
from customer360.privacy.text import Needles

logger = logging.getLogger(__name__)


def can_handle_erasure(user) -> bool:
    """Erasure is for administrators (requesting, and approving someone else's request)."""
    return roles.has_role(user, roles.ADMIN)


def erasure_request_create(*, customer: Customer, user, reason: str) -> ErasureRequest:
    if not can_handle_erasure(user):
        raise PermissionDenied(_("Only administrators may request an erasure."))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Give the reason for the erasure (e.g. the person's request of 3 May)."))
    if ErasureRequest.objects.filter(customer=customer, status__in=_OPEN).exists():
        raise ValidationError(_("An erasure request for this customer is already open."))
    return ErasureRequest.objects.create(customer=customer, requested_by=user, reason=reason[:5000])


_OPEN = (ErasureRequest.Status.REQUESTED, ErasureRequest.Status.APPROVED, ErasureRequest.Status.RUNNING)


def erasure_request_approve(*, request: ErasureRequest, user) -> ErasureRequest:
    """A second administrator approves; the worker executes after commit."""
    if not can_handle_erasure(user):
        raise PermissionDenied(_("Only administrators may approve an erasure."))
    if request.requested_by_id == user.pk:
        raise ValidationError(_("A second person must approve: you filed this request yourself."))
    changed = ErasureRequest.objects.filter(pk=request.pk, status=ErasureRequest.Status.REQUESTED).update(
        status=ErasureRequest.Status.APPROVED, approved_by=user, approved_at=timezone.now()
    )
    if not changed:
        raise ValidationError(_("Only a request waiting for approval can be approved."))
    transaction.on_commit(lambda: celery.task("customer360.privacy.tasks.execute_erasure").delay(request.pk))
    request.refresh_from_db()
    return request


def erasure_request_retry(*, request: ErasureRequest, user) -> ErasureRequest:
    """Run a failed erasure again (after its cause, e.g. an unreachable file store, is fixed). The
    request was approved by a second person already, so it goes back to "approved" and the worker
    executes it after commit. The database part of an execution is one transaction (a failed run
    changed nothing there); import files it rewrote stay rewritten, and rewriting them again is
    harmless. Refused while another request for the customer is open."""
    if not can_handle_erasure(user):
        raise PermissionDenied(_("Only administrators may retry an erasure."))
    others = ErasureRequest.objects.filter(customer_id=request.customer_id, status__in=_OPEN)
    if others.exclude(pk=request.pk).exists():
        raise ValidationError(_("Another erasure request for this customer is open."))
    changed = ErasureRequest.objects.filter(
        pk=request.pk, status=ErasureRequest.Status.FAILED, approved_by__isnull=False
    ).update(status=ErasureRequest.Status.APPROVED, error="")
    if not changed:
        raise ValidationError(_("Only a failed erasure can be retried."))
    logger.info("erasure request %s retried by user %s", request.pk, user.pk)
    transaction.on_commit(lambda: celery.task("customer360.privacy.tasks.execute_erasure").delay(request.pk))
    request.refresh_from_db()
    return request


def erasure_request_reject(*, request: ErasureRequest, user, reason: str = "") -> ErasureRequest:
    if not can_handle_erasure(user):
        raise PermissionDenied(_("Only administrators may reject an erasure."))
    changed = ErasureRequest.objects.filter(pk=request.pk, status=ErasureRequest.Status.REQUESTED).update(
        status=ErasureRequest.Status.REJECTED, rejected_reason=(reason or "")[:300]
    )
    if not changed:
        raise ValidationError(_("Only a request waiting for approval can be rejected."))
    request.refresh_from_db()
    return request


def _identifiers(customer: Customer) -> list[tuple[str, str, str]]:
    found = list(CustomerIdentity.objects.filter(customer=customer).values_list("kind", "source", "value"))
    if customer.email:
        found.append(("email", "", customer.email))
    if customer.phone:
        found.append(("phone", "", customer.phone))
    return found


def erasure_execute(*, request_id: int) -> ErasureRequest | None:
    """Erase the person: claim the approved request, suppress the identifiers, let every
    contributor erase (the core last: it empties the profile the others' needles came from)."""
    claimed = ErasureRequest.objects.filter(pk=request_id, status=ErasureRequest.Status.APPROVED).update(
        status=ErasureRequest.Status.RUNNING
    )
    if not claimed:
        return None
    request = ErasureRequest.objects.select_related("customer").get(pk=request_id)
    try:
        with transaction.atomic():
            customer = Customer.objects.select_for_update().get(pk=request.customer_id)
            identifiers = _identifiers(customer)
            request.needles = Needles.of(customer, identifiers)
            counts = {"suppressed": suppression.suppress(request=request, identifiers=identifiers)}
            for item in reversed(subject_data.all()):
                for kind, number in item.erase(customer, request).items():
                    counts[f"{item.key}.{kind}"] = number
            ErasureRequest.objects.filter(pk=request.pk).update(
                status=ErasureRequest.Status.EXECUTED, executed_at=timezone.now(), counts=counts, error=""
            )
    except Exception as exc:
        ErasureRequest.objects.filter(pk=request.pk).update(
            status=ErasureRequest.Status.FAILED, error=type(exc).__name__
        )
        logger.exception("erasure request %s failed", request.pk)
        raise
    logger.info("erasure request %s executed", request.pk)
    request.refresh_from_db()
    return request
