"""Workflows of the feed: mentions, references, requests, rules of use, moderation, reminders."""

from datetime import date, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from collab import services
from collab.models import (
    Acceptance,
    Comment,
    DepartmentRequest,
    DigestSubscription,
    ModerationAction,
    Notification,
    Post,
    PostRevision,
)
from customer360.models import TimelineEvent
from tests.collab.factories import SpaceFactory, accept_conduct, post
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_department_mention_notifies_each_member_exactly_once_also_under_retry(
    gruber, service_user, accounting_user
):
    clerk2 = UserFactory(username="clerk2", role="Accounting")
    # Mentioned by name AND through the department: still one notification.
    p = post(service_user, "@accounting and @clerk2, quick question")
    assert set(Notification.objects.filter(kind="mention").values_list("recipient__username", flat=True)) == {
        "accounting",
        "clerk2",
    }
    # A retried notification step (e.g. a task rerun) and an edit with the same mentions add nothing.
    services._notify_mentions(post=p, text=p.body, source_key=f"post:{p.pk}", actor=service_user, url="/")
    services.post_edit(post=p, editor=service_user, body="@accounting and @clerk2, quick question (edited)")
    assert Notification.objects.filter(kind="mention").count() == 2
    assert Notification.objects.filter(recipient=clerk2, kind="mention").count() == 1
    assert not Notification.objects.filter(recipient=service_user).exists()  # no self-notification


def test_mention_does_not_reach_people_outside_a_members_only_space(service_user, accounting_user):
    accept_conduct(service_user)
    private = services.space_create(name="Service leads", created_by=service_user, visibility="members")
    post(service_user, "@accounting FYI", space=private)
    assert not Notification.objects.filter(recipient=accounting_user).exists()


def test_customer_reference_is_canonical_and_records_one_timeline_event(gruber, service_user):
    p = post(service_user, "@accounting can we pause dunning for #Gruber until the replacement ships?")
    assert f"#{gruber.customer_number}" in p.body and "Gruber" not in p.body
    assert list(p.customers.all()) == [gruber]
    events = TimelineEvent.objects.filter(customer=gruber, department="internal")
    assert events.count() == 1
    event = events.get()
    assert event.kind == "internal.post"
    assert event.audience == f"collab.space:{p.space_id}"
    assert event.channel == "internal" and event.direction == "internal"
    assert "Franz Gruber" in event.title and event.source_url == p.get_absolute_url()
    # Retry of the timeline step: still one event.
    services._record_customer_events(p, [gruber])
    assert events.count() == 1


def test_ambiguous_and_invisible_references_are_refused(gruber, accounting_user):
    other = CustomerFactory(first_name="Karin", last_name="Gruber")
    from tests.collab.factories import give_department_access

    give_department_access(other, "accounting")
    with pytest.raises(ValidationError) as exc:
        post(accounting_user, "about #Gruber")
    assert "matches several customers" in str(exc.value)
    hidden = CustomerFactory()
    with pytest.raises(ValidationError, match="no customer with this number"):
        post(accounting_user, f"about #{hidden.customer_number}")
    # A word that matches no customer is just a hashtag.
    p = post(accounting_user, "#deliveries are late again")
    assert p.customers.count() == 0


