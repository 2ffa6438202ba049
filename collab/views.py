"""Pages of the internal feed. Thin: scoping comes from the QuerySets, work from services."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, Count, IntegerField, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from collab import departments, markup, services
from collab.forms import AssignForm, CommentForm, EditForm, ModerateForm, PostForm, ReportForm, SpaceForm
from collab.models import (
    CodeOfConduct,
    Comment,
    DepartmentRequest,
    DigestSubscription,
    Notification,
    Post,
    Reaction,
    Report,
    Space,
    is_moderator,
)
from customer360 import exports, search
from customer360.access import permission_required
from customer360.forms import add_refusal
from customer360.models import Customer
from customer360.text import whole_number

PAGE_SIZE = 20


# --- helpers -------------------------------------------------------------------------------------
def _count(model, **link):
    rows = model.objects.filter(**link).order_by().values(*link.keys()).annotate(n=Count("id")).values("n")
    return Coalesce(Subquery(rows, output_field=IntegerField()), Value(0))


def post_rows(posts):
    """Posts with everything a list shows, in one query (counts as subqueries, not joins)."""
    return posts.select_related(
        "space", "author", "request", "request__assignee", "request__requested_by"
    ).annotate(
        n_comments=_count(Comment, post=OuterRef("pk")),
        n_reactions=_count(Reaction, post=OuterRef("pk")),
    )


def visible_references(user, items) -> dict[str, tuple[str, str]]:
    """Customer number -> (url, name) for the references in ``items`` this reader may see (one query)."""
    numbers = {n for item in items for n in markup.CANONICAL_RE.findall(item.body)}
    visible = {}
    if numbers:
        for customer in Customer.objects.visible_to(user).filter(customer_number__in=numbers):
            visible[customer.customer_number] = (customer.get_absolute_url(), customer.display_name)
    return visible


def personalise(user, items) -> None:
    """Fill customer references for this reader: names for customers they may see (one query)."""
    visible = visible_references(user, items)
    for item in items:
        item.html = mark_safe(markup.personalise(item.body_html, visible))  # noqa: S308 - sanitised by nh3


def _conduct_redirect(request: HttpRequest, next_url: str = "") -> HttpResponse | None:
    if services.conduct_pending(request.user) is None:
        return None
    messages.info(request, _("Please read and accept the code of conduct before your first post."))
    return redirect(f"{reverse('collab:conduct')}?{urlencode({'next': next_url or request.get_full_path()})}")


def _page(posts, request: HttpRequest) -> tuple[list[Post], int | None]:
    before = request.GET.get("before", "")
    before_id = whole_number(before)
    if before_id is not None:
        anchor = Post.objects.filter(pk=before_id).values_list("created_at", flat=True).first()
        if anchor is not None:
            posts = posts.filter(Q(created_at__lt=anchor) | Q(created_at=anchor, pk__lt=before_id))
    rows = list(posts.order_by("-created_at", "-id")[: PAGE_SIZE + 1])
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    personalise(request.user, rows)
    return rows, (rows[-1].pk if more and rows else None)


def _create_post(request: HttpRequest, form: PostForm) -> Post | None:
    data = form.cleaned_data
    request_data = None
    if data.get("request_to"):
        request_data = services.RequestData(
            to_department=data["request_to"],
            kind=data["request_kind"],
            priority=data["priority"],
            due_date=data.get("due_date"),
        )
    try:
        return services.post_create(
            author=request.user,
            space=data.get("space"),
            body=data["body"],
            topic=data.get("topic", ""),
            request=request_data,
        )
    except ValidationError as exc:
        add_refusal(form, exc)
        return None


# --- feed and spaces -----------------------------------------------------------------------------
def feed(request: HttpRequest) -> HttpResponse:
    """All posts the user may read, newest first, with the composer on top."""
    user = request.user
    form = PostForm(user=user)
    if request.method == "POST":
        if (response := _conduct_redirect(request)) is not None:
            return response
        form = PostForm(request.POST, user=user)
        if form.is_valid() and (post := _create_post(request, form)) is not None:
            messages.success(request, _("Posted."))
            return redirect(post)
    posts = post_rows(Post.objects.visible_to(user))
    topic = request.GET.get("topic", "").strip()
    if topic:
        posts = posts.filter(topic=topic)
    rows, next_before = _page(posts, request)
    return render(
        request,
        "collab/feed.html",
        {
            "posts": rows,
            "next_before": next_before,
            "form": form,
            "topic": topic,
            "is_moderator": is_moderator(user),
        },
    )


def space_list(request: HttpRequest) -> HttpResponse:
    """Spaces the user may read; anyone can open a topic or cross-department space."""
    form = SpaceForm()
    if request.method == "POST":
        form = SpaceForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            space = services.space_create(
                name=data["name"],
                kind=data["kind"],
                visibility=data["visibility"],
                description=data["description"],
                members=data["members"],
                created_by=request.user,
            )
            return redirect(space)
    spaces = Space.objects.readable_by(request.user).annotate(
        n_posts=_count(Post, space=OuterRef("pk")),
    )
    return render(request, "collab/space_list.html", {"spaces": spaces, "form": form})


def go_to_people(comments) -> list[dict]:
    """The three people whose answers were accepted most often (per space or topic)."""
    return list(
        comments.filter(is_accepted=True)
        .values(
            "author_id", "author__username", "author__first_name", "author__last_name", "author_department"
        )
        .annotate(accepted=Count("id"))
        .order_by("-accepted", "author__username")[:3]
    )


def space_detail(request: HttpRequest, slug: str) -> HttpResponse:
    user = request.user
    space = get_object_or_404(Space.objects.readable_by(user), slug=slug)
    form = PostForm(user=user, initial={"space": space})
    if request.method == "POST":
        if (response := _conduct_redirect(request)) is not None:
            return response
        form = PostForm(request.POST, user=user)
        if form.is_valid() and (post := _create_post(request, form)) is not None:
            return redirect(post)
    rows, next_before = _page(post_rows(Post.objects.visible_to(user).filter(space=space)), request)
    return render(
        request,
        "collab/space_detail.html",
        {
            "space": space,
            "posts": rows,
            "next_before": next_before,
            "form": form,
            "go_to": go_to_people(Comment.objects.filter(post__space=space)),
            "is_moderator": is_moderator(user),
        },
    )


# --- one post ------------------------------------------------------------------------------------
def _visible_post(request: HttpRequest, pk: int) -> Post:
    return get_object_or_404(post_rows(Post.objects.visible_to(request.user)), pk=pk)


def post_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    post = _visible_post(request, pk)
    comments = list(post.comments.select_related("author"))
    personalise(user, [post, *comments])
    reactions = {
        row["emoji"]: row
        for row in post.reactions.values("emoji").annotate(
            n=Count("id"), mine=Count("id", filter=Q(user=user))
        )
    }
    req = getattr(post, "request", None)
    context = {
        "post": post,
        "comments": comments,
        "reactions": [(emoji, reactions.get(emoji, {"n": 0, "mine": 0})) for emoji in Reaction.Emoji.values],
        "revisions": post.revisions.select_related("edited_by")[:20],
        "comment_form": CommentForm(),
        "report_form": ReportForm(),
        "moderate_form": ModerateForm(),
        "is_moderator": is_moderator(user),
        "moderation_log": post.moderation_actions.select_related("moderator")[:10]
        if is_moderator(user)
        else [],
        "req": req,
        "may_work": req is not None and services.request_may_work_on(req, user),
        "assign_form": AssignForm(department=req.to_department) if req else None,
        "go_to": go_to_people(Comment.objects.filter(post__topic=post.topic)) if post.topic else [],
    }
    return render(request, "collab/post_detail.html", context)


def post_edit(request: HttpRequest, pk: int) -> HttpResponse:
    post = _visible_post(request, pk)
    if post.author_id != request.user.pk:
        raise PermissionDenied(_("Only the author can edit a post."))
    form = EditForm(request.POST or None, initial={"body": post.body})
    if request.method == "POST" and form.is_valid():
        try:
            services.post_edit(post=post, editor=request.user, body=form.cleaned_data["body"])
        except ValidationError as exc:
            add_refusal(form, exc)
        else:
            messages.success(request, _("Saved. The previous version is kept in the history."))
            return redirect(post)
    return render(request, "collab/post_edit.html", {"post": post, "form": form})


@require_POST
def comment_create(request: HttpRequest, pk: int) -> HttpResponse:
    post = _visible_post(request, pk)
    if (response := _conduct_redirect(request, post.get_absolute_url())) is not None:
        return response
    form = CommentForm(request.POST)
    if form.is_valid():
        try:
            comment = services.comment_create(post=post, author=request.user, body=form.cleaned_data["body"])
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            return redirect(comment.get_absolute_url())
    return redirect(post)


@require_POST
def comment_accept(request: HttpRequest, pk: int) -> HttpResponse:
    comment = get_object_or_404(Comment.objects.filter(post__in=Post.objects.visible_to(request.user)), pk=pk)
    try:
        services.comment_accept(comment=comment, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect(comment.get_absolute_url())


@require_POST
def reaction_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    post = _visible_post(request, pk)
    try:
        services.reaction_toggle(post=post, user=request.user, emoji=request.POST.get("emoji", ""))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect(post)


@require_POST
def post_report(request: HttpRequest, pk: int) -> HttpResponse:
    post = _visible_post(request, pk)
    form = ReportForm(request.POST)
    if form.is_valid():
        services.post_report(post=post, by=request.user, reason=form.cleaned_data["reason"])
        messages.success(request, _("Thank you. A moderator will look at this post."))
    else:
        messages.error(request, _("Please give a reason."))
    return redirect(post)


@require_POST
@permission_required("collab.moderate_post")
def post_moderate(request: HttpRequest, pk: int) -> HttpResponse:
    post = _visible_post(request, pk)
    form = ModerateForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Please give a reason."))
        return redirect(post)
    services.post_moderate(post=post, moderator=request.user, **form.cleaned_data)
    messages.success(request, _("Done, with your reason recorded."))
    return redirect(
        request.POST.get("next") if request.POST.get("next") == reverse("collab:moderation") else post
    )


# --- requests ------------------------------------------------------------------------------------
PRIORITY_RANK = Case(
    When(priority="urgent", then=0), When(priority="high", then=1), When(priority="normal", then=2), default=3
)


def filter_requests(user, params) -> tuple[object, dict]:
    """The requests of the inbox (or the ones the user sent) the user may see, narrowed by the
    filters, most pressing first; with the filter values in effect (shared by page and export)."""
    own = departments.departments_of(user)
    box = params.get("box", "inbox")
    department = params.get("department") or (own[0] if own else "")
    status = params.get("status", "open")
    rows = DepartmentRequest.objects.visible_to(user).select_related("post", "requested_by", "assignee")
    if box == "sent":
        rows = rows.filter(requested_by=user)
    elif department:
        rows = rows.filter(to_department=department)
    if status == "open":
        rows = rows.open()
    elif status in DepartmentRequest.Status.values:
        rows = rows.filter(status=status)
    rows = rows.annotate(rank=PRIORITY_RANK).order_by("status", "rank", "due_date", "-created_at", "-id")
    return rows, {"box": box, "department": department, "status": status}


def referenced_customers(user, bodies) -> dict[str, Customer]:
    """Customer number -> customer, for the references in ``bodies`` the user may see (one query)."""
    numbers = markup.referenced_numbers(bodies)
    if not numbers:
        return {}
    return {
        c.customer_number: c for c in Customer.objects.visible_to(user).filter(customer_number__in=numbers)
    }


def request_inbox(request: HttpRequest) -> HttpResponse:
    """A department's inbox of requests (or the ones the user sent); ``?export=xlsx|csv`` downloads
    every request of the filter (access-logged: their texts name customers)."""
    user = request.user
    requests, chosen = filter_requests(user, request.GET)
    fmt = exports.requested_format(request)
    if fmt:
        header, records = request_table(user, requests)
        return exports.logged_export_response(request, records, header, "requests", fmt, what="requests")
    rows = list(requests[:100])
    today = timezone.localdate()
    customers = referenced_customers(user, (row.post.body for row in rows))
    names = {number: c.display_name for number, c in customers.items()}
    for row in rows:
        row.overdue = row.is_overdue(today)
        row.summary = markup.plain(markup.name_references(row.post.body, names), 140)
    return render(
        request,
        "collab/requests.html",
        {
            "rows": rows,
            **chosen,
            "departments": departments.CHOICES,
            "statuses": DepartmentRequest.Status.choices,
        },
    )


REQUEST_COLUMNS = (
    gettext_lazy("Created"),
    gettext_lazy("Kind"),
    gettext_lazy("Text"),
    gettext_lazy("Customers"),
    gettext_lazy("From"),
    gettext_lazy("Requested by"),
    gettext_lazy("To"),
    gettext_lazy("Priority"),
    gettext_lazy("Due"),
    gettext_lazy("Status"),
    gettext_lazy("Assignee"),
    gettext_lazy("First answer"),
    gettext_lazy("Resolved"),
)


def request_table(user, requests) -> tuple[list[str], object]:
    """Every request of the filter for the export: the text with the names of the customers the
    reader may see (others stay "a customer"), as (ids of those customers, row)."""

    def records():
        batch: list[DepartmentRequest] = []
        for row in requests.iterator(chunk_size=2000):
            batch.append(row)
            if len(batch) == 2000:
                yield from _request_records(user, batch)
                batch = []
        yield from _request_records(user, batch)

    return [str(label) for label in REQUEST_COLUMNS], records()


def _request_records(user, batch: list[DepartmentRequest]):
    customers = referenced_customers(user, (row.post.body for row in batch))
    names = {number: c.display_name for number, c in customers.items()}
    for r in batch:
        named = [
            customers[n] for n in dict.fromkeys(markup.CANONICAL_RE.findall(r.post.body)) if n in customers
        ]
        yield (
            [c.pk for c in named],
            [
                r.created_at,
                r.get_kind_display(),
                markup.plain(markup.name_references(r.post.body, names), 2000),
                ", ".join(c.customer_number for c in named),
                r.get_from_department_display(),
                r.requested_by.get_full_name() or r.requested_by.get_username(),
                r.get_to_department_display(),
                r.get_priority_display(),
                r.due_date,
                r.get_status_display(),
                r.assignee.get_username() if r.assignee else "",
                r.first_answered_at,
                r.resolved_at,
            ],
        )


@require_POST
def request_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    req = get_object_or_404(DepartmentRequest.objects.visible_to(request.user).select_related("post"), pk=pk)
    if action == "resolve":
        services.request_resolve(request=req, by=request.user)
        messages.success(request, _("Request resolved."))
    elif action == "assign":
        form = AssignForm(request.POST, department=req.to_department)
        if form.is_valid():
            services.request_assign(request=req, assignee=form.cleaned_data["assignee"], by=request.user)
            messages.success(request, _("Request assigned."))
        else:
            messages.error(request, _("Pick someone of the receiving department."))
    elif action == "take":
        services.request_assign(request=req, assignee=request.user, by=request.user)
    return redirect(req.post)


# --- moderation, code of conduct ---------------------------------------------------------------
@permission_required("collab.moderate_post")
def moderation(request: HttpRequest) -> HttpResponse:
    """Reported posts waiting for a decision, and everything hidden."""
    open_reports = Report.objects.filter(handled_at__isnull=True)
    posts = list(
        post_rows(Post.objects.filter(Q(pk__in=open_reports.values("post_id")) | Q(is_hidden=True)))
        .annotate(n_reports=_count(Report, post=OuterRef("pk")))
        .order_by("is_hidden", "-created_at")[:100]
    )
    reports: dict[int, list[Report]] = {}
    for report in open_reports.filter(post__in=[p.pk for p in posts]).select_related("reported_by"):
        reports.setdefault(report.post_id, []).append(report)
    for post in posts:
        post.open_reports = reports.get(post.pk, [])
    personalise(request.user, posts)
    return render(request, "collab/moderation.html", {"posts": posts, "form": ModerateForm()})


def conduct(request: HttpRequest) -> HttpResponse:
    """Show the current code of conduct; accepting it is recorded with who and when."""
    code = CodeOfConduct.objects.current()
    next_url = request.GET.get("next") or request.POST.get("next") or reverse("collab:feed")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = reverse("collab:feed")
    if request.method == "POST" and code is not None:
        services.conduct_accept(user=request.user, code=code)
        messages.success(request, _("Thank you. You can post now."))
        return redirect(next_url)
    accepted = code is not None and services.conduct_pending(request.user) is None
    return render(request, "collab/conduct.html", {"code": code, "accepted": accepted, "next": next_url})


# --- notifications -------------------------------------------------------------------------------
def notifications(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        if "digest" in request.POST:
            DigestSubscription.objects.update_or_create(
                user=request.user, defaults={"enabled": request.POST.get("digest") == "on"}
            )
        else:
            services.notifications_mark_read(user=request.user)
        return redirect("collab:notifications")
    rows = Notification.objects.filter(recipient=request.user).select_related("actor")[:50]
    digest = DigestSubscription.objects.filter(user=request.user, enabled=True).exists()
    return render(request, "collab/notifications.html", {"rows": rows, "digest": digest})


def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one notification read and go to what it is about."""
    note = get_object_or_404(Notification, pk=pk, recipient=request.user)
    services.notifications_mark_read(user=request.user, ids=[note.pk])
    return redirect(note.url or reverse("collab:notifications"))


