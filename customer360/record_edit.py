"""The customer record edited in place on the 360 page (htmx): the header turns into a form and back.
Without JavaScript the same URLs work as a page of their own. The write goes through
``services.customer_update`` (permission, scope, validation, timeline)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from customer360 import access, services
from customer360.forms import DateInput
from customer360.models import Customer


class CustomerRecordForm(forms.ModelForm):
    class Meta:
        model = Customer
        fields = services.CUSTOMER_EDITABLE
        widgets = {"birth_date": DateInput()}


def _visible(request, pk: int) -> Customer:
    return get_object_or_404(Customer.objects.visible_to(request.user).select_related("owner"), pk=pk)


def customer_record(request, pk: int):
    """The record's read-only block (what "Cancel" swaps back in)."""
    customer = _visible(request, pk)
    return render(request, "customer360/_customer_record.html", {"customer": customer})


@access.permission_required("customer360.change_customer")
def customer_edit(request, pk: int):
    """GET: the form in place of the record; POST: save through the service, or the form with its errors."""
    customer = _visible(request, pk)
    form = CustomerRecordForm(request.POST or None, instance=Customer.objects.get(pk=customer.pk))
    if request.method == "POST" and form.is_valid():
        changes = {name: form.cleaned_data[name] for name in services.CUSTOMER_EDITABLE}
        try:
            changed = services.customer_update(customer=customer, user=request.user, changes=changes)
        except ValidationError as exc:
            for field, reasons in exc.message_dict.items():
                for reason in reasons:
                    form.add_error(field if field in form.fields else None, reason)
        else:
            if not request.htmx:
                messages.success(request, _("Saved.") if changed else _("Nothing changed."))
                return redirect(customer)
            response = render(
                request, "customer360/_customer_record.html", {"customer": customer, "saved": bool(changed)}
            )
            response["HX-Trigger"] = "timeline-changed"
            return response
    template = "customer360/_customer_record_form.html" if request.htmx else "customer360/customer_edit.html"
    return render(request, template, {"customer": customer, "form": form})
