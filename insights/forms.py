"""Forms of the insights admin pages: actions with their rules, and outcomes of one's own."""

from __future__ import annotations

from django import forms
from django.forms import inlineformset_factory
from django.utils.translation import gettext_lazy as _

from customer360 import events
from customer360.models import Customer
from customer360.scores import RISK_KINDS
from insights import rules as rule_engine
from insights.features import attribute_column, features
from insights.models import Action, ActionRule, OutcomeDefinition

CURRENT_CUSTOMERS = "customer,at_risk"
ATTRIBUTE_SAMPLE = 2000  # the newest customers whose attribute keys the outcome form offers


class ActionRuleForm(forms.ModelForm):
    """One rule of an action, checked by the rule engine (the same in the Django admin and the app)."""

    class Meta:
        model = ActionRule
        fields = ["kind", "field", "op", "value", "weight", "group", "reason_en", "reason_de"]

    def clean(self):
        data = super().clean()
        if not data.get("field"):
            return data
        problems = rule_engine.validate(
            {"field": data.get("field", ""), "op": data.get("op", ""), "value": data.get("value", "")}
        )
        if problems:
            raise forms.ValidationError("; ".join(problems))
        return data


RuleFormSet = inlineformset_factory(Action, ActionRule, form=ActionRuleForm, extra=1, can_delete=True)


def consent_feature(action: Action) -> str | None:
    """The feature that holds the customer's consent for the action's channel and purpose (None when
    the channel has no consent, e.g. a visit)."""
    name = f"consent_{action.channel}_{action.purpose or 'offers'}"
    return (
        name
        if features.get(name) is not None and action.channel in ("email", "phone", "sms", "letter")
        else None
    )


def default_eligibility(action: Action, *, all_lifecycles: bool, without_consent: bool) -> list[ActionRule]:
    """The safe start of a new action: current customers only, and consent for its channel; each
    widened only when the admin ticked it."""
    rules = []
    if not all_lifecycles:
        rules.append(
            ActionRule(
                action=action, kind=ActionRule.Kind.ELIGIBILITY, field="lifecycle", op=ActionRule.Op.IN,
                value=CURRENT_CUSTOMERS, reason_en="a current customer", reason_de="aktueller Kunde",
            )
        )  # fmt: skip
    consent = consent_feature(action)
    if consent and not without_consent:
        rules.append(
            ActionRule(
                action=action, kind=ActionRule.Kind.ELIGIBILITY, field=consent, op=ActionRule.Op.TRUE,
                reason_en="consented to this channel", reason_de="hat diesem Kanal zugestimmt",
            )
        )  # fmt: skip
    return rules


class ActionForm(forms.ModelForm):
    """An action's own fields; on creation also the two deliberate widenings of its eligibility."""

    all_lifecycles = forms.BooleanField(
        label=_("Also leads, prospects and former customers"),
        required=False,
        help_text=_("Without this tick the action reaches current customers only."),
    )
    without_consent = forms.BooleanField(
        label=_("Also customers who have not consented to the channel"),
        required=False,
        help_text=_("Offers always need consent, whatever this says."),
    )

    class Meta:
        model = Action
        fields = [
            "key", "name_en", "name_de", "description_en", "description_de", "talking_points_en",
            "talking_points_de", "department", "channel", "is_offer", "purpose", "value_fixed", "lever",
            "prior", "label_kind", "label_topic", "label_positive", "success_kinds", "is_active",
        ]  # fmt: skip
        widgets = {
            "description_en": forms.Textarea(attrs={"rows": 2}),
            "description_de": forms.Textarea(attrs={"rows": 2}),
            "talking_points_en": forms.Textarea(attrs={"rows": 3}),
            "talking_points_de": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:  # widening an existing action is done in its rules below
            del self.fields["all_lifecycles"]
            del self.fields["without_consent"]
            self.fields["key"].disabled = True

    def clean_key(self):
        return free_score_key(
            self.cleaned_data["key"], OutcomeDefinition, _("An outcome has this key already.")
        )


def free_score_key(key: str, other, taken: str) -> str:
    """An action's or an outcome's key, refused when a built-in score or the other kind (``other``)
    has it: both name the condition ``customer.score.<key>``."""
    if key in RISK_KINDS:
        raise forms.ValidationError(_("This key names a built-in score."))
    if other.objects.filter(key=key).exists():
        raise forms.ValidationError(taken)
    return key


def known_attributes() -> list[str]:
    """The attribute keys imported customers carry (read from the newest customers)."""
    keys: set[str] = set()
    newest = Customer.objects.not_erased().order_by("-pk").values_list("attributes", flat=True)
    for attributes in newest[:ATTRIBUTE_SAMPLE]:
        if isinstance(attributes, dict):
            keys.update(str(k) for k in attributes)
    return sorted(keys)


def feature_choices(attributes: list[str]) -> list[tuple[str, str]]:
    """Every column a model may use: the registered features and each imported attribute."""
    choices = [(f.name, f.label) for f in features.items.values() if f.model and f.kind != "text"]
    choices += [
        (attribute_column(key), _("%(key)s (imported attribute)") % {"key": key}) for key in attributes
    ]
    return choices


class OutcomeForm(forms.ModelForm):
    """What marks success, over what horizon, and the columns the model may learn from."""

    features = forms.MultipleChoiceField(
        label=_("Feature columns"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("The columns the model may learn from; none ticked means all of them."),
    )

    class Meta:
        model = OutcomeDefinition
        fields = [
            "key", "name_en", "name_de", "success", "event_kind", "horizon_days", "attribute",
            "attribute_values", "features",
        ]  # fmt: skip
        widgets = {"success": forms.RadioSelect}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.attributes = known_attributes()
        kinds = [(k.kind, f"{k.label} ({k.kind})") for k in events.all_kinds()]
        self.fields["event_kind"] = forms.ChoiceField(
            label=_("Event kind"), required=False, choices=[("", "—"), *kinds]
        )
        attributes = [(a, a) for a in self.attributes]
        if self.instance.attribute and self.instance.attribute not in self.attributes:
            attributes.append((self.instance.attribute, self.instance.attribute))
        self.fields["attribute"] = forms.ChoiceField(
            label=_("Attribute"), required=False, choices=[("", "—"), *attributes]
        )
        self.fields["features"].choices = feature_choices(self.attributes)
        self.fields["horizon_days"].min_value = 1
        self.fields["horizon_days"].max_value = 3650
        if self.instance.pk:
            self.fields["key"].disabled = True

    def clean_key(self):
        return free_score_key(self.cleaned_data["key"], Action, _("An action has this key already."))

    def clean_horizon_days(self):
        days = self.cleaned_data["horizon_days"]
        if not 1 <= days <= 3650:
            raise forms.ValidationError(_("Between 1 and 3650 days."))
        return days

    def clean(self):
        data = super().clean()
        success = data.get("success")
        if success == OutcomeDefinition.Success.EVENT and not data.get("event_kind"):
            self.add_error("event_kind", _("Pick the event kind that marks success."))
        if success == OutcomeDefinition.Success.ATTRIBUTE:
            if not data.get("attribute"):
                self.add_error("attribute", _("Pick the attribute that marks success."))
            if not str(data.get("attribute_values", "")).strip():
                self.add_error("attribute_values", _("Name the values that mean success."))
            own = attribute_column(data.get("attribute") or "")
            if own in (data.get("features") or []):
                self.add_error(
                    "features",
                    _("The attribute that marks success cannot be a feature: it gives away the answer."),
                )
        return data
