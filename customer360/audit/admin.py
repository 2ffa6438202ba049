"""The access log in Django's admin: read-only, for administrators (the app's Admin role) only.

The pages under /audit/ are where admins work with the log; the admin view is there for the ones who
look for a row by its id, user or customer id the Django way. Nothing can be added, changed or
deleted here (the log is append-only, and PostgreSQL triggers refuse changes anyway).
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from customer360 import roles
from customer360.audit.access import rows_about
from customer360.audit.display import access_what
from customer360.audit.models import AccessLog, AccessLogCustomer

NAMED_SHOWN = 50


class ReadOnlyForAdmins(admin.ModelAdmin):
    """Viewable by the Admin role, never added, changed or deleted through the admin."""

    def has_view_permission(self, request, obj=None) -> bool:
        return roles.has_role(request.user, roles.ADMIN)

    def has_module_permission(self, request) -> bool:
        return roles.has_role(request.user, roles.ADMIN)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AccessLog)
class AccessLogAdmin(ReadOnlyForAdmins):
    list_display = [
        "at",
        "username",
        "action",
        "what_shown",
        "customer_id",
        "customer_count",
        "rows",
        "client_ip",
    ]
    list_filter = ["action", "at", ("user", admin.RelatedOnlyFieldListFilter)]
    date_hierarchy = "at"
    search_fields = ["username"]
    search_help_text = _("A user name, or a number: the id of a user or of a customer the access concerned.")
    show_full_result_count = False  # no second COUNT(*) over the whole log on every page
    fields = [
        "at",
        "user_id",
        "username",
        "action",
        "what_shown",
        "customer_id",
        "customer_count",
        "named_customers",
        "rows",
        "client_ip",
        "user_agent",
        "token_id",
    ]
    readonly_fields = fields

    def get_search_results(self, request, queryset, search_term):
        """A number finds the accesses of that user id and those that concerned that customer id
        (named on the row itself or among an export's customers); text finds user names."""
        term = search_term.strip()
        if not term.isdigit():
            return super().get_search_results(request, queryset, term)
        number = int(term)
        about = rows_about(number).order_by().values("pk")
        return queryset.filter(pk__in=about) | queryset.filter(user_id=number), False

    @admin.display(description=_("what"), ordering="what")
    def what_shown(self, entry: AccessLog) -> str:
        """The stored ``what`` in the reader's language."""
        return access_what(entry.what)

    @admin.display(description=_("customers named"))
    def named_customers(self, entry: AccessLog) -> str:
        """The first customer ids an export named (an export may name up to 100,000)."""
        ids = list(
            AccessLogCustomer.objects.filter(entry=entry)
            .order_by("customer_id")
            .values_list("customer_id", flat=True)[: NAMED_SHOWN + 1]
        )
        shown = ", ".join(str(i) for i in ids[:NAMED_SHOWN])
        return f"{shown} …" if len(ids) > NAMED_SHOWN else shown or "–"