def test_request_lifecycle_records_times_and_notifies(gruber, service_user, accounting_user):
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False):
        p = post(
            service_user,
            "@accounting can we pause dunning for #Gruber?",
            request=services.RequestData(to_department="accounting", kind="task", priority="high"),
        )
    req = p.request
    assert p.space.department == "accounting"  # requests live in the receiving department's space
    assert (req.from_department, req.to_department, req.status) == ("service", "accounting", "open")
    assert Notification.objects.filter(recipient=accounting_user, kind="request").count() == 1
    assert TimelineEvent.objects.get(customer=gruber, department="internal").kind == "internal.request"
    with time_machine.travel(start + timedelta(minutes=45), tick=False):
        services.comment_create(post=p, author=accounting_user, body="Paused until the 15th.")
    with time_machine.travel(start + timedelta(minutes=50), tick=False):
        services.comment_create(post=p, author=accounting_user, body="And noted on the invoice.")
    with time_machine.travel(start + timedelta(hours=2), tick=False):
        services.request_resolve(request=req, by=accounting_user)
        services.request_resolve(request=req, by=accounting_user)  # a double click changes nothing
    req.refresh_from_db()
    assert req.status == DepartmentRequest.Status.RESOLVED
    assert req.first_answer_seconds == 45 * 60 and req.first_answered_by == accounting_user
    assert req.resolution_seconds == 2 * 3600 and req.resolved_by == accounting_user
    kinds = sorted(Notification.objects.filter(recipient=service_user).values_list("kind", flat=True))
    assert kinds == ["answer", "answer", "resolved"]


def test_only_the_receiving_department_or_asker_assigns_and_resolves(
    gruber, service_user, accounting_user, rep
):
    p = post(service_user, "Question", request=services.RequestData(to_department="accounting"))
    with pytest.raises(PermissionDenied):
        services.request_resolve(request=p.request, by=rep)
    with pytest.raises(ValidationError):
        services.request_assign(request=p.request, assignee=service_user, by=accounting_user)
    services.request_assign(request=p.request, assignee=accounting_user, by=accounting_user)
    assert DepartmentRequest.objects.get().assignee == accounting_user


def test_code_of_conduct_must_be_accepted_and_acceptance_is_recorded(service_user):
    code = services.conduct_publish(text="Be kind.", by=None)
    space = services.space_for_department(department="service")
    with pytest.raises(PermissionDenied, match="code of conduct"):
        services.post_create(author=service_user, space=space, body="Hi")
    moment = timezone.now().replace(microsecond=0)
    with time_machine.travel(moment, tick=False):
        services.conduct_accept(user=service_user, code=code)
    acceptance = Acceptance.objects.get(user=service_user)
    assert (acceptance.code.version, acceptance.accepted_at) == (code.version, moment)
    services.post_create(author=service_user, space=space, body="Hi")
    # A new version must be accepted again.
    services.conduct_publish(text="Be kind. Really.", by=None)
    with pytest.raises(PermissionDenied):
        services.post_create(author=service_user, space=space, body="Hi again")


def test_moderation_hides_with_reason_and_records_who_and_when(service_user, rep, manager):
    accept_conduct(service_user)
    p = post(service_user, "Something rude")
    services.post_report(post=p, by=rep, reason="rude")
    with pytest.raises(PermissionDenied):
        services.post_moderate(post=p, moderator=rep, action="hide", reason="no")
    moment = timezone.now().replace(microsecond=0)
    with time_machine.travel(moment, tick=False):
        services.post_moderate(post=p, moderator=manager, action="hide", reason="Insulting a colleague")
    action = ModerationAction.objects.get()
    assert (action.moderator, action.action, action.reason, action.at) == (
        manager,
        "hide",
        "Insulting a colleague",
        moment,
    )
    assert p.reports.get().handled_at == moment
    assert not Post.objects.visible_to(rep).filter(pk=p.pk).exists()
    assert Post.objects.visible_to(service_user).get(pk=p.pk).hidden_reason == "Insulting a colleague"
    assert Post.objects.visible_to(manager).filter(pk=p.pk).exists()
    services.post_moderate(post=p, moderator=manager, action="restore", reason="Apology received")
    assert Post.objects.visible_to(rep).filter(pk=p.pk).exists()
    assert ModerationAction.objects.count() == 2


def test_edit_keeps_history_and_only_the_author_edits(service_user, rep):
    accept_conduct(service_user)
    p = post(service_user, "First text")
    services.post_edit(post=p, editor=service_user, body="Second text")
    assert list(PostRevision.objects.values_list("body", flat=True)) == ["First text"]
    assert p.edited_at is not None and "Second text" in p.body_html
    with pytest.raises(PermissionDenied):
        services.post_edit(post=p, editor=rep, body="Hijack")


