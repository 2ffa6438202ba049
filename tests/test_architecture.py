"""The dependency rule of ARCHITECTURE.md and the deployment description stay true."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
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
    app_services = {"migrate", "web", "worker", "worker-ml", "worker-imports", "worker-rescoring", "beat"}
    assert set(services) == app_services | {"proxy", "postgres", "redis"}
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no healthcheck"
    for name in app_services:
        env = services[name]["environment"]
        assert env["C360_ENV"] == "production"
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["REDIS_URL"].startswith("redis://")
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
        # Files go through the database storage: no container needs a volume another host shares.
        assert env["C360_FILE_STORAGE"] == "database"
        assert not any("media" in v for v in services[name].get("volumes", [])), name
    # Migrations run once, in their own one-shot service; everything else waits for it (#18).
    assert services["migrate"]["command"] == "python manage.py migrate --noinput"
    assert services["migrate"]["restart"] == "no"
    for name in app_services - {"migrate"}:
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert "migrate" not in services[name]["command"], f"{name} must not migrate at start"
    assert services["web"]["command"].startswith("gunicorn customer360.wsgi:application")
    assert services["web"]["deploy"]["replicas"] >= 2 and "ports" not in services["web"]
    assert services["proxy"]["ports"] == ["8000:8000"]
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "proxy_pass $web;" in nginx and "resolver 127.0.0.11" in nginx
    # One worker per queue, and the imports go to the imports queue.
    queues = {
        name: services[name]["command"].split("-Q ", 1)[1].split()[0]
        for name in app_services
        if "-Q" in services[name]["command"]
    }
    assert queues == {
        "worker": "default",
        "worker-ml": "ml",
        "worker-imports": "imports",
        "worker-rescoring": "rescoring",
    }
    assert services["worker"]["environment"]["C360_IMPORT_QUEUE"] == "imports"
    assert services["web"]["environment"]["C360_RESCORING_QUEUE"] == "rescoring"
    for name in queues:
        assert services[name]["command"].startswith("celery -A customer360 worker")
    assert services["beat"]["command"].startswith("celery -A customer360 beat")
    assert services["beat"]["deploy"]["replicas"] == 1
    assert "/health/" in " ".join(services["web"]["healthcheck"]["test"])
    assert {"pgdata", "redisdata"} <= set(compose["volumes"]) and "media" not in compose["volumes"]
    assert any(v.startswith("pgdata:") for v in services["postgres"]["volumes"])


def test_celery_routes_cover_every_queue_a_compose_worker_consumes():
    from customer360.celery import app

    fixed = next(routes for routes in app.conf.task_routes if isinstance(routes, dict))
    routed = {route["queue"] for route in fixed.values()}
    # imports and rescoring chunks are sent to the queue their setting names (compose sets both)
    assert routed | {app.conf.task_default_queue, "imports", "rescoring"} == {
        "default",
        "ml",
        "imports",
        "rescoring",
    }


def test_the_maintenance_after_imports_and_rescoring_runs_goes_to_their_queues(settings):
    """The duplicate scan after an import and the scores' vacuum after a full rescoring take minutes
    at a million customers: they run on the imports and rescoring queues (as compose configures
    them), not on the default queue, where the rescoring a new event asks for would wait."""
    from customer360.celery import app

    def queue(name):
        return app.amqp.router.route({}, name)["queue"].name

    settings.C360_IMPORT_QUEUE, settings.C360_RESCORING_QUEUE = "imports", "rescoring"
    assert queue("customer360.sources.tasks.find_duplicates") == "imports"
    assert queue("insights.tasks.vacuum_scores") == "rescoring"
    assert queue("insights.tasks.rescore_pending") == "default"
    assert queue("customer360.sources.tasks.run_import") == "default"  # sent with its queue named
    assert queue("insights.tasks.train_models") == "ml"
    assert queue("analytics.refresh_rollups") == "ml"  # 31 s at a million customers
    assert queue("crm.tasks.check_sla_breaches") == "default"  # seconds
    settings.C360_IMPORT_QUEUE = settings.C360_RESCORING_QUEUE = "default"  # embedded: one worker
    assert queue("customer360.sources.tasks.find_duplicates") == "default"
    assert queue("insights.tasks.vacuum_scores") == "default"


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


# --- Size: no module over 600 lines, no function over 60 (issue #17) --------------------------------
APPS = ("customer360", "crm", "marketing", "billing", "collab", "insights", "analytics")
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 60
# Offenders still being split in parallel branches (crm: "evcrm", billing/marketing: "evbill") and
# three long core functions. The list may only shrink: an entry that is no longer too long fails
# the test too, so whoever fixes one removes it here.
SIZE_ALLOWED: set[str] = set()


def _size_offenders() -> set[str]:
    """Modules and functions of the apps that are too long (demo seeders and migrations excepted)."""
    import ast

    found = set()
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts or path.name == "demo.py":
                continue
            name = path.relative_to(ROOT).as_posix()
            text = path.read_text()
            if len(text.splitlines()) > MAX_MODULE_LINES:
                found.add(name)
            for node in ast.walk(ast.parse(text)):
                is_function = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                if is_function and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES:
                    found.add(f"{name}:{node.name}")
    return found


def test_no_module_over_600_lines_and_no_function_over_60():
    offenders = _size_offenders()
    assert sorted(offenders - SIZE_ALLOWED) == [], "too long: split them by concern"
    assert sorted(SIZE_ALLOWED - offenders) == [], "short enough now: remove them from SIZE_ALLOWED"


def test_size_check_sees_a_long_function(tmp_path, monkeypatch):
    """The check itself: a 61-line function in an app is found (so the test above can fail)."""
    app = tmp_path / "crm"
    app.mkdir()
    (app / "long.py").write_text("def f():\n" + "    x = 1\n" * 60)
    (app / "demo.py").write_text("def seed():\n" + "    x = 1\n" * 80)
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert _size_offenders() == {"crm/long.py:f"}


# --- No import cycles inside the apps (issue #17) ---------------------------------------------------
# customer360.models <-> timeline <-> events came with the declared event kinds; left to that work.
CYCLES_ALLOWED: list[list[str]] = []


def _import_cycles() -> list[list[str]]:
    """Groups of modules that import each other (strongly connected components), via grimp."""
    import grimp

    packages = [app for app in APPS if (ROOT / app).is_dir()]
    graph = grimp.build_graph(*packages, cache_dir=None)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return cycles


def test_no_import_cycles():
    """services <-> tasks and models <-> segments were cycles; services enqueue tasks by name now."""
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 5000))
    assert sorted(c for c in _import_cycles() if c not in CYCLES_ALLOWED) == []


@pytest.mark.parametrize(
    ("env", "backend"),
    [
        ({}, "django.core.files.storage.FileSystemStorage"),
        ({"C360_FILE_STORAGE": "database"}, "customer360.files.storage.DatabaseStorage"),
        ({"C360_FILE_STORAGE": "s3", "C360_S3_BUCKET": "c360"}, "storages.backends.s3.S3Storage"),
        ({"C360_FILE_STORAGE": "s3"}, "C360_FILE_STORAGE=s3 needs C360_S3_BUCKET"),
        ({"C360_FILE_STORAGE": "nfs"}, "C360_FILE_STORAGE must be one of filesystem, database, s3"),
    ],
)
def test_the_file_storage_is_chosen_by_the_environment(env, backend, tmp_path):
    """Settings read in a fresh interpreter: the backend named, or the clear start-up error."""
    code = "from customer360.settings import base; print(base.STORAGES['default']['BACKEND'])"
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith("C360_") and k != "DJANGO_SETTINGS_MODULE"
    }
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "C360_VAR_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert backend in (result.stdout if result.returncode == 0 else result.stderr)
