"""The internal feed: spaces, posts, comments, reactions, cross-department requests,
notifications, the code of conduct and moderation."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from collab import departments
from customer360 import roles
from customer360.audit.tracking import tracked
from customer360.models import Customer

User = settings.AUTH_USER_MODEL


def is_moderator(user) -> bool:
    """Moderators hide and restore posts (Manager and Admin hold the permission)."""
    return bool(user.is_authenticated and user.has_perm("collab.moderate_post"))


class SpaceQuerySet(models.QuerySet):
    def readable_by(self, user) -> SpaceQuerySet:
        """Spaces whose posts ``user`` may read (and write in): THE one place where this is decided.

        Public spaces for everyone; members-only spaces for their members; a department's own
        space also for everyone in that department (membership follows the role, not a list).
        """
        if not user or not user.is_authenticated or not user.is_active:
            return self.none()
        condition = Q(visibility=Space.Visibility.PUBLIC) | Q(
            pk__in=SpaceMembership.objects.filter(user=user).values("space_id")
        )
        own = departments.departments_of(user)
        if own:
            condition |= Q(kind=Space.Kind.DEPARTMENT, department__in=own)
        return self.filter(condition)


class Space(models.Model):
    """A place to talk: one per department (created automatically), cross-department or topic."""

    class Kind(models.TextChoices):
        DEPARTMENT = "department", _("Department")
        CROSS = "cross", _("Cross-department")
        TOPIC = "topic", _("Topic")

    class Visibility(models.TextChoices):
        PUBLIC = "public", _("Public")
        MEMBERS = "members", _("Members only")

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.TOPIC)
    department = models.CharField(
        _("department"), max_length=20, choices=departments.CHOICES, blank=True, default=""
    )
    visibility = models.CharField(
        _("visibility"), max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    description = models.TextField(_("description"), blank=True)
    members = models.ManyToManyField(
        User, through="SpaceMembership", related_name="collab_spaces", blank=True
    )
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = SpaceQuerySet.as_manager()

    class Meta:
        verbose_name = _("space")
        verbose_name_plural = _("spaces")
        ordering = ["kind", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["department"],
                condition=Q(kind="department"),
                name="collab_one_space_per_department",
            )
        ]

    def __str__(self) -> str:
        return gettext(self.name)  # seeded department spaces: translation keys

    def get_absolute_url(self) -> str:
        return reverse("collab:space_detail", args=[self.slug])

    @property
    def audience(self) -> str:
        """The timeline audience of posts in this space (see panels.py)."""
        return f"collab.space:{self.pk}"


class SpaceMembership(models.Model):
    """Explicit membership of a (members-only or cross-department) space."""

    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="collab_memberships")
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["space", "user"], name="collab_membership_unique")]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.space_id}"


class PostQuerySet(models.QuerySet):
    def visible_to(self, user) -> PostQuerySet:
        """Posts in spaces the user may read; hidden posts only for moderators and their author."""
        posts = self.filter(space__in=Space.objects.readable_by(user))
        if is_moderator(user):
            return posts
        return posts.filter(Q(is_hidden=False) | Q(author=user))


@tracked
class Post(models.Model):
    """A message in a space (Markdown). Customer references are stored canonically as
    ``#C-000123`` in ``body`` and as rows in ``customers``; names are never stored in the text."""

    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="posts", verbose_name=_("space"))
    author = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="collab_posts", verbose_name=_("author")
    )
    # Snapshot at writing time, so analytics stay right when people change roles.
    author_department = models.CharField(
        _("author's department"), max_length=20, choices=departments.CHOICES, blank=True
    )
    author_role = models.CharField(_("author's role"), max_length=40, blank=True)
    body = models.TextField(_("text"))
    body_html = models.TextField(_("text (HTML)"), editable=False, blank=True)
    topic = models.CharField(_("topic"), max_length=60, blank=True, db_index=True)
    customers = models.ManyToManyField(Customer, related_name="collab_posts", blank=True)
    mentioned_users = models.ManyToManyField(User, related_name="+", blank=True)
    mentioned_departments = models.JSONField(_("mentioned departments"), default=list, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    edited_at = models.DateTimeField(_("edited"), null=True, blank=True)
    is_hidden = models.BooleanField(_("hidden"), default=False)
    hidden_reason = models.CharField(_("reason for hiding"), max_length=300, blank=True)

    objects = PostQuerySet.as_manager()

    class Meta:
        verbose_name = _("post")
        verbose_name_plural = _("posts")
        ordering = ["-created_at", "-id"]
        permissions = [("moderate_post", "Can hide and restore posts")]
        indexes = [models.Index(fields=["space", "-created_at"], name="collab_post_space_newest")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.body[:40]}"

    def get_absolute_url(self) -> str:
        return reverse("collab:post_detail", args=[self.pk])


class PostRevision(models.Model):
    """The text of a post before an edit: edits keep their history."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="revisions")
    body = models.TextField()
    edited_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    edited_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-edited_at", "-id"]

    def __str__(self) -> str:
        return f"revision of post {self.post_id} at {self.edited_at:%Y-%m-%d %H:%M}"


# The role is stored as its name when the post is written (free text: a group an admin added keeps its own
# name); the change history shows it in the reader's language, as the feed does.
Post._meta.get_field("author_role").history_display = roles.label


class Comment(models.Model):
    """An answer to a post; the asker may mark it as the accepted answer (go-to people)."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(User, on_delete=models.PROTECT, related_name="collab_comments")
    author_department = models.CharField(max_length=20, choices=departments.CHOICES, blank=True)
    author_role = models.CharField(max_length=40, blank=True)
    body = models.TextField(_("text"))
    body_html = models.TextField(editable=False, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    is_accepted = models.BooleanField(_("accepted answer"), default=False)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        verbose_name = _("comment")
        verbose_name_plural = _("comments")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"comment {self.pk} on post {self.post_id}"

    def get_absolute_url(self) -> str:
        return f"{self.post.get_absolute_url()}#comment-{self.pk}"


class Reaction(models.Model):
    """A small acknowledgement (one per person and emoji)."""

    class Emoji(models.TextChoices):
        THUMBS_UP = "👍", "👍"
        HEART = "❤️", "❤️"
        PARTY = "🎉", "🎉"
        EYES = "👀", "👀"
        DONE = "✅", "✅"

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="reactions")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    emoji = models.CharField(max_length=8, choices=Emoji.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["post", "user", "emoji"], name="collab_reaction_unique")
        ]

    def __str__(self) -> str:
        return f"{self.emoji} on {self.post_id}"


