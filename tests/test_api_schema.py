"""The OpenAPI schema validates without warnings and lists every app's endpoints."""

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_schema_validates_without_warnings_and_lists_every_endpoint(tmp_path):
    schema_file = tmp_path / "schema.yaml"
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "spectacular",
            "--validate",
            "--fail-on-warn",
            "--file",
            str(schema_file),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    paths = set(yaml.safe_load(schema_file.read_text())["paths"])
    expected = [
        "/api/customers/",
        "/api/customers/{id}/timeline/",
        "/api/crm/tickets/",
        "/api/crm/deals/",
        "/api/crm/activities/",
        "/api/crm/contracts/",
        "/api/billing/invoices/",
        "/api/billing/payments/",
        "/api/marketing/campaigns/",
        "/api/marketing/consents/",
        "/api/marketing/segments/",
        "/api/collab/posts/",
        "/api/collab/requests/",
    ]
    missing = [p for p in expected if p not in paths]
    assert missing == []
    assert any(p.startswith("/api/sources/") for p in paths)
