"""The feed over the API: same scope as the pages (spaces the caller may read, hidden posts only
for moderators and authors, customer references only for customers the caller may see)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from collab import markup, services
from collab.api.serializers import (
    AssignSerializer,
    CollabCountSerializer,
    CommentInputSerializer,
    CommentSerializer,
    MarkReadSerializer,
    NotificationSerializer,
    PostInputSerializer,
    PostSerializer,
    RequestSerializer,
    SpaceSerializer,
)
from collab.models import Comment, DepartmentRequest, Notification, Post, Space
from collab.views import post_rows
from customer360.api.filters import FilterBackend, query_bool, query_id
from customer360.models import Customer

User = get_user_model()


def reader_context(user, items) -> dict:
    """Customers referenced in ``items`` that ``user`` may see (one query)."""
    numbers = {n for item in items for n in markup.CANONICAL_RE.findall(item.body)}
    visible, ids = {}, {}
    if numbers:
        for customer in Customer.objects.visible_to(user).filter(customer_number__in=numbers):
            visible[customer.customer_number] = (customer.get_absolute_url(), customer.display_name)
            ids[customer.customer_number] = customer.pk
    return {"visible": visible, "customer_ids": ids}


class ReaderSerializerMixin:
    def get_serializer(self, *args, **kwargs):
        if args and args[0] is not None and "data" not in kwargs:
            items = list(args[0]) if kwargs.get("many") else [args[0]]
            context = self.get_serializer_context()
            context.update(reader_context(self.request.user, items))
            kwargs["context"] = context
        return super().get_serializer(*args, **kwargs)


class SpaceViewSet(viewsets.ReadOnlyModelViewSet):
    """Spaces the caller may read; members-only spaces of others answer 404."""

    serializer_class = SpaceSerializer
    filter_backends = [FilterBackend]
    filterset_fields = ["kind", "department", "visibility"]
    queryset = Space.objects.none()

    def get_queryset(self):
        return Space.objects.readable_by(self.request.user).order_by("kind", "name")


class PostViewSet(ReaderSerializerMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Posts the caller may read, newest first. Create with ``request`` to ask a department."""

    serializer_class = PostSerializer
    filter_backends = [FilterBackend]
    filterset_fields = ["space", "topic", "author_department"]
    queryset = Post.objects.none()

    def get_queryset(self):
        posts = post_rows(Post.objects.visible_to(self.request.user)).order_by("-created_at", "-id")
        customer = query_id(self.request, "customer") if self.action == "list" else None
        if customer is not None:
            visible = Customer.objects.visible_to(self.request.user).filter(pk=customer)
            posts = posts.filter(customers__in=visible)
        return posts

    @extend_schema(
        parameters=[OpenApiParameter("customer", int, description="posts referencing this customer")],
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=PostInputSerializer, responses={201: PostSerializer})
    def create(self, request, *args, **kwargs):
        data = PostInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        space = values.get("space")
        if space is not None and not Space.objects.readable_by(request.user).filter(pk=space.pk).exists():
            raise ValidationError({"space": "you are not a member of this space"})
        req = values.get("request")
        post = services.post_create(
            author=request.user,
            space=space,
            body=values["body"],
            topic=values.get("topic", ""),
            request=services.RequestData(**req) if req else None,
        )
        post = self.get_queryset().get(pk=post.pk)
        return Response(self.get_serializer(post).data, status=status.HTTP_201_CREATED)


class CommentViewSet(ReaderSerializerMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Answers on posts the caller may read."""

    serializer_class = CommentSerializer
    filter_backends = [FilterBackend]
    filterset_fields = ["post", "is_accepted"]
    queryset = Comment.objects.none()

    def get_queryset(self):
        return (
            Comment.objects.filter(post__in=Post.objects.visible_to(self.request.user))
            .select_related("author")
            .order_by("created_at", "id")
        )

    @extend_schema(request=CommentInputSerializer, responses={201: CommentSerializer})
    def create(self, request, *args, **kwargs):
        data = CommentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if not data.validated_data.get("post"):
            raise ValidationError({"post": "this field is required"})
        post = get_object_or_404(Post.objects.visible_to(request.user), pk=data.validated_data["post"])
        comment = services.comment_create(post=post, author=request.user, body=data.validated_data["body"])
        return Response(self.get_serializer(comment).data, status=status.HTTP_201_CREATED)


class RequestViewSet(viewsets.ReadOnlyModelViewSet):
    """Requests between departments; answer, assign and resolve as actions."""

    serializer_class = RequestSerializer
    filter_backends = [FilterBackend]
    filterset_fields = ["to_department", "from_department", "status", "priority", "kind"]
    queryset = DepartmentRequest.objects.none()

    def get_queryset(self):
        return (
            DepartmentRequest.objects.visible_to(self.request.user)
            .select_related("requested_by", "assignee", "post")
            .order_by("-created_at", "-id")
        )

    @extend_schema(request=CommentInputSerializer, responses={201: CommentSerializer})
    @action(detail=True, methods=["post"])
    def answer(self, request, pk=None):
        """Answer the request (a comment on its post); the first answer's time is recorded."""
        req = self.get_object()
        data = CommentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        comment = services.comment_create(
            post=req.post, author=request.user, body=data.validated_data["body"]
        )
        context = {**self.get_serializer_context(), **reader_context(request.user, [comment])}
        return Response(CommentSerializer(comment, context=context).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=RequestSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        req = services.request_resolve(request=self.get_object(), by=request.user)
        return Response(RequestSerializer(req).data)

    @extend_schema(request=AssignSerializer, responses=RequestSerializer)
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        req = self.get_object()
        data = AssignSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        assignee = User.objects.filter(pk=data.validated_data["assignee"], is_active=True).first()
        if assignee is None:
            raise ValidationError({"assignee": "no such active user"})
        req = services.request_assign(request=req, assignee=assignee, by=request.user)
        return Response(RequestSerializer(req).data)


class NotificationViewSet(viewsets.ReadOnlyModelViewSet):
    """The caller's own notifications, newest first."""

    serializer_class = NotificationSerializer
    login_only = True  # everyone reads and marks their own notifications
    filter_backends = [FilterBackend]
    filterset_fields = ["kind"]
    queryset = Notification.objects.none()

    def get_queryset(self):
        rows = Notification.objects.filter(recipient=self.request.user).order_by("-created_at", "-id")
        if self.action == "list" and query_bool(self.request, "unread"):
            rows = rows.filter(read_at__isnull=True)
        return rows

    @extend_schema(
        parameters=[OpenApiParameter("unread", bool, description="only unread ones")],
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=MarkReadSerializer, responses=CollabCountSerializer)
    @action(detail=False, methods=["post"], url_path="mark-read")
    def mark_read(self, request):
        """Mark the given notifications (or all) as read."""
        data = MarkReadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        updated = services.notifications_mark_read(user=request.user, ids=data.validated_data.get("ids"))
        return Response({"updated": updated})
