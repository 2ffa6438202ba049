"""Forms of the billing pages. The services decide what is allowed; forms only parse input."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing.models import Invoice, Payment
from customer360.forms import CustomerRefField, DateInput, ScopedForm
from customer360.models import Customer

DATE = DateInput()


class InvoiceFilterForm(forms.Form):
    q = forms.CharField(label=_("Customer"), required=False)
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("Any status")), ("open", _("Open")), *Invoice.Status.choices],
    )
    dunning_level = forms.TypedChoiceField(
        label=_("Dunning level"),
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", _("Any level")), *[(n, str(n)) for n in range(Invoice.MAX_DUNNING_LEVEL + 1)]],
    )
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)


class InvoiceForm(ScopedForm):
    """The head of an invoice. The customer is picked by number or id among those the clerk may see."""

    customer = CustomerRefField(label=_("Customer number"))
    issue_date = forms.DateField(label=_("Issue date"), widget=DATE, initial=timezone.localdate)
    due_date = forms.DateField(label=_("Due date"), widget=DATE)
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, fixed_customer: Customer | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fixed_customer = fixed_customer
        if fixed_customer is not None:
            del self.fields["customer"]

    def clean(self):
        data = super().clean()
        if data.get("issue_date") and data.get("due_date") and data["due_date"] < data["issue_date"]:
            self.add_error("due_date", _("The due date cannot be before the issue date."))
        return data


class InvoiceLineForm(forms.Form):
    product_code = forms.CharField(label=_("Product code"), max_length=40, required=False)
    description = forms.CharField(label=_("Description"), max_length=300)
    quantity = forms.DecimalField(
        label=_("Quantity"), max_digits=12, decimal_places=3, min_value=Decimal("0.001"), initial=1
    )
    unit_price = forms.DecimalField(label=_("Unit price"), max_digits=12, decimal_places=2)
    tax_rate = forms.DecimalField(
        label=_("Tax rate %"),
        max_digits=5,
        decimal_places=2,
        min_value=0,
        max_value=100,
        initial=Decimal("20.00"),
    )

    def has_changed(self) -> bool:
        # A row without description and price is an unused spare row, whatever its defaults say.
        if not (
            self.data.get(self.add_prefix("description")) or self.data.get(self.add_prefix("unit_price"))
        ):
            return False
        return super().has_changed()


class BaseLineFormSet(forms.BaseFormSet):
    def clean(self):
        super().clean()
        if any(self.errors):
            return
        if not self.lines():
            raise forms.ValidationError(_("An invoice needs at least one line."))

    def lines(self) -> list[dict]:
        return [
            form.cleaned_data
            for form in self.forms
            if form.cleaned_data
            and not form.cleaned_data.get("DELETE")
            and form.cleaned_data.get("description")
        ]


InvoiceLineFormSet = forms.formset_factory(InvoiceLineForm, formset=BaseLineFormSet, extra=2, can_delete=True)


class PaymentForm(forms.Form):
    amount = forms.DecimalField(label=_("Amount"), max_digits=12, decimal_places=2, min_value=Decimal("0.01"))
    received_on = forms.DateField(label=_("Received on"), widget=DATE, initial=timezone.localdate)
    method = forms.ChoiceField(
        label=_("Method"), choices=Payment.Method.choices, initial=Payment.Method.BANK_TRANSFER
    )
    reference = forms.CharField(label=_("Reference"), max_length=120, required=False)


class DisputeForm(forms.Form):
    reason = forms.CharField(
        label=_("What does the customer dispute?"), widget=forms.Textarea(attrs={"rows": 2})
    )


class ResolveDisputeForm(forms.Form):
    note = forms.CharField(label=_("Resolution"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class PromiseForm(forms.Form):
    promised_date = forms.DateField(label=_("Promised payment date"), widget=DATE)
    note = forms.CharField(label=_("Note"), required=False)


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), required=False)


class PauseForm(forms.Form):
    until = forms.DateField(label=_("Pause until (empty: until resumed)"), widget=DATE, required=False)
    reason = forms.CharField(label=_("Reason"), required=False)
