"""Forms of the marketing pages."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from customer360.registry import conditions
from marketing.models import Campaign, Consent, ConsentChannel, Purpose, Segment

MAX_RULE_ROWS = 30


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = ["name", "channel", "purpose", "audience", "starts_at", "ends_at", "description"]
        widgets = {
            "starts_at": DateTimeInput(),
            "ends_at": DateTimeInput(),
            "description": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["audience"].empty_label = _("Everybody who allows the contact")

    def clean(self):
        data = super().clean()
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] < data["starts_at"]:
            self.add_error("ends_at", _("The end lies before the start."))
        return data


class SegmentForm(forms.ModelForm):
    """The segment's fields; the rules come from the editor's rows (see :func:`rules_from_data`)."""

    class Meta:
        model = Segment
        fields = ["name", "description", "match", "requires_channel", "requires_purpose"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def clean(self):
        data = super().clean()
        if bool(data.get("requires_channel")) != bool(data.get("requires_purpose")):
            self.add_error(
                "requires_purpose", _("Give both channel and purpose of the required consent, or neither.")
            )
        return data


def rules_from_data(data) -> list[dict]:
    """The rule rows of the editor (``rule-<n>-field/op/value``); rows without a field are skipped."""
    rules = []
    for index in range(MAX_RULE_ROWS):
        field = (data.get(f"rule-{index}-field") or "").strip()
        if not field:
            continue
        rules.append(
            {
                "field": field,
                "op": data.get(f"rule-{index}-op") or "eq",
                "value": data.get(f"rule-{index}-value", ""),
            }
        )
    return rules


def condition_options() -> list[dict]:
    """The fields a rule can use, grouped for the select box."""
    return [
        {
            "key": c.key,
            "label": str(c.label),
            "department": c.department,
            "value_type": c.value_type,
            "operators": c.operators,
            "choices": c.choices,
        }
        for c in sorted(conditions.items.values(), key=lambda c: (c.order, c.key))
    ]


class ConsentGrantForm(forms.Form):
    channel = forms.ChoiceField(label=_("Channel"), choices=ConsentChannel.choices)
    purpose = forms.ChoiceField(label=_("Purpose"), choices=Purpose.choices)
    method = forms.ChoiceField(label=_("How was it given?"), choices=Consent.Method.choices)
    source = forms.CharField(label=_("Source (form URL, document, call)"), max_length=200, required=False)
    wording_version = forms.CharField(label=_("Wording version"), max_length=40, required=False)
    confirmed = forms.BooleanField(
        label=_("E-mail double opt-in already confirmed (proof on file)"), required=False
    )


class ConsentWithdrawForm(forms.Form):
    channel = forms.ChoiceField(label=_("Channel"), choices=ConsentChannel.choices)
    purpose = forms.ChoiceField(label=_("Purpose"), choices=Purpose.choices)
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)


class AddRecipientForm(forms.Form):
    customer_number = forms.CharField(label=_("Customer number"), max_length=40)
