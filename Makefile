# The two commands: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements.lock

.PHONY: run test install install-dev lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel

$(VENV)/.installed: $(BIN)/python pyproject.toml $(LOCK)
	$(BIN)/pip install --quiet -c $(LOCK) -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install --quiet -c $(LOCK) -e '.[dev]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## Install, migrate, seed demo data on first start, run web + worker + beat. Ctrl-C stops all.
run: $(VENV)/.installed
	$(BIN)/python manage.py run_embedded

# Slow tests (fault injection, schemathesis, browser walks) run in CI (CI=true) or with SLOW=1.
ifeq ($(or $(CI),$(SLOW)),)
PYTEST_MARK := -m "not slow"
endif

# The seed's processes fork only from a process with no other thread; earlier tests leave threads
# behind (a live server), so these run in a pytest process of their own.
FORKING_TESTS := tests/customer360/test_demo_lanes.py

## Install dev dependencies and run the whole suite (SQLite, or PostgreSQL when DATABASE_URL is set).
test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python -m pytest $(PYTEST_MARK) $(PYTEST_ARGS) --ignore=$(FORKING_TESTS)
	$(BIN)/python -m pytest $(PYTEST_MARK) $(FORKING_TESTS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/lint-imports

## Benchmarks on PostgreSQL (DATABASE_URL must point to it); prints figures, asserts nothing.
# e.g. make bench BENCH_ARGS="--customers 1000000 --compare var/bench-100000.json"
bench: $(VENV)/.installed-dev
	$(BIN)/python manage.py bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var/*.sqlite3* var/broker var/cache var/celerybeat-schedule*
