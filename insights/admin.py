from django import forms
from django.contrib import admin

from insights import rules as rule_engine
from insights.models import Action, ActionRule, ContactPolicy, ModelVersion, Recommendation


class ActionRuleForm(forms.ModelForm):
    class Meta:
        model = ActionRule
        fields = ["kind", "field", "op", "value", "weight", "group", "reason_en", "reason_de"]

    def clean(self):
        data = super().clean()
        problems = rule_engine.validate(
            {"field": data.get("field", ""), "op": data.get("op", ""), "value": data.get("value", "")}
        )
        if problems:
            raise forms.ValidationError("; ".join(problems))
        return data


class ActionRuleInline(admin.TabularInline):
    model = ActionRule
    form = ActionRuleForm
    extra = 1


@admin.register(Action)
class ActionAdmin(admin.ModelAdmin):
    list_display = [
        "key",
        "name_en",
        "department",
        "channel",
        "is_offer",
        "value_fixed",
        "lever",
        "is_active",
    ]
    list_editable = ["lever", "is_active"]
    list_filter = ["department", "is_offer", "is_active"]
    inlines = [ActionRuleInline]


@admin.register(ContactPolicy)
class ContactPolicyAdmin(admin.ModelAdmin):
    list_display = ["__str__", "max_offers", "period_days", "cooldown_days", "expiry_days", "holdout_share"]


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["action", "version", "auc", "n", "trained_at", "is_active"]
    readonly_fields = ["action", "version", "path", "n", "auc", "metrics", "data_hash", "trained_at"]


@admin.register(Recommendation)
class RecommendationAdmin(admin.ModelAdmin):
    list_display = ["customer", "action", "status", "rank", "priority", "created_at"]
    list_filter = ["status", "action"]
    raw_id_fields = ["customer", "decided_by", "model_version", "run"]
