"""The dependency rule of ARCHITECTURE.md and the deployment description stay true."""

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_hold():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint_imports)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_docker_compose_describes_the_production_stack():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"web", "worker", "beat", "postgres", "redis"}
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no healthcheck"
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["C360_ENV"] == "production"
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["REDIS_URL"].startswith("redis://")
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "gunicorn customer360.wsgi:application" in services["web"]["command"]
    assert services["worker"]["command"].startswith("celery -A customer360 worker")
    assert services["beat"]["command"].startswith("celery -A customer360 beat")
    assert "/health/" in " ".join(services["web"]["healthcheck"]["test"])
    assert {"pgdata", "redisdata"} <= set(compose["volumes"])
    assert any(v.startswith("pgdata:") for v in services["postgres"]["volumes"])


def test_env_example_names_every_production_setting():
    names = {
        line.split("=", 1)[0].lstrip("# ")
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line
    }
    assert {
        "C360_ENV",
        "SECRET_KEY",
        "ALLOWED_HOSTS",
        "DATABASE_URL",
        "REDIS_URL",
        "DEBUG",
        "TIME_ZONE",
    } <= names


def test_readme_starts_with_the_two_commands():
    head = (ROOT / "README.md").read_text().split("\n## ", 1)[0]
    assert "make run" in head
    assert "make test" in head
