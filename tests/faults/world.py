"""The data the fault tests work on, created in the stack's database by a Django shell."""

WORLD = r"""
import datetime, json
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.models import Group
from django.contrib.sessions.backends.db import SessionStore
from django.utils import timezone
from customer360.models import API_AREAS, Customer, DataSource, api_scope
from customer360.services import api_token_create
from customer360.sources import services as sources

user, _ = get_user_model().objects.get_or_create(username="faultrep")
user.set_password("fault-rep-password-1")
user.save()
user.groups.add(Group.objects.get(name="Sales"))
Customer.objects.bulk_create(
    [Customer(customer_number=f"F{i:06d}", first_name="Kundin", last_name=f"Nr{i}", owner=user) for i in range(CUSTOMERS)]
)
session = SessionStore()
session[SESSION_KEY] = str(user.pk)
session[BACKEND_SESSION_KEY] = "customer360.auth.PermissionBackend"
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session.create()
scopes = [api_scope(area, write) for area in API_AREAS for write in (False, True)]
_t, token = api_token_create(user=user, name="faults", scopes=scopes, expires_at=timezone.now() + datetime.timedelta(days=1))
source = DataSource.objects.create(name="faults api", slug="faults-api", kind="api", department="sales", target="events")
source_token = sources.source_issue_token(source=source)
ids = list(Customer.objects.filter(owner=user).order_by("pk").values_list("pk", flat=True))
print(json.dumps({"session": session.session_key, "token": token, "source": source.slug,
                  "source_token": source_token, "customers": ids}))
"""


def world_code(customers: int) -> str:
    return WORLD.replace("CUSTOMERS", str(customers))
