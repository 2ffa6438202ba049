from django.contrib import admin

from marketing.models import Campaign, Consent, ConsentChange, ConsentWording, Segment, Touch


class ConsentChangeInline(admin.TabularInline):
    model = ConsentChange
    extra = 0
    can_delete = False
    readonly_fields = [
        "changed_at",
        "changed_by",
        "old_status",
        "new_status",
        "method",
        "source",
        "wording_version",
        "reason",
    ]


@admin.register(Consent)
class ConsentAdmin(admin.ModelAdmin):
    list_display = ["customer", "channel", "purpose", "status", "granted_at", "confirmed_at", "withdrawn_at"]
    list_filter = ["channel", "purpose", "status", "method"]
    raw_id_fields = ["customer"]
    search_fields = ["customer__customer_number", "customer__last_name"]
    inlines = [ConsentChangeInline]
    list_select_related = ["customer"]


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ["name", "match", "requires_channel", "requires_purpose", "updated_at"]
    search_fields = ["name"]


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "channel", "purpose", "status", "starts_at", "ends_at"]
    list_filter = ["status", "channel", "purpose"]
    search_fields = ["name"]
    raw_id_fields = ["audience"]


@admin.register(Touch)
class TouchAdmin(admin.ModelAdmin):
    list_display = ["campaign", "customer", "status", "occurred_at"]
    list_filter = ["status"]
    raw_id_fields = ["campaign", "customer"]
    list_select_related = ["campaign", "customer"]


@admin.register(ConsentWording)
class ConsentWordingAdmin(admin.ModelAdmin):
    """The texts people were shown when they consented (the proof names the version)."""

    list_display = ["version", "language", "valid_from"]
    search_fields = ["version", "text"]
