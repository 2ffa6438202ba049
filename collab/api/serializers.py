"""Serializers of the feed API. Texts are rendered for the reader: customer references to
customers the reader may not see are neutralised (``context["visible"]``)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from collab import departments, markup
from collab.models import Comment, DepartmentRequest, Notification, Post, Space


class SpaceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Space
        fields = ["id", "name", "slug", "kind", "department", "visibility", "description", "created_at"]
        read_only_fields = ["slug", "created_at"]


class _RenderedText(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", read_only=True)
    text = serializers.SerializerMethodField(help_text="Markdown as the reader may see it")
    html = serializers.SerializerMethodField(help_text="sanitised HTML as the reader may see it")

    def _visible(self) -> dict:
        return self.context.get("visible", {})

    @extend_schema_field(serializers.CharField())
    def get_text(self, obj) -> str:
        return markup.redact(obj.body, set(self._visible()))

    @extend_schema_field(serializers.CharField())
    def get_html(self, obj) -> str:
        return markup.personalise(obj.body_html, self._visible())


class RequestSerializer(serializers.ModelSerializer):
    requested_by = serializers.CharField(source="requested_by.username", read_only=True)
    assignee = serializers.CharField(source="assignee.username", read_only=True, allow_null=True)

    class Meta:
        model = DepartmentRequest
        fields = [
            "id", "post", "kind", "from_department", "to_department", "priority", "due_date", "status",
            "requested_by", "assignee", "created_at", "first_answered_at", "first_answer_seconds",
            "resolved_at", "resolution_seconds",
        ]  # fmt: skip
        read_only_fields = fields


class RequestInputSerializer(serializers.Serializer):
    to_department = serializers.ChoiceField(choices=departments.CHOICES)
    kind = serializers.ChoiceField(
        choices=DepartmentRequest.Kind.choices, default=DepartmentRequest.Kind.QUESTION
    )
    priority = serializers.ChoiceField(
        choices=DepartmentRequest.Priority.choices, default=DepartmentRequest.Priority.NORMAL
    )
    due_date = serializers.DateField(required=False, allow_null=True)


class PostSerializer(_RenderedText):
    customers = serializers.SerializerMethodField(help_text="ids of referenced customers the reader may see")
    request = RequestSerializer(read_only=True, allow_null=True)
    comment_count = serializers.IntegerField(source="n_comments", read_only=True)
    reaction_count = serializers.IntegerField(source="n_reactions", read_only=True)

    class Meta:
        model = Post
        fields = [
            "id", "space", "author", "author_department", "text", "html", "topic", "customers", "created_at",
            "edited_at", "is_hidden", "hidden_reason", "request", "comment_count", "reaction_count",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_customers(self, obj) -> list[int]:
        ids = self.context.get("customer_ids", {})
        return sorted({ids[n] for n in markup.CANONICAL_RE.findall(obj.body) if n in ids})


class PostInputSerializer(serializers.Serializer):
    space = serializers.PrimaryKeyRelatedField(queryset=Space.objects.all(), required=False, allow_null=True)
    body = serializers.CharField(max_length=10000)
    topic = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    request = RequestInputSerializer(required=False, allow_null=True)

    def validate(self, attrs):
        if not attrs.get("space") and not attrs.get("request"):
            raise serializers.ValidationError({"space": "pick a space or give a request"})
        return attrs


class CommentSerializer(_RenderedText):
    class Meta:
        model = Comment
        fields = ["id", "post", "author", "author_department", "text", "html", "created_at", "is_accepted"]
        read_only_fields = fields


class CommentInputSerializer(serializers.Serializer):
    post = serializers.IntegerField(
        required=False, help_text="the post (not needed on /requests/{id}/answer/)"
    )
    body = serializers.CharField(max_length=10000)


class AssignSerializer(serializers.Serializer):
    assignee = serializers.IntegerField(help_text="user id of someone in the receiving department")


class NotificationSerializer(serializers.ModelSerializer):
    text = serializers.CharField(source="display_text", read_only=True, help_text="in the caller's language")

    class Meta:
        model = Notification
        fields = ["id", "kind", "text", "url", "post", "created_at", "read_at"]
        read_only_fields = fields


class MarkReadSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(), required=False, help_text="all when absent")


class CollabCountSerializer(serializers.Serializer):
    updated = serializers.IntegerField()
