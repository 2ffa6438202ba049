from django.contrib import admin

from crm.models import (
    Activity,
    BusinessHours,
    ClosingDay,
    Contract,
    Deal,
    ExchangeRate,
    Order,
    OrderLine,
    Pipeline,
    Product,
    Satisfaction,
    SlaPolicy,
    Stage,
    Ticket,
    TicketMessage,
)


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "price", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name", "code"]


@admin.register(Contract)
class ContractAdmin(admin.ModelAdmin):
    list_display = ["customer", "product", "status", "start", "renewal_date", "value_per_year"]
    list_filter = ["status", "product"]
    raw_id_fields = ["customer"]
    list_select_related = ["customer", "product"]


class StageInline(admin.TabularInline):
    model = Stage
    extra = 0


@admin.register(Pipeline)
class PipelineAdmin(admin.ModelAdmin):
    list_display = ["name", "is_default"]
    inlines = [StageInline]


@admin.register(Deal)
class DealAdmin(admin.ModelAdmin):
    list_display = ["title", "customer", "stage", "amount", "status", "owner", "created_at"]
    list_filter = ["status", "stage"]
    search_fields = ["title"]
    raw_id_fields = ["customer"]
    list_select_related = ["customer", "stage", "owner"]


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ["subject", "kind", "customer", "outcome", "occurred_at", "user"]
    list_filter = ["kind", "outcome"]
    raw_id_fields = ["customer", "deal"]
    list_select_related = ["customer", "user"]


@admin.register(BusinessHours)
class BusinessHoursAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "start",
        "end",
        "weekdays",
        "timezone",
        "country",
        "subdivision",
        "holiday_categories",
    ]


@admin.register(ClosingDay)
class ClosingDayAdmin(admin.ModelAdmin):
    """The company's own closing days (24/31 December, bridge days) on top of the public holidays."""

    list_display = ["date", "name", "closes_at", "every_year"]
    list_filter = ["every_year"]
    date_hierarchy = "date"


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = ["priority", "first_response_minutes", "resolution_minutes"]


class TicketMessageInline(admin.TabularInline):
    model = TicketMessage
    extra = 0
    raw_id_fields = ["author"]


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "subject",
        "customer",
        "category",
        "priority",
        "status",
        "sla_breached_first_response",
        "sla_breached_resolution",
        "opened_at",
    ]
    list_filter = ["status", "priority", "category", "sla_breached_first_response", "sla_breached_resolution"]
    search_fields = ["subject"]
    raw_id_fields = ["customer", "assignee"]
    list_select_related = ["customer"]
    inlines = [TicketMessageInline]


@admin.register(Satisfaction)
class SatisfactionAdmin(admin.ModelAdmin):
    list_display = ["ticket", "score", "created_at"]
    raw_id_fields = ["ticket"]


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    """The rate table admins maintain: imported orders in other currencies convert at it."""

    list_display = ["currency", "valid_from", "rate", "created_by", "created_at"]
    list_filter = ["currency"]
    date_hierarchy = "valid_from"
    readonly_fields = ["created_by", "created_at"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    readonly_fields = ["key", "stock_code", "description", "quantity", "unit_price", "amount", "amount_base"]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["number", "customer", "ordered_at", "currency", "total", "total_base", "is_cancellation"]
    list_filter = ["currency", "is_cancellation"]
    search_fields = ["number"]
    raw_id_fields = ["customer"]
    inlines = [OrderLineInline]
