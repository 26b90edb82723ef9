# Folio. Two commands: `make run` and `make test`; `make` alone (or `make help`) lists the others.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PYTHONDONTWRITEBYTECODE := 1
# The locks, both from pyproject.toml by one tool (uv, itself pinned in the dev lock); universal: they hold
# for every platform and Python >= 3.11 (markers where a package is platform-specific).
LOCK := $(BIN)/uv pip compile pyproject.toml --quiet --universal --python-version 3.11 \
	--custom-compile-command "make lock"

.DEFAULT_GOAL := help
.PHONY: help run test test-fast e2e lint lint-ruff lint-types lint-imports lint-dead lock bench bench-reports bench-http topology clean

## help: list the targets (`make` alone does this)
help:
	@echo "Folio: make TARGET"
	@sed -n 's/^## \([a-z0-9-]*\): /  \1\t/p' $(MAKEFILE_LIST) | expand -t 17

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Development installs the dev lock (runtime + tests, linters, the embedded Redis, honcho, Faker, uv); a server
# installs requirements.txt alone (deploy/README.md).
$(VENV)/.dev: requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

## run: serve Folio with demo data, workers (mail+payments, reports) and the scheduler on http://127.0.0.1:5000 (PORT)
run: $(VENV)/.dev
	$(BIN)/python -m webapp.devstack

## test: the whole suite (TEST_DATABASE_URL / TEST_REDIS_URL select PostgreSQL / Redis)
test: $(VENV)/.dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## test-fast: everything but the browser tests
test-fast: $(VENV)/.dev
	$(BIN)/python -m pytest -m "not e2e" $(PYTEST_ARGS)

## e2e: the browser tests only (Playwright on Chromium)
e2e: $(VENV)/.dev
	$(BIN)/python -m pytest -m e2e $(PYTEST_ARGS)

## lint: ruff, mypy, the import contracts and vulture (`make -k lint` runs all four whatever fails)
lint: lint-ruff lint-types lint-imports lint-dead

## lint-ruff: ruff (style, bugs, import order)
lint-ruff: $(VENV)/.dev
	$(BIN)/ruff check .

## lint-types: mypy on webapp/ (strict on webapp/services; settings in pyproject.toml)
lint-types: $(VENV)/.dev
	$(BIN)/mypy

## lint-imports: the import contracts (no cycles, layered services; pyproject.toml [tool.importlinter])
lint-imports: $(VENV)/.dev
	$(BIN)/lint-imports

## lint-dead: vulture, dead code at 60 % confidence and up (whitelist: vulture_whitelist.py)
lint-dead: $(VENV)/.dev
	$(BIN)/vulture

## lock: re-pin requirements.txt (runtime) and requirements-dev.txt from pyproject.toml (UPGRADE=1: newest allowed)
lock: $(VENV)/.dev
	$(LOCK) $(if $(UPGRADE),--upgrade) -o requirements.txt
	$(LOCK) $(if $(UPGRADE),--upgrade) --extra dev -c requirements.txt -o requirements-dev.txt

## bench: load BENCH_BOOKS (default 1,000,000) into BENCH_DATABASE_URL (PostgreSQL) and print latencies
bench: $(VENV)/.dev
	$(BIN)/python bench/catalog_bench.py

## bench-reports: 1,000,000 books and 2,000,000 order lines in BENCH_DATABASE_URL; time every report and the admin home
bench-reports: $(VENV)/.dev
	$(BIN)/python bench/reports.py --reuse
	$(BIN)/python bench/admin_home.py --reuse

## bench-http: wrk through gunicorn (production settings) on every page at 1,000,000 books vs a bare view; JSON (BENCH_HTTP_ARGS)
bench-http: $(VENV)/.dev
	$(BIN)/python bench/http_bench.py $(BENCH_HTTP_ARGS)

## topology: nginx + two gunicorn instances + workers by queue + scheduler on DATABASE_URL/REDIS_URL (deploy/topology.sh)
topology: $(VENV)/.dev
	deploy/topology.sh start

## clean: remove the virtualenv, instance/ (the SQLite database, uploads) and test leftovers
clean:
	rm -rf $(VENV) instance .pytest_cache test-artifacts
