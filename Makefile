# Folio. Two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test test-fast e2e lint bench bench-reports seed-large clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

## run: serve Folio with demo data, workers (mail+payments, reports) and the scheduler on http://127.0.0.1:$${PORT:-5000}
run: $(VENV)/.runtime
	$(BIN)/python -m webapp.devstack

## test: the whole suite (TEST_DATABASE_URL / TEST_REDIS_URL select PostgreSQL / Redis)
test: $(VENV)/.dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## test-fast: everything but the browser tests
test-fast: $(VENV)/.dev
	$(BIN)/python -m pytest -m "not e2e" $(PYTEST_ARGS)

e2e: $(VENV)/.dev
	$(BIN)/python -m pytest -m e2e $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .

## bench: load BENCH_BOOKS (default 1,000,000) into BENCH_DATABASE_URL (PostgreSQL) and print latencies
bench: $(VENV)/.dev
	$(BIN)/python bench/catalog_bench.py

## bench-reports: 1,000,000 books and 2,000,000 order lines in BENCH_DATABASE_URL; time every report and the admin home
bench-reports: $(VENV)/.dev
	$(BIN)/python bench/reports.py --reuse
	$(BIN)/python bench/admin_home.py --reuse

clean:
	rm -rf $(VENV) instance .pytest_cache test-artifacts