def bell(request: HttpRequest) -> HttpResponse:
    """The bell fragment (htmx polls it every 30 s)."""
    return render(request, "collab/_bell.html")


# --- search and autocomplete -------------------------------------------------------------------
def customer_autocomplete(request: HttpRequest) -> HttpResponse:
    """Customers the user may see, for inserting ``#C-000123`` into a post."""
    query = request.GET.get("q", "").strip().lstrip("#")
    hits = (
        search.typeahead(Customer.objects.visible_to(request.user), query, limit=8) if len(query) >= 2 else []
    )
    return render(request, "collab/_customer_hits.html", {"hits": hits, "query": query})


def feed_search(request: HttpRequest) -> HttpResponse:
    """Posts and requests by text, and by customers the user may see."""
    query = request.GET.get("q", "").strip()
    kind = request.GET.get("kind", "")
    rows: list[Post] = []
    if len(query) >= 2:
        posts = Post.objects.visible_to(request.user)
        customers = search.filter_customers(Customer.objects.visible_to(request.user), query)
        condition = (
            Q(body__icontains=query)
            | Q(topic__icontains=query)
            | Q(pk__in=Comment.objects.filter(body__icontains=query).values("post_id"))
            | Q(pk__in=Post.customers.through.objects.filter(customer__in=customers).values("post_id"))
        )
        posts = posts.filter(condition)
        if kind == "requests":
            posts = posts.filter(request__isnull=False)
        elif kind == "posts":
            posts = posts.filter(request__isnull=True)
        rows = list(post_rows(posts).order_by("-created_at", "-id")[:50])
        personalise(request.user, rows)
    return render(request, "collab/search.html", {"posts": rows, "query": query, "kind": kind})
