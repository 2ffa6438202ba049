from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "sources"


@pytest.fixture(autouse=True)
def _sandbox(import_sandbox):
    """Every test of data sources runs with the import sandbox of tests/conftest.py."""


@pytest.fixture
def fixture_path():
    return lambda name: FIXTURES / name
