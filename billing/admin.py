"""Admin registration: read-mostly, because state changes belong to the services (timeline!)."""

from django.contrib import admin

from billing.models import DunningLevel, DunningNotice, DunningPolicy, Invoice, InvoiceLine, Payment


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0


class PaymentInline(admin.TabularInline):
    model = Payment
    extra = 0
    readonly_fields = ["amount", "received_at", "method", "reference", "created_by"]
    can_delete = False


class DunningNoticeInline(admin.TabularInline):
    model = DunningNotice
    extra = 0
    readonly_fields = ["level", "fee", "channel", "language", "sent_at", "delivered_at"]
    exclude = ["text"]
    can_delete = False


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "customer",
        "issue_date",
        "due_date",
        "status",
        "gross_total",
        "paid_amount",
        "dunning_level",
    ]
    list_filter = ["status", "dunning_level", "disputed", "dunning_paused"]
    search_fields = ["number", "customer__customer_number", "customer__last_name", "customer__company"]
    raw_id_fields = ["customer", "created_by"]
    readonly_fields = [
        "net_total",
        "tax_total",
        "gross_total",
        "fees_total",
        "paid_amount",
        "last_dunned_on",
        "revision",
    ]
    date_hierarchy = "issue_date"
    inlines = [InvoiceLineInline, PaymentInline, DunningNoticeInline]
    list_select_related = ["customer"]


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = ["invoice", "amount", "received_at", "method", "reference"]
    list_filter = ["method"]
    search_fields = ["invoice__number", "reference"]
    raw_id_fields = ["invoice", "created_by"]
    list_select_related = ["invoice"]


class DunningLevelInline(admin.StackedInline):
    model = DunningLevel
    extra = 0


@admin.register(DunningPolicy)
class DunningPolicyAdmin(admin.ModelAdmin):
    list_display = ["name", "is_active"]
    inlines = [DunningLevelInline]


@admin.register(DunningNotice)
class DunningNoticeAdmin(admin.ModelAdmin):
    list_display = ["invoice", "level", "fee", "channel", "language", "sent_at", "delivered_at"]
    list_filter = ["level", "channel", "language"]
    search_fields = ["invoice__number"]
    raw_id_fields = ["invoice"]
    list_select_related = ["invoice"]