def test_markdown_is_sanitised(service_user):
    accept_conduct(service_user)
    p = post(service_user, "**bold** <script>alert(1)</script> [x](javascript:alert(1)) @accounting")
    assert "<strong>bold</strong>" in p.body_html
    assert "<script" not in p.body_html and "javascript:" not in p.body_html
    assert '<span class="mention">@accounting</span>' in p.body_html


def test_overdue_reminders_once_per_request_and_day(service_user, accounting_user):
    accept_conduct(service_user)
    p = post(
        service_user,
        "Please check",
        request=services.RequestData(to_department="accounting", due_date=date(2026, 3, 2)),
    )
    assert services.requests_remind_overdue(today=date(2026, 3, 2)) == 0  # due today is not overdue
    assert services.requests_remind_overdue(today=date(2026, 3, 3)) == 1
    assert services.requests_remind_overdue(today=date(2026, 3, 3)) == 0  # rerun the same day
    overdue = Notification.objects.filter(kind="overdue")
    assert sorted(overdue.values_list("recipient__username", flat=True)) == ["accounting", "service"]
    assert services.requests_remind_overdue(today=date(2026, 3, 4)) == 1
    services.request_resolve(request=p.request, by=accounting_user)
    assert services.requests_remind_overdue(today=date(2026, 3, 5)) == 0


def test_digest_mails_unread_notifications_once(service_user, accounting_user):
    accept_conduct(service_user)
    post(service_user, "@accounting hello")
    DigestSubscription.objects.create(user=accounting_user, enabled=True)
    assert services.digest_send(user_id=accounting_user.pk) == 1
    assert services.digest_send(user_id=accounting_user.pk) == 0
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["accounting@example.com"]
    assert "mentioned you" in mail.outbox[0].body
    assert services.digest_send(user_id=service_user.pk) == 0  # not subscribed


def test_accepted_answers_make_go_to_people(service_user, accounting_user, rep):
    from collab.views import go_to_people

    accept_conduct(service_user, accounting_user, rep)
    space = SpaceFactory(name="Deliveries")
    for _ in range(2):
        p = post(service_user, "Where is the parcel?", space=space)
        good = services.comment_create(post=p, author=accounting_user, body="Here")
        services.comment_create(post=p, author=rep, body="No idea")
        services.comment_accept(comment=good, by=service_user)
    with pytest.raises(PermissionDenied):
        services.comment_accept(comment=Comment.objects.filter(author=rep).first(), by=rep)
    top = go_to_people(Comment.objects.filter(post__space=space))
    assert [(row["author__username"], row["accepted"]) for row in top] == [("accounting", 2)]


def test_tasks_call_the_services_and_are_quiet_without_rows(service_user, accounting_user):
    from collab import tasks

    assert tasks.remind_overdue_requests() == 0
    assert tasks.send_digest(999999) == 0  # the user is gone: nothing happens
    accept_conduct(service_user)
    post(service_user, "@accounting hi")
    DigestSubscription.objects.create(user=accounting_user, enabled=True)
    assert tasks.send_digest(accounting_user.pk) == 1


def test_a_request_that_also_mentions_the_department_notifies_each_member_once(
    gruber, service_user, accounting_user
):
    clerk2 = UserFactory(username="clerk2", role="Accounting")
    post(
        service_user,
        "@accounting bitte die Mahnung prüfen, @clerk2 auch",
        request=services.RequestData(to_department="accounting"),
    )
    per_person = {
        user.username: Notification.objects.filter(recipient=user).count()
        for user in (accounting_user, clerk2)
    }
    assert per_person == {"accounting": 1, "clerk2": 1}
    assert set(Notification.objects.values_list("kind", flat=True)) == {"request"}
