"""Shared fixtures: one user per role, logged-in clients, customers, and a headless browser."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from django.test import Client

from tests.factories import CustomerFactory, UserFactory

# ../shared/data beside the checkout; C360_SHARED_DATA names it for a checkout elsewhere (a worktree).
SHARED_DATA = Path(
    os.environ.get("C360_SHARED_DATA", Path(__file__).resolve().parent.parent.parent / "shared" / "data")
)
OUTPUT_DIR = Path(os.environ.get("TEST_OUTPUT_DIR", Path(__file__).resolve().parent.parent / "test-output"))
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def shared_data(*parts: str) -> Path:
    """A file of ../shared/data, or a skip with the reason when this checkout has none."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared/data is only beside the project's own checkouts)")
    return path


@pytest.fixture
def rep(db):
    return UserFactory(username="rep", first_name="Anna", last_name="Berger", role="Sales", team="Wien")


@pytest.fixture
def rep2(db):
    return UserFactory(username="rep2", first_name="Lukas", last_name="Wolf", role="Sales", team="Graz")


@pytest.fixture
def service_user(db):
    return UserFactory(username="service", role="Service", team="Service")


@pytest.fixture
def marketing_user(db):
    return UserFactory(username="marketing", role="Marketing", team="Marketing")


@pytest.fixture
def accounting_user(db):
    return UserFactory(username="accounting", role="Accounting", team="Accounting")


@pytest.fixture
def manager(db):
    return UserFactory(username="manager", first_name="Markus", last_name="Hofer", role="Manager")


@pytest.fixture
def admin_user(db):
    return UserFactory(username="admin", role="Admin", is_staff=True)


@pytest.fixture
def role_users(rep, service_user, marketing_user, accounting_user, manager, admin_user):
    return {
        "Sales": rep,
        "Service": service_user,
        "Marketing": marketing_user,
        "Accounting": accounting_user,
        "Manager": manager,
        "Admin": admin_user,
    }


def client_for(user) -> Client:
    """A client logged in as ``user``; a user whose role requires the second factor (Admin) gets a
    confirmed authenticator app and a session that has confirmed it, as after a real sign-in."""
    client = Client()
    client.force_login(user)
    from customer360.signin.policy import second_factor_required

    if second_factor_required(user):
        confirm_second_factor(client, user)
    return client


def token_client_for(user, scopes: list[str] | None = None):
    """A DRF client that sends a personal API token of ``user`` (every scope unless given)."""
    import datetime

    from django.utils import timezone
    from rest_framework.test import APIClient

    from customer360.models import API_AREAS, api_scope
    from customer360.services import api_token_create

    if scopes is None:
        scopes = [api_scope(area, write) for area in API_AREAS for write in (False, True)]
    _token, secret = api_token_create(
        user=user, name="test", scopes=scopes, expires_at=timezone.now() + datetime.timedelta(days=30)
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def authenticator_for(user):
    """The user's confirmed authenticator app (TOTP), created when missing."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or TOTPDevice.objects.create(user=user, name="test phone", confirmed=True)


def totp_code(device, offset: int = 0) -> str:
    """The code the authenticator app shows now (``offset`` steps later or earlier)."""
    import time

    from django_otp.oath import TOTP

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + offset * device.step
    return f"{totp.token():0{device.digits}d}"


def confirm_second_factor(client: Client, user) -> None:
    """Mark the client's session as confirmed with the user's authenticator app (django_otp.login)."""
    from django_otp import DEVICE_ID_SESSION_KEY

    session = client.session
    session[DEVICE_ID_SESSION_KEY] = authenticator_for(user).persistent_id
    session.save()


@pytest.fixture
def rep_client(rep):
    return client_for(rep)


@pytest.fixture
def manager_client(manager):
    return client_for(manager)


@pytest.fixture
def customer(db, rep):
    return CustomerFactory(first_name="Franz", last_name="Gruber", owner=rep)


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright; skips when none is installed."""
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


@pytest.fixture
def screenshot_dir() -> Path:
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    return OUTPUT_DIR


@pytest.fixture(scope="session", autouse=True)
def _migration_data_snapshot(django_db_setup, django_db_blocker):
    """Keep a copy of what migrations wrote (roles, pipelines, policies), which serialized rollback
    restores after each transactional test. It is kept on the connection CLASS: Playwright's sync API
    runs tests in a greenlet whose context has connection objects of its own."""
    from django.db import DatabaseError, connections

    with django_db_blocker.unblock():
        for connection in connections.all():
            try:
                snapshot = getattr(connection, "_test_serialized_contents", None) or (
                    connection.creation.serialize_db_to_string()
                )
            except DatabaseError:  # no test in this run needs the database, so none was created
                continue
            type(connection)._test_serialized_contents = snapshot


def pytest_collection_modifyitems(items):
    """Transactional tests flush the database afterwards, which would also remove what data
    migrations created (roles, pipelines, policies). Serialized rollback restores it for the next test."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker and marker.kwargs.get("transaction") and not marker.kwargs.get("serialized_rollback"):
            item.add_marker(
                pytest.mark.django_db(**{**marker.kwargs, "serialized_rollback": True}), append=False
            )


@pytest.fixture(autouse=True)
def _site_language():
    """Every test starts in the site's language. A request in German (the language switch) leaves
    German active in the test's thread, where the next test's direct calls would otherwise see it."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


@pytest.fixture
def import_sandbox(settings, tmp_path, monkeypatch):
    """Uploads under a temporary media root; the duplicate scan after an import (a task of its
    own) is not queued, tests call it themselves."""
    from customer360.sources import tasks

    settings.MEDIA_ROOT = tmp_path / "media"
    monkeypatch.setattr(tasks.find_duplicates, "delay", lambda *a, **k: None)
