from django.contrib import admin

from collab.models import (
    Acceptance,
    CodeOfConduct,
    Comment,
    DepartmentRequest,
    ModerationAction,
    Notification,
    Post,
    Report,
    Space,
    SpaceMembership,
)


class MembershipInline(admin.TabularInline):
    model = SpaceMembership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Space)
class SpaceAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "department", "visibility"]
    list_filter = ["kind", "visibility"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    list_display = ["pk", "space", "author", "created_at", "is_hidden"]
    list_filter = ["is_hidden", "space"]
    raw_id_fields = ["author", "customers", "mentioned_users"]
    readonly_fields = ["body_html"]


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ["pk", "post", "author", "created_at", "is_accepted"]
    raw_id_fields = ["post", "author", "accepted_by"]


@admin.register(DepartmentRequest)
class DepartmentRequestAdmin(admin.ModelAdmin):
    list_display = ["pk", "kind", "from_department", "to_department", "status", "priority", "due_date"]
    list_filter = ["status", "to_department", "kind"]
    raw_id_fields = ["post", "requested_by", "assignee", "first_answered_by", "resolved_by"]


@admin.register(CodeOfConduct)
class CodeOfConductAdmin(admin.ModelAdmin):
    """Admins edit the rules by publishing a new version; accepted versions stay as they were."""

    list_display = ["version", "published_at", "published_by"]
    readonly_fields = ["published_by"]

    def save_model(self, request, obj, form, change):
        if not obj.published_by_id:
            obj.published_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(Acceptance)
class AcceptanceAdmin(admin.ModelAdmin):
    list_display = ["user", "code", "accepted_at"]
    readonly_fields = ["user", "code", "accepted_at"]


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = ["post", "reported_by", "reason", "created_at", "handled_at"]
    raw_id_fields = ["post", "reported_by"]


@admin.register(ModerationAction)
class ModerationActionAdmin(admin.ModelAdmin):
    list_display = ["post", "moderator", "action", "reason", "at"]
    readonly_fields = ["post", "moderator", "action", "reason", "at"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["recipient", "kind", "source_key", "created_at", "read_at"]
    raw_id_fields = ["recipient", "post", "actor"]
