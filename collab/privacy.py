"""Feed posts and comments that reference a customer, in a subject export and on erasure.

Posts store references canonically (``#C-000123``) plus a row in ``Post.customers``: erasure
removes the reference rows and replaces the reference and any name, e-mail or phone of the person
in posts, their earlier revisions, comments and notifications by the neutral marker."""

from __future__ import annotations

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from collab import markup
from collab.models import Comment, Notification, Post, PostRevision
from customer360.privacy.registry import SubjectData, scrub_fields, subject_data
from customer360.privacy.text import ERASED


def _posts(customer):
    return Post.objects.filter(customers=customer)


def _comments(customer):
    number = customer.customer_number
    return Comment.objects.filter(Q(post__customers=customer) | Q(body__contains=f"#{number}")).distinct()


def export(customer) -> dict[str, list[dict]]:
    posts = _posts(customer).values(
        "id", "space__name", "author__username", "created_at", "edited_at", "body"
    )
    comments = _comments(customer).values("id", "post_id", "author__username", "created_at", "body")
    return {"posts": list(posts), "comments": list(comments)}


def _erase_text(queryset, number: str, needles, *, html: bool) -> int:
    changed = []
    for obj in queryset:
        body = needles.scrub(obj.body.replace(f"#{number}", ERASED))
        if body != obj.body:
            obj.body = body
            if html:
                obj.body_html = markup.render(body)
            changed.append(obj)
    if changed:
        fields = ["body", "body_html"] if html else ["body"]
        type(changed[0]).objects.bulk_update(changed, fields, batch_size=500)
    return len(changed)


def erase(customer, request) -> dict[str, int]:
    needles, number = request.needles, customer.customer_number
    posts = _posts(customer)
    post_ids = list(posts.values_list("pk", flat=True))
    referencing = Q(pk__in=post_ids) | Q(body__contains=f"#{number}")
    counts = {
        "posts": _erase_text(Post.objects.filter(referencing), number, needles, html=True),
        "post_revisions": _erase_text(
            PostRevision.objects.filter(Q(post_id__in=post_ids) | Q(body__contains=f"#{number}")),
            number,
            needles,
            html=False,
        ),
        "comments": _erase_text(_comments(customer), number, needles, html=True),
        "notifications": scrub_fields(
            Notification.objects.filter(post_id__in=post_ids), ("text", "params"), needles
        ),
    }
    counts["references"] = Post.customers.through.objects.filter(customer=customer).delete()[0]
    return counts


subject_data.register(
    SubjectData(
        key="collab", label=_("Internal feed"), app_labels=("collab",), export=export, erase=erase, order=50
    )
)
