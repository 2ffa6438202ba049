"""Security headers (CSP, Permissions-Policy), no inline script in our templates, API docs served
locally and only to logged-in users."""

import json
import re
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from tests.conftest import client_for
from tests.customer360.test_settings import PRODUCTION, manage

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


def _script_src(policy: str) -> str:
    return next(d for d in policy.split(";") if d.strip().startswith("script-src")).strip()


def test_pages_send_a_strict_csp_and_a_permissions_policy(rep_client):
    response = rep_client.get("/customers/")
    policy = response["Content-Security-Policy"]
    assert _script_src(policy) == "script-src 'self'"
    assert (
        "'unsafe-eval'" not in policy and "object-src 'none'" in policy and "frame-ancestors 'none'" in policy
    )
    permissions = response["Permissions-Policy"]
    for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()", "usb=()"):
        assert feature in permissions


def test_production_mode_sends_the_csp_without_unsafe_inline_for_scripts():
    code = (
        # An answer that needs neither the database nor the (uncollected) static files.
        "from django.test import Client; r = Client().get('/api/schema/', secure=True, "
        "HTTP_HOST='c360.example.com'); import json; "
        "print(json.dumps({'status': r.status_code, 'csp': r.get('Content-Security-Policy', ''), "
        "'pp': r.get('Permissions-Policy', '')}))"
    )
    result = manage("shell", "--no-imports", "-c", code, env=PRODUCTION)
    assert result.returncode == 0, result.stderr
    headers = json.loads(result.stdout.strip().splitlines()[-1])
    assert headers["status"] == 401
    assert _script_src(headers["csp"]) == "script-src 'self'"
    assert "camera=()" in headers["pp"]


INLINE = [
    (re.compile(r"\son[a-z]+\s*=", re.I), "inline event handler"),
    (re.compile(r"\shx-on(:|-)", re.I), "hx-on handler (htmx eval)"),
    (re.compile(r"""hx-(vals|headers)\s*=\s*['"]\s*js:""", re.I), "htmx js: evaluation"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]


def test_no_template_has_inline_script_or_handlers():
    problems = []
    for template in ROOT.glob("**/templates/**/*.html"):
        if ".venv" in template.parts:
            continue
        text = template.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", text, re.I):
            if "src=" not in tag and 'type="application/json"' not in tag:
                problems.append(f"{template.relative_to(ROOT)}: inline {tag}")
        for pattern, what in INLINE:
            if pattern.search(text):
                problems.append(f"{template.relative_to(ROOT)}: {what}")
    assert problems == []


def test_anonymous_api_clients_get_401_for_the_schema():
    response = APIClient().get("/api/schema/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_anonymous_browsers_are_sent_to_the_login_page(client, url):
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")


def test_swagger_ui_comes_from_our_static_files_without_inline_script(rep):
    page = client_for(rep)
    html = page.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower() and "https://" not in html
    assert not re.search(r"<script>\s*\S", html)
    script = page.get("/api/docs/?script=")
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode() and "/api/schema/" in script.content.decode()
    schema = page.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200 and "/api/customers/" in schema.json()["paths"]
    assert "apiToken" in schema.json()["components"]["securitySchemes"]


def test_redoc_comes_from_our_static_files_without_inline_script(rep):
    html = client_for(rep).get("/api/redoc/").content.decode()
    assert "/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js" in html
    assert "https://" not in html and not re.search(r"<script>\s*\S", html)