class DepartmentRequestQuerySet(models.QuerySet):
    def visible_to(self, user) -> DepartmentRequestQuerySet:
        return self.filter(post__in=Post.objects.visible_to(user))

    def open(self) -> DepartmentRequestQuerySet:
        return self.exclude(status=DepartmentRequest.Status.RESOLVED)

    def overdue(self, today) -> DepartmentRequestQuerySet:
        return self.open().filter(due_date__lt=today)


class DepartmentRequest(models.Model):
    """A question, task or problem one department gives another; lives as a post in the
    receiving department's space, answered by comments. Durations are recorded when they happen."""

    class Kind(models.TextChoices):
        QUESTION = "question", _("Question")
        TASK = "task", _("Task")
        PROBLEM = "problem", _("Problem")

    class Priority(models.TextChoices):
        LOW = "low", _("Low")
        NORMAL = "normal", _("Normal")
        HIGH = "high", _("High")
        URGENT = "urgent", _("Urgent")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        ANSWERED = "answered", _("Answered")
        RESOLVED = "resolved", _("Resolved")

    post = models.OneToOneField(Post, on_delete=models.CASCADE, related_name="request")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.QUESTION)
    from_department = models.CharField(_("from"), max_length=20, choices=departments.CHOICES, blank=True)
    to_department = models.CharField(_("to"), max_length=20, choices=departments.CHOICES, db_index=True)
    priority = models.CharField(
        _("priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL
    )
    due_date = models.DateField(_("due"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="collab_requests")
    assignee = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    first_answered_at = models.DateTimeField(null=True, blank=True)
    first_answered_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    first_answer_seconds = models.PositiveIntegerField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    resolution_seconds = models.PositiveIntegerField(null=True, blank=True)
    last_reminded_on = models.DateField(null=True, blank=True)

    objects = DepartmentRequestQuerySet.as_manager()

    class Meta:
        verbose_name = _("request")
        verbose_name_plural = _("requests")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["to_department", "status"], name="collab_request_inbox")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.from_department}->{self.to_department} #{self.pk}"

    def get_absolute_url(self) -> str:
        return self.post.get_absolute_url()

    def is_overdue(self, today=None) -> bool:
        today = today or timezone.localdate()
        return bool(self.due_date and self.status != self.Status.RESOLVED and self.due_date < today)


