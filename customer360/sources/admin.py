"""Django admin for the data-source models (imported by registrations.py at startup)."""

from django.contrib import admin

from customer360.sources.models import CustomerMerge, DuplicateCandidate, ImportRun


@admin.register(ImportRun)
class ImportRunAdmin(admin.ModelAdmin):
    list_display = ("file_name", "source", "status", "total", "created", "updated", "failed", "created_at")
    list_filter = ("status", "source")
    readonly_fields = ("mapping",)


@admin.register(DuplicateCandidate)
class DuplicateCandidateAdmin(admin.ModelAdmin):
    list_display = ("customer_a_id", "customer_b_id", "score", "status", "created_at")
    list_filter = ("status",)
    raw_id_fields = ("customer_a", "customer_b")


@admin.register(CustomerMerge)
class CustomerMergeAdmin(admin.ModelAdmin):
    list_display = ("kept_id", "merged_customer_id", "performed_by", "performed_at", "undone_at")
    raw_id_fields = ("kept",)
