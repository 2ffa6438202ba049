"""Rate limits of the API: per user when signed in, per client IP otherwise (DRF's default throttles).

The test settings set very high rates so the suite is never throttled; each test here sets a small
rate itself (DRF's throttles read their rates once, at import, hence the monkeypatch).
"""

import pytest
from django.core.cache import cache
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from tests.conftest import client_for
from tests.customer360.test_settings import manage


@pytest.fixture(autouse=True)
def small_rates(monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "2/min", "user": "3/min"})
    cache.clear()
    yield
    cache.clear()


class OpenView(APIView):
    """An API view with the project's default throttles that anonymous callers may use."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request):
        return Response({"ok": True})


def _anonymous_get(ip: str, **headers) -> int:
    request = APIRequestFactory().get("/api/open/", REMOTE_ADDR=ip, **headers)
    return OpenView.as_view()(request).status_code


@pytest.mark.django_db
def test_signed_in_users_are_throttled_per_user(rep, rep2, customer):
    rep_client = client_for(rep)
    responses = [rep_client.get("/api/customers/") for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert int(responses[-1]["Retry-After"]) > 0
    assert "throttled" in responses[-1].json()["detail"]
    assert client_for(rep2).get("/api/customers/").status_code == 200  # a colleague has a count of his own


def test_anonymous_requests_are_throttled_per_ip():
    assert [_anonymous_get("203.0.113.9") for _ in range(3)] == [200, 200, 429]
    assert _anonymous_get("198.51.100.7") == 200


def test_a_forged_forwarded_for_header_does_not_give_a_fresh_count():
    codes = [_anonymous_get("203.0.113.9", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}") for i in range(3)]
    assert codes == [200, 200, 429]


def test_a_malformed_rate_stops_the_start_with_one_clear_line(tmp_path):
    result = manage("check", env={"C360_VAR_DIR": str(tmp_path), "C360_API_USER_RATE": "lots"})
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "Configuration error: C360_API_USER_RATE='lots' is not a rate (use e.g. 120/min or 10/second)"
    )
