from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "sources"


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def fixture_path():
    return lambda name: FIXTURES / name


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    """The duplicate scan after an import is a separate task; tests call it themselves."""
    from customer360.sources import tasks

    monkeypatch.setattr(tasks.find_duplicates, "delay", lambda *a, **k: None)
