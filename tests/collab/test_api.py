"""The feed over the API: same scope as the pages, actions, 400s naming the field, query counts."""

import pytest

from collab import services
from collab.models import DepartmentRequest, Notification
from tests.collab.factories import SpaceFactory, post
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_request_flow_over_the_api(gruber, service_user, accounting_user):
    asker, clerk = client_for(service_user), client_for(accounting_user)
    response = asker.post(
        "/api/collab/posts/",
        {
            "body": "@accounting pause dunning for #Gruber?",
            "request": {"to_department": "accounting", "priority": "high"},
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["customers"] == [gruber.pk] and body["request"]["to_department"] == "accounting"
    request_id = body["request"]["id"]
    inbox = clerk.get("/api/collab/requests/", {"to_department": "accounting", "status": "open"}).json()
    assert [r["id"] for r in inbox["results"]] == [request_id]
    json = "application/json"  # the API parses JSON only
    answer = clerk.post(f"/api/collab/requests/{request_id}/answer/", {"body": "Paused."}, content_type=json)
    assert answer.status_code == 201
    url = f"/api/collab/requests/{request_id}/assign/"
    assigned = clerk.post(url, {"assignee": accounting_user.pk}, content_type=json)
    assert assigned.json()["assignee"] == "accounting"
    bad = clerk.post(url, {"assignee": service_user.pk}, content_type=json)
    assert bad.status_code == 400 and "assignee" in bad.json()
    resolved = clerk.post(f"/api/collab/requests/{request_id}/resolve/").json()
    assert resolved["status"] == "resolved" and resolved["first_answer_seconds"] is not None
    notes = asker.get("/api/collab/notifications/", {"unread": "true"}).json()
    assert {n["kind"] for n in notes["results"]} == {"answer", "resolved"}
    assert asker.post("/api/collab/notifications/mark-read/", {}, content_type="application/json").json() == {
        "updated": 2
    }
    assert Notification.objects.filter(recipient=service_user, read_at__isnull=True).count() == 0


def test_invalid_input_answers_400_naming_the_field(gruber, service_user):
    client = client_for(service_user)
    assert "space" in client.post("/api/collab/posts/", {"body": "x"}, content_type="application/json").json()
    bad = client.post(
        "/api/collab/posts/",
        {"body": "x", "request": {"to_department": "nowhere"}},
        content_type="application/json",
    )
    assert bad.status_code == 400 and "request" in bad.json()
    missing = client.post(
        "/api/collab/posts/",
        {"body": "#C-999999", "space": SpaceFactory().pk},
        content_type="application/json",
    )
    assert missing.status_code == 400 and "body" in missing.json()


def test_members_only_space_is_not_postable_over_the_api(gruber, service_user, rep):
    private = services.space_create(name="Private", created_by=service_user, visibility="members")
    response = client_for(rep).post(
        "/api/collab/posts/", {"body": "hi", "space": private.pk}, content_type="application/json"
    )
    assert response.status_code == 400 and "space" in response.json()
    post(service_user, "secret", space=private)
    assert client_for(rep).get("/api/collab/posts/").json()["count"] == 0


def test_list_endpoints_have_constant_query_counts(
    gruber, service_user, accounting_user, django_assert_max_num_queries
):
    client = client_for(service_user)
    first = post(
        accounting_user, "@service one #Gruber", request=services.RequestData(to_department="service")
    )
    services.comment_create(post=first, author=service_user, body="ok")
    client.get("/api/collab/posts/")  # warm the permission caches of this client
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def counts():
        result = {}
        for url in (
            "/api/collab/posts/",
            "/api/collab/comments/",
            "/api/collab/requests/",
            "/api/collab/notifications/",
        ):
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url).status_code == 200
            result[url] = len(queries)
        return result

    few = counts()
    for i in range(1, 9):
        p = post(
            accounting_user,
            f"@service post {i} about #Gruber",
            request=services.RequestData(to_department="service"),
        )
        services.comment_create(post=p, author=service_user, body="ok")
    assert counts() == few
    with django_assert_max_num_queries(max(few.values())):
        client.get("/api/collab/posts/")
    assert DepartmentRequest.objects.count() == 9
