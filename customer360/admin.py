from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from customer360.audit import admin as audit_admin  # noqa: F401 - registers the access log (read-only)
from customer360.models import (
    ApiToken,
    Customer,
    CustomerIdentity,
    DataSource,
    Job,
    RoleSecurityPolicy,
    StaffProfile,
    TimelineEvent,
)
from customer360.services import api_token_revoke


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

    def has_delete_permission(self, request, obj=None) -> bool:
        """Erasure (customer page > Privacy) is the only way to remove a person."""
        return False


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


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Admins see every personal API token and revoke them; secrets exist only as hashes."""

    list_display = [
        "name",
        "user",
        "prefix",
        "scopes",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "expires_at"]
    search_fields = ["name", "prefix", "user__username"]
    list_select_related = ["user"]
    readonly_fields = [
        "user",
        "name",
        "prefix",
        "scopes",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # a token is created by its user, who sees the secret once

    @admin.action(description=_("Revoke the selected tokens"), permissions=["change"])
    def revoke(self, request, queryset):
        tokens = list(queryset.filter(revoked_at__isnull=True))
        for token in tokens:
            api_token_revoke(token=token, by=request.user)
        self.message_user(
            request,
            ngettext("%(n)d token revoked.", "%(n)d tokens revoked.", len(tokens)) % {"n": len(tokens)},
            messages.SUCCESS,
        )


@admin.register(RoleSecurityPolicy)
class RoleSecurityPolicyAdmin(admin.ModelAdmin):
    """Which roles must confirm each sign-in with an authenticator app."""

    list_display = ["group", "require_second_factor"]
    list_editable = ["require_second_factor"]
