"""Issue #14: the Django admin shows the access log read-only (list, filters, search by user or
customer id), to administrators only; nothing can be added, changed or deleted there."""

from __future__ import annotations

import pytest

from customer360.audit.access import Action, record_access
from customer360.audit.models import AccessLog
from tests.conftest import client_for
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db
LIST = "/admin/customer360/accesslog/"


@pytest.fixture
def log(rep, manager):
    # Ids far from the users' ids: a number searches both.
    huber, wolf, other = (CustomerFactory(pk=pk) for pk in (90001, 90002, 90003))
    entries = {
        "view": record_access(None, Action.VIEW_360, customers=[huber.pk], what="360 page", user=rep),
        "export": record_access(
            None, Action.EXPORT, customers=[wolf.pk, huber.pk], rows=2, what="drill-down CSV", user=manager
        ),
        "other": record_access(None, Action.VIEW_360, customers=[other.pk], what="360 page", user=manager),
    }
    return {"huber": huber, "wolf": wolf, "other": other, **entries}


def _listed(page) -> set[int]:
    return {entry.pk for entry in page.context["cl"].result_list}


def test_admins_list_filter_and_search_the_access_log(admin_user, log, rep):
    client = client_for(admin_user)
    page = client.get(LIST)
    assert page.status_code == 200
    assert _listed(page) == {log["view"].pk, log["export"].pk, log["other"].pk}
    assert _listed(client.get(LIST, {"action__exact": "export"})) == {log["export"].pk}
    # A customer id finds the accesses that named the customer: on the row or among an export's.
    assert _listed(client.get(LIST, {"q": str(log["huber"].pk)})) == {log["view"].pk, log["export"].pk}
    assert _listed(client.get(LIST, {"q": str(log["wolf"].pk)})) == {log["export"].pk}
    # A user name or a user id finds that user's accesses.
    assert _listed(client.get(LIST, {"q": "rep"})) == {log["view"].pk}
    assert log["view"].pk in _listed(client.get(LIST, {"q": str(rep.pk)}))
    detail = client.get(f"{LIST}{log['export'].pk}/change/")
    assert detail.status_code == 200
    text = detail.content.decode()
    assert "drill-down CSV" in text and str(log["wolf"].pk) in text  # the customers the export named


def test_nothing_can_be_added_changed_or_deleted_in_the_admin(admin_user, log):
    client = client_for(admin_user)
    entry = log["view"]
    assert client.get(f"{LIST}add/").status_code == 403
    change = client.post(f"{LIST}{entry.pk}/change/", {"what": "tampered", "action": "export"})
    assert change.status_code == 403
    assert client.post(f"{LIST}{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    bulk = client.post(LIST, {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"})
    assert bulk.status_code in (200, 302)
    entry.refresh_from_db()
    assert entry.what == "360 page"
    assert AccessLog.objects.count() == 3
    page = client.get(f"{LIST}{entry.pk}/change/").content.decode()
    assert 'name="_save"' not in page and "deletelink" not in page


def test_only_administrators_see_the_access_log_in_the_admin(manager, log):
    staff_manager = UserFactory(username="staff-manager", role="Manager", is_staff=True)
    assert client_for(staff_manager).get(LIST).status_code == 403
    assert client_for(staff_manager).get("/admin/").content.decode().count("accesslog") == 0
    assert client_for(manager).get(LIST).status_code == 302  # not staff: the admin's sign-in
