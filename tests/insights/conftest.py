import pytest

from insights import services
from insights.engine import forget_catalogue
from tests.customer360.stand_in_kinds import stand_in_kinds  # noqa: F401 - contact kinds until crm declares them


@pytest.fixture(autouse=True)
def _fresh_catalogue():
    """Tests edit actions with queryset.update() (no signal): never reuse another test's catalogue."""
    forget_catalogue()
    yield
    forget_catalogue()


@pytest.fixture(autouse=True)
def _per_customer_requests(request, monkeypatch):
    """Rescoring requests take the per-customer path (one task per customer, which tests mock) even
    when REDIS_URL is set; tests of the Redis path ask for the ``redis_client`` fixture."""
    if "redis_client" not in request.fixturenames:
        monkeypatch.setattr(services, "_redis", lambda: None)