class Notification(models.Model):
    """One in-app notice; unique per (recipient, kind, source) so a retry notifies once."""

    class Kind(models.TextChoices):
        MENTION = "mention", _("Mention")
        REQUEST = "request", _("New request")
        ANSWER = "answer", _("Answer")
        COMMENT = "comment", _("Comment")
        ASSIGNED = "assigned", _("Assigned")
        RESOLVED = "resolved", _("Resolved")
        OVERDUE = "overdue", _("Overdue")

    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="collab_notifications")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    source_key = models.CharField(max_length=80, help_text="e.g. post:12, comment:7, request:3:2026-01-31")
    post = models.ForeignKey(Post, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    actor = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # What it says, as a translation key and its values, rendered in the READER's language
    # (``display_text``); ``text`` keeps the English rendering (rows from before keys: their text).
    message = models.CharField(max_length=200, blank=True)
    params = models.JSONField(default=dict, blank=True)
    text = models.CharField(max_length=300)
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "kind", "source_key"], name="collab_notification_once"
            )
        ]
        indexes = [models.Index(fields=["recipient", "read_at"], name="collab_notification_unread")]

    def __str__(self) -> str:
        return f"{self.kind} for {self.recipient_id}: {self.source_key}"

    @staticmethod
    def render(message: str, params: dict) -> str:
        """``message`` (a translation key) with ``params`` in the active language: a request's kind
        by its label, a due date in the language's date format."""
        from customer360.formatting import day

        values = dict(params)
        if "kind" in values:
            values["kind"] = str(dict(DepartmentRequest.Kind.choices).get(values["kind"], values["kind"]))
        if values.get("due"):
            values["due"] = day(values["due"])
        return gettext(message) % values

    @property
    def display_text(self) -> str:
        """The text in the reader's language; the stored text when it has no key (or fails)."""
        if not self.message:
            return self.text
        try:
            return self.render(self.message, self.params or {})
        except (KeyError, TypeError, ValueError):
            return self.text


class DigestSubscription(models.Model):
    """Whether a user wants unread notifications by e-mail once a day."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="collab_digest")
    enabled = models.BooleanField(_("e-mail digest"), default=False)
    last_sent_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"digest {self.user_id}: {self.enabled}"


class CodeOfConductQuerySet(models.QuerySet):
    def current(self) -> CodeOfConduct | None:
        return self.filter(published_at__lte=timezone.now()).order_by("-version").first()


class CodeOfConduct(models.Model):
    """The rules of use, versioned; every user accepts the current version before posting."""

    version = models.PositiveIntegerField(_("version"), unique=True)
    text = models.TextField(_("text"))
    published_at = models.DateTimeField(_("published"), default=timezone.now)
    published_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("by")
    )

    objects = CodeOfConductQuerySet.as_manager()

    class Meta:
        verbose_name = _("code of conduct")
        verbose_name_plural = _("codes of conduct")
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"v{self.version}"


class Acceptance(models.Model):
    """Who accepted which version of the code of conduct, and when."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="collab_acceptances")
    code = models.ForeignKey(CodeOfConduct, on_delete=models.PROTECT, related_name="acceptances")
    accepted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "code"], name="collab_acceptance_once")]

    def __str__(self) -> str:
        return f"{self.user_id} accepted v{self.code_id}"


class Report(models.Model):
    """Someone flagged a post, with a reason; handled by a moderation action."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="reports")
    reported_by = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(_("reason"), max_length=300)
    created_at = models.DateTimeField(default=timezone.now)
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"report on {self.post_id}"


class ModerationAction(models.Model):
    """A moderator hid or restored a post, with a reason: the record of who did what when."""

    class Action(models.TextChoices):
        HIDE = "hide", _("Hide")
        RESTORE = "restore", _("Restore")

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="moderation_actions")
    moderator = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=10, choices=Action.choices)
    reason = models.CharField(_("reason"), max_length=300)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.post_id}"
