"""Read replicas (issue #18): dashboards, search and exports may read from DATABASE_REPLICA_URL; every
write, every read inside a write transaction and every read after a write in the same request goes to
the primary, so users read their own writes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction

from customer360 import replica
from customer360.models import Customer
from customer360.replica import ReplicaRouter, read_alias, reads_from_replica, replica_reads
from tests.factories import CustomerFactory

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def with_replica(monkeypatch):
    monkeypatch.setattr(replica, "replica_configured", lambda: True)


def test_without_a_replica_everything_reads_the_primary():
    with replica_reads():
        assert read_alias() == "default"
    assert ReplicaRouter().db_for_read(Customer) == "default"


def test_reads_go_to_the_replica_only_where_the_code_says_so(with_replica):
    assert read_alias() == "default"
    with replica_reads():
        assert read_alias() == "replica"
        assert ReplicaRouter().db_for_read(Customer) == "replica"
    assert read_alias() == "default"


@pytest.mark.django_db
def test_a_read_inside_a_write_transaction_reads_the_primary(with_replica):
    with replica_reads(), transaction.atomic():
        assert read_alias() == "default"


def test_after_a_write_the_request_reads_its_own_writes(with_replica):
    router = ReplicaRouter()

    @reads_from_replica
    def view():
        before = router.db_for_read(Customer)
        assert router.db_for_write(Customer) == "default"
        return before, router.db_for_read(Customer)

    assert view() == ("replica", "default")


def test_migrations_run_on_the_primary_only():
    router = ReplicaRouter()
    assert router.allow_migrate("default", "customer360")
    assert not router.allow_migrate("replica", "customer360")


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    not settings.IS_POSTGRES, reason="a replica needs PostgreSQL (DATABASE_URL=postgres://...)"
)
def test_pages_read_from_the_replica_where_they_may(manager):
    """A second connection to the same database stands in for a streaming replica: the routing is what
    is tested, and a page that reads the replica when it must not would show up in the counts."""
    customer = CustomerFactory(first_name="Rita", last_name="Replica")
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL"}}
    env.update(DJANGO_SETTINGS_MODULE="customer360.settings.test", DATABASE_URL=url, DATABASE_REPLICA_URL=url)
    pages = ["/dashboards/customers/", "/search/?q=Replica", f"/customers/{customer.pk}/"]
    result = subprocess.run(  # noqa: S603
        [sys.executable, "tests/customer360/replica_probe.py", manager.username, *pages],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    counts = json.loads(result.stdout.strip().splitlines()[-1])
    dashboard, search, page = (counts[p] for p in pages)
    assert dashboard["status"] == search["status"] == page["status"] == 200
    # Dashboards and search read from the replica ...
    assert dashboard["replica"] > 0
    assert search["replica"] > 0
    # ... the 360 page (which writes its access-log row) reads only the primary.
    assert page["replica"] == 0 and page["default"] > 0
