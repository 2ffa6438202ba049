"""The privacy page of a customer (administrators only): subject access exports and erasure."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from customer360 import access
from customer360.privacy import erasure, exports
from customer360.privacy.hooks import export_downloaded
from customer360.privacy.models import ErasureRequest, SubjectExport


def _admin_customer(request: HttpRequest, pk: int):
    if not erasure.can_handle_erasure(request.user):
        raise PermissionDenied(_("The privacy page is for administrators."))
    return access.visible_customer(request.user, pk)


def _error_text(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def customer_privacy(request: HttpRequest, pk: int) -> HttpResponse:
    """Exports of the customer's data and erasure requests, with the buttons to start them."""
    customer = _admin_customer(request, pk)
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "export":
            exports.subject_export_start(customer=customer, user=request.user)
            messages.success(request, _("The export is being prepared."))
            return redirect("customer360:customer_privacy", pk=customer.pk)
        if action != "erase":
            raise Http404
        try:
            erasure.erasure_request_create(
                customer=customer, user=request.user, reason=request.POST.get("reason", "")
            )
        except ValidationError as exc:
            messages.error(request, _error_text(exc))
        else:
            messages.success(request, _("Erasure requested. A second administrator must approve it."))
            return redirect("customer360:customer_privacy", pk=customer.pk)
    context = {
        "customer": customer,
        "exports": SubjectExport.objects.filter(customer=customer)[:20],
        "requests": ErasureRequest.objects.filter(customer=customer).select_related(
            "requested_by", "approved_by"
        ),
    }
    return render(
        request, "privacy/customer_privacy.html", context, status=400 if request.method == "POST" else 200
    )


def export_progress(request: HttpRequest, pk: int, export_pk: int) -> HttpResponse:
    """The progress row of one export, polled by htmx until it is finished."""
    customer = _admin_customer(request, pk)
    export = get_object_or_404(SubjectExport, pk=export_pk, customer=customer)
    return render(request, "privacy/_export_row.html", {"customer": customer, "export": export})


def export_download(request: HttpRequest, pk: int, export_pk: int) -> FileResponse:
    customer = _admin_customer(request, pk)
    export = get_object_or_404(SubjectExport, pk=export_pk, customer=customer)
    if export.status != SubjectExport.Status.DONE or not export.file:
        raise Http404
    export_downloaded(request, export)
    return FileResponse(
        export.file.open("rb"),
        as_attachment=True,
        filename=f"subject-export-{customer.customer_number}-{export.pk}.zip",
        content_type="application/zip",
    )


@require_POST
def erasure_decide(request: HttpRequest, pk: int, request_pk: int, decision: str) -> HttpResponse:
    """Approve (a second administrator: never the requester) or reject an erasure request, or retry
    one whose execution failed."""
    customer = _admin_customer(request, pk)
    erasure_request = get_object_or_404(ErasureRequest, pk=request_pk, customer=customer)
    try:
        if decision == "approve":
            erasure.erasure_request_approve(request=erasure_request, user=request.user)
            messages.success(request, _("Erasure approved; it is being executed."))
        elif decision == "reject":
            erasure.erasure_request_reject(
                request=erasure_request, user=request.user, reason=request.POST.get("reason", "")
            )
            messages.success(request, _("Erasure request rejected."))
        elif decision == "retry":
            erasure.erasure_request_retry(request=erasure_request, user=request.user)
            messages.success(request, _("The erasure is being executed again."))
        else:
            raise Http404
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
    return redirect("customer360:customer_privacy", pk=customer.pk)
