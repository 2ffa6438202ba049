from django.contrib import admin

from customer360.models import (
    Customer,
    CustomerIdentity,
    DataSource,
    Job,
    RoleSecurityPolicy,
    StaffProfile,
    TimelineEvent,
)


class IdentityInline(admin.TabularInline):
    model = CustomerIdentity
    extra = 0


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["customer_number", "display_name", "company", "city", "country", "owner", "lifecycle"]
    list_filter = ["lifecycle", "kind", "country"]
    search_fields = ["customer_number", "last_name", "company", "email"]
    raw_id_fields = ["owner"]
    inlines = [IdentityInline]


@admin.register(TimelineEvent)
class TimelineEventAdmin(admin.ModelAdmin):
    """Read-only: events are written only through customer360.timeline.record."""

    list_display = ["occurred_at", "customer", "department", "kind", "title"]
    list_filter = ["department", "channel"]
    raw_id_fields = ["customer", "actor"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


admin.site.register(DataSource)
admin.site.register(StaffProfile)
admin.site.register(Job)


@admin.register(RoleSecurityPolicy)
class RoleSecurityPolicyAdmin(admin.ModelAdmin):
    """Which roles must confirm each sign-in with an authenticator app."""

    list_display = ["group", "require_second_factor"]
    list_editable = ["require_second_factor"]
