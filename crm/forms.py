"""Forms of the sales and service pages (thin: the services validate the workflows)."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from crm.models import Activity, Deal, ExchangeRate, Product, Stage, Ticket
from customer360 import roles
from customer360.forms import CustomerRefField, DateInput, DateTimeInput, ScopedForm
from customer360.models import Channel


def staff_of(*role_names: str):
    return (
        get_user_model()
        .objects.filter(is_active=True, groups__name__in=role_names)
        .distinct()
        .order_by("username")
    )


class QuickActivityForm(ScopedForm):
    """The log-a-call form of the sales panel (no choice fields that would query)."""

    kind = forms.ChoiceField(label=_("Kind"), choices=Activity.Kind.choices, initial=Activity.Kind.CALL)
    subject = forms.CharField(label=_("Subject"), max_length=200)
    outcome = forms.ChoiceField(
        label=_("Outcome"), choices=[("", "—"), *Activity.Outcome.choices], required=False
    )
    notes = forms.CharField(label=_("Notes"), widget=forms.Textarea(attrs={"rows": 2}), required=False)
    follow_up_date = forms.DateField(label=_("Follow-up"), required=False, widget=DateInput())


class ActivityForm(QuickActivityForm):
    customer = CustomerRefField()
    occurred_at = forms.DateTimeField(label=_("When"), required=False, widget=DateTimeInput())


class DealForm(ScopedForm):
    customer = CustomerRefField()
    title = forms.CharField(label=_("Title"), max_length=200)
    amount = forms.DecimalField(label=_("Amount (EUR)"), min_value=0, max_digits=12, decimal_places=2)
    expected_close = forms.DateField(label=_("Expected close"), required=False, widget=DateInput())
    stage = forms.ModelChoiceField(label=_("Stage"), queryset=Stage.objects.none(), required=False)
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=get_user_model().objects.none(), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stage"].queryset = Stage.objects.filter(is_won=False, is_lost=False).select_related(
            "pipeline"
        )
        self.fields["owner"].queryset = staff_of(roles.SALES, roles.MANAGER)


class DealEditForm(forms.ModelForm):
    class Meta:
        model = Deal
        fields = ["title", "amount", "expected_close", "owner"]
        widgets = {"expected_close": DateInput()}
        labels = {"owner": _("Owner")}  # the model field has no translated name of its own

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = staff_of(roles.SALES, roles.MANAGER)


class MoveStageForm(forms.Form):
    stage = forms.ModelChoiceField(
        label=_("Stage"), queryset=Stage.objects.filter(is_won=False, is_lost=False)
    )


class LostForm(forms.Form):
    reason = forms.CharField(label=_("Why was it lost?"), max_length=300)


class ContractForm(ScopedForm):
    customer = CustomerRefField()
    product = forms.ModelChoiceField(label=_("Product"), queryset=Product.objects.filter(is_active=True))
    start = forms.DateField(label=_("Start"), widget=DateInput())
    renewal_date = forms.DateField(label=_("Renewal date"), required=False, widget=DateInput())
    value_per_year = forms.DecimalField(label=_("Value per year (EUR)"), required=False, min_value=0)


class TicketForm(ScopedForm):
    customer = CustomerRefField()
    subject = forms.CharField(label=_("Subject"), max_length=200)
    description = forms.CharField(
        label=_("Description"), widget=forms.Textarea(attrs={"rows": 4}), required=False
    )
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices, initial=Channel.EMAIL)
    category = forms.ChoiceField(label=_("Category"), choices=Ticket.Category.choices)
    priority = forms.ChoiceField(label=_("Priority"), choices=Ticket.Priority.choices, initial="normal")
    assignee = forms.ModelChoiceField(
        label=_("Assignee"), queryset=get_user_model().objects.none(), required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = staff_of(roles.SERVICE)


class TicketEditForm(forms.ModelForm):
    class Meta:
        model = Ticket
        fields = ["subject", "description", "channel", "category", "priority", "assignee"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = staff_of(roles.SERVICE)


class ReplyForm(forms.Form):
    body = forms.CharField(label=_("Message"), widget=forms.Textarea(attrs={"rows": 4}))
    is_internal = forms.BooleanField(label=_("Internal note (not sent to the customer)"), required=False)


class CsatForm(forms.Form):
    # No preset: an empty first choice, so a score is always what the customer said, never a default.
    score = forms.TypedChoiceField(
        label=_("Score"), choices=[("", "—"), *[(i, str(i)) for i in range(1, 6)]], coerce=int
    )
    comment = forms.CharField(label=_("Comment"), widget=forms.Textarea(attrs={"rows": 2}), required=False)


class ExchangeRateForm(forms.ModelForm):
    """One rate: what one unit of the currency is worth in the base currency from a day on."""

    class Meta:
        model = ExchangeRate
        fields = ["currency", "valid_from", "rate"]
        widgets = {"valid_from": DateInput()}

    def clean_currency(self):
        return self.cleaned_data["currency"].strip().upper()

    def validate_unique(self):  # a second rate for the same day replaces the first (the service)
        pass


class ExchangeRatesUploadForm(forms.Form):
    file = forms.FileField(label=_("CSV file (currency, date, rate)"))

    MAX_BYTES = 1_000_000

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > self.MAX_BYTES:
            raise forms.ValidationError(_("The file is larger than 1 MB."))
        raw = upload.read()
        for encoding in ("utf-8-sig", "cp1252"):
            try:
                return raw.decode(encoding)
            except UnicodeDecodeError:
                continue
        raise forms.ValidationError(_("The file is not text."))
