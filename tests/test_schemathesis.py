"""Schemathesis over every API operation against a live gunicorn on PostgreSQL, through the same script
CI runs (``.ci/schemathesis``), with fewer examples per operation."""

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _postgres_server() -> tuple[str, str] | None:
    """(server URL without a database, database name) of DATABASE_URL when it is PostgreSQL."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return None
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", "")), parts.path.strip("/")


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_schema_violation():
    if os.environ.get("CI"):
        pytest.skip("CI runs .ci/schemathesis itself, with more examples, and prints its summary line")
    server = _postgres_server()
    if server is None:
        pytest.skip("schemathesis runs against PostgreSQL: set DATABASE_URL=postgres://...")
    pg_url, database = server
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "PG_URL": pg_url,
        # A throwaway database of its own beside the configured one (dropped before and after).
        "SCHEMATHESIS_DB": f"{database}_schemathesis",
        "SCHEMATHESIS_EXAMPLES": os.environ.get("SCHEMATHESIS_EXAMPLES", "3"),
    }
    run = subprocess.run(  # noqa: S603 - our own script
        [str(ROOT / ".ci" / "schemathesis")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200
    )
    summary = [line for line in run.stdout.splitlines() if line.startswith("schemathesis summary:")]
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert summary and "failure" not in summary[0] and summary[0].endswith("(exit 0)"), summary
