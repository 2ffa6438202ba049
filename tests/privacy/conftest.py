import pytest


@pytest.fixture(autouse=True)
def _sandbox(import_sandbox):
    """Uploads, error files and export ZIPs under a temporary media root."""
