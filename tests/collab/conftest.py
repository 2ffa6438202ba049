import pytest

from tests.collab.factories import accept_conduct, give_department_access


@pytest.fixture
def gruber(customer, service_user, accounting_user):
    """Franz Gruber, assigned to service and accounting, not to marketing."""
    give_department_access(customer, "service")
    give_department_access(customer, "accounting")
    accept_conduct(service_user, accounting_user)
    return customer
