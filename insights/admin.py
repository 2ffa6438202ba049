from django.contrib import admin

from insights.forms import ActionRuleForm
from insights.models import Action, ActionRule, ContactPolicy, ModelVersion, Recommendation


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
