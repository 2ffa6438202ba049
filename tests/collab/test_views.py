"""Pages of the feed: scope (404), no customer leaks, constant query counts, role gates."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from collab import services
from collab.models import Notification, Post
from tests.collab.factories import SpaceFactory, accept_conduct, give_department_access, post
from tests.conftest import client_for
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def private_space(service_user):
    accept_conduct(service_user)
    return services.space_create(name="Service leads", created_by=service_user, visibility="members")


def test_members_only_space_is_invisible_to_non_members(private_space, service_user, rep, manager):
    p = post(service_user, "internal only", space=private_space)
    outsider = client_for(rep)
    assert outsider.get(reverse("collab:space_detail", args=[private_space.slug])).status_code == 404
    assert outsider.get(reverse("collab:post_detail", args=[p.pk])).status_code == 404
    assert outsider.post(reverse("collab:comment_create", args=[p.pk]), {"body": "x"}).status_code == 404
    assert "internal only" not in outsider.get(reverse("collab:feed")).content.decode()
    assert "Service leads" not in outsider.get(reverse("collab:space_list")).content.decode()
    assert outsider.get(f"/api/collab/spaces/{private_space.pk}/").status_code == 404
    assert outsider.get(f"/api/collab/posts/{p.pk}/").status_code == 404
    member = client_for(service_user)
    assert (
        "internal only"
        in member.get(reverse("collab:space_detail", args=[private_space.slug])).content.decode()
    )
    # Managers are not members either: members-only means members only.
    assert client_for(manager).get(reverse("collab:post_detail", args=[p.pk])).status_code == 404


def test_customer_linked_post_never_leaks_outside_the_customers_scope(gruber, service_user, marketing_user):
    p = post(service_user, "@accounting can we pause dunning for #Gruber until the replacement ships?")
    number = gruber.customer_number
    # Marketing may read the space but may not see Gruber: the reference is neutralised everywhere.
    outsider = client_for(marketing_user)
    for url in (reverse("collab:feed"), reverse("collab:post_detail", args=[p.pk])):
        page = outsider.get(url).content.decode()
        assert "pause dunning" in page
        assert "Gruber" not in page and number not in page and gruber.get_absolute_url() not in page
        assert "customer (no access)" in page
    api = outsider.get(f"/api/collab/posts/{p.pk}/").json()
    assert "Gruber" not in str(api) and number not in str(api) and api["customers"] == []
    assert outsider.get(reverse("collab:search"), {"q": "Gruber"}).context["posts"] == []
    assert outsider.get(f"/api/collab/posts/?customer={gruber.pk}").json()["count"] == 0
    assert outsider.get(gruber.get_absolute_url()).status_code == 404
    # The author's department sees the name and the link.
    insider = client_for(service_user)
    page = insider.get(reverse("collab:post_detail", args=[p.pk])).content.decode()
    assert f'href="{gruber.get_absolute_url()}">#Franz Gruber</a>' in page
    assert insider.get(f"/api/collab/posts/{p.pk}/").json()["customers"] == [gruber.pk]
    assert [r.pk for r in insider.get(reverse("collab:search"), {"q": "Gruber"}).context["posts"]] == [p.pk]


def test_timeline_shows_the_discussion_only_to_who_may_see_customer_and_space(
    gruber, service_user, private_space
):
    colleague = UserFactory(username="service2", role="Service")
    public = post(service_user, "public about #Gruber")
    secret = post(service_user, "private about #Gruber", space=private_space)
    timeline = lambda user: client_for(user).get(gruber.get_absolute_url()).content.decode()  # noqa: E731
    mine = timeline(service_user)
    assert "public about Franz Gruber" in mine and "private about Franz Gruber" in mine
    theirs = timeline(colleague)  # sees Gruber (service) but is not a member of the private space
    assert "public about Franz Gruber" in theirs and "private about Franz Gruber" not in theirs
    assert public.pk != secret.pk


def test_feed_query_count_is_constant_in_the_number_of_posts(
    gruber, service_user, accounting_user, django_assert_max_num_queries
):
    client = client_for(service_user)

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("collab:feed"))
        assert response.status_code == 200
        return len(queries)

    post(service_user, "first about #Gruber")
    few = count_queries()
    space = SpaceFactory()
    for i in range(12):
        p = post(
            service_user if i % 2 else accounting_user,
            f"post {i} for #{gruber.customer_number} @accounting",
            space=space,
        )
        services.comment_create(post=p, author=accounting_user, body="ok")
        services.reaction_toggle(post=p, user=service_user, emoji="👍")
        if i % 3 == 0:
            services.post_create(
                author=service_user,
                space=space,
                body=f"request {i}",
                request=services.RequestData(to_department="sales"),
            )
    many = count_queries()
    assert many == few
    with django_assert_max_num_queries(few):
        response = client.get(reverse("collab:feed"))
    assert len(response.context["posts"]) == 17


def test_posting_redirects_to_the_code_of_conduct_until_accepted(service_user):
    services.conduct_publish(text="Be kind.", by=None)
    client = client_for(service_user)
    space = services.space_for_department(department="service")
    response = client.post(reverse("collab:feed"), {"space": space.pk, "body": "Hello"})
    assert response.status_code == 302 and response.url.startswith(reverse("collab:conduct"))
    assert not Post.objects.exists()
    client.post(reverse("collab:conduct"), {"next": reverse("collab:feed")})
    response = client.post(
        reverse("collab:feed"),
        {"space": space.pk, "body": "Hello", "request_kind": "question", "priority": "normal"},
    )
    assert response.status_code == 302
    assert Post.objects.get().body == "Hello"


def test_composer_shows_ambiguity_errors(gruber, service_user):
    other = CustomerFactory(first_name="Karin", last_name="Gruber")
    give_department_access(other, "service")
    client = client_for(service_user)
    space = services.space_for_department(department="service")
    response = client.post(
        reverse("collab:feed"),
        {"space": space.pk, "body": "#Gruber?", "request_kind": "question", "priority": "normal"},
    )
    assert response.status_code == 200
    assert "matches several customers" in response.content.decode()


def test_bell_counts_unread_in_one_query(gruber, service_user, accounting_user, django_assert_num_queries):
    post(service_user, "@accounting one")
    post(service_user, "@accounting two")
    client = client_for(accounting_user)
    response = client.get(reverse("collab:bell"))
    assert 'data-unread="2"' in response.content.decode()
    from django.template import Context, Template
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = accounting_user
    # As the lead includes it in base.html: one query on any page.
    with django_assert_num_queries(1):
        html = Template('{% include "collab/_bell.html" %}').render(
            Context({"request": request, "user": accounting_user})
        )
    assert 'data-unread="2"' in html
    note = Notification.objects.filter(recipient=accounting_user).first()
    assert client.get(reverse("collab:notification_open", args=[note.pk])).status_code == 302
    assert 'data-unread="1"' in client.get(reverse("collab:bell")).content.decode()


def test_request_inbox_shows_the_departments_requests(gruber, service_user, accounting_user):
    post(
        service_user,
        "Please pause dunning",
        request=services.RequestData(to_department="accounting", priority="urgent"),
    )
    post(service_user, "For sales", request=services.RequestData(to_department="sales"))
    response = client_for(accounting_user).get(reverse("collab:requests"))
    rows = response.context["rows"]
    assert [r.post.body for r in rows] == ["Please pause dunning"]
    assert response.context["department"] == "accounting"


def test_moderation_queue_and_analytics_are_role_gated(gruber, service_user, rep, manager):
    p = post(service_user, "rude words")
    client_for(rep).post(reverse("collab:post_report", args=[p.pk]), {"reason": "rude"})
    assert client_for(rep).get(reverse("collab:moderation")).status_code == 403
    assert client_for(rep).get(reverse("analytics:feed")).status_code == 403
    queue = client_for(manager).get(reverse("collab:moderation"))
    assert [q.pk for q in queue.context["posts"]] == [p.pk]
    response = client_for(manager).post(
        reverse("collab:post_moderate", args=[p.pk]), {"action": "hide", "reason": "Tone"}
    )
    assert response.status_code == 302
    assert client_for(rep).get(reverse("collab:post_detail", args=[p.pk])).status_code == 404
    assert (
        "hidden by a moderator" in client_for(service_user).get(p.get_absolute_url()).content.decode().lower()
    )
    assert client_for(manager).get(reverse("analytics:feed")).status_code == 200


def test_customer_autocomplete_lists_only_visible_customers(gruber, marketing_user, service_user):
    url = reverse("collab:customer_autocomplete")
    assert gruber.customer_number in client_for(service_user).get(url, {"q": "grub"}).content.decode()
    assert gruber.customer_number not in client_for(marketing_user).get(url, {"q": "grub"}).content.decode()


def test_customer_panel_shows_internal_discussions(gruber, service_user):
    post(service_user, "about #Gruber and the replacement")
    response = client_for(service_user).get(gruber.get_absolute_url())
    assert "about Franz Gruber and the replacement" in response.content.decode()


def test_request_inbox_names_the_referenced_customer(gruber, service_user, accounting_user):
    post(
        service_user,
        f"#{gruber.customer_number} bitte Mahnsperre",
        request=services.RequestData(to_department="accounting"),
    )
    html = client_for(accounting_user).get(reverse("collab:requests")).content.decode()
    assert "Franz Gruber bitte Mahnsperre" in html
    assert "customer bitte" not in html
