# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv first.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: setup lock demo test lint typecheck unit acceptance airflow bench bench-all clean

UV_VERSION := 0.13.9
UV := $(BIN)/uv
UV_PIP := $(UV) pip install --python $(BIN)/python

# Exact versions come from the lock files (made by `make lock`); uv installs them in seconds.
$(UV):
	@echo "==> creating $(VENV) and installing uv $(UV_VERSION)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(BIN)/.runtime: requirements.lock pyproject.toml | $(UV)
	@echo "==> installing the runtime packages pinned in requirements.lock"
	$(UV_PIP) --quiet -r requirements.lock
	$(UV_PIP) --quiet --no-deps -e .
	@touch $@

$(BIN)/.installed: requirements-dev.lock $(BIN)/.runtime
	@echo "==> installing the test and lint packages pinned in requirements-dev.lock"
	$(UV_PIP) --quiet -r requirements-dev.lock
	@touch $@

## Re-resolve the lock files after changing pyproject.toml's dependencies (keeps current pins where still valid).
lock: | $(UV)
	$(UV) pip compile pyproject.toml --python-version 3.11 --generate-hashes --quiet -o requirements.lock
	$(UV) pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes --quiet -o requirements-dev.lock

setup: $(BIN)/.installed

## Build the sample platform in ./payoutwatch.db, evaluate it, show it, and serve it at http://127.0.0.1:8000.
demo: $(BIN)/.runtime
	@echo "==> building the sample platform in ./payoutwatch.db"
	$(BIN)/payoutwatch demo --serve

## Lint, type-check, and run the whole suite (SQLite + a throwaway PostgreSQL + acceptance).
test: setup lint typecheck
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: setup
	$(BIN)/mypy

unit: setup
	$(BIN)/pytest tests/unit

acceptance: setup
	$(BIN)/pytest tests/test_acceptance.py

## Real Apache Airflow 2.10.5 and 3.3.2 for tests/integration/test_source_airflow_real.py (CI runs this first).
airflow: | $(UV)
	UV=$(abspath $(UV)) bash .ci/airflow.sh

## Reference-scale benchmark (DESIGN §9); SCALE=1.0 is 20,000 studios.
SCALE ?= 0.1
bench: setup
	$(BIN)/python bench/run.py --scale $(SCALE) --store sqlite --json bench/results/sqlite-$(SCALE).json
	$(BIN)/python bench/run.py --scale $(SCALE) --store postgresql --json bench/results/postgresql-$(SCALE).json

## Every figure of README "Benchmark" (about an hour; generates missing data first): both stores at 0.1 and 1.0,
## PostgreSQL at 3.0 and the growth chart, the API under load, the 1 GB stream.
R := bench/results
bench-all: setup
	$(BIN)/python bench/run.py --scale 0.1 --store sqlite --json $(R)/sqlite-0.1.json
	$(BIN)/python bench/run.py --scale 1.0 --store sqlite --json $(R)/sqlite-1.0.json
	$(BIN)/python bench/run.py --scale 0.1 --store postgresql --json $(R)/postgresql-0.1.json
	$(BIN)/python bench/run.py --scale 1.0 --store postgresql --json $(R)/postgresql-1.0.json
	$(BIN)/python bench/run.py --scale 3.0 --store postgresql --json $(R)/postgresql-3.0.json
	$(BIN)/python bench/growth.py $(R)/postgresql-0.1.json $(R)/postgresql-1.0.json $(R)/postgresql-3.0.json \
		--svg $(R)/growth-postgresql.svg
	$(BIN)/python bench/load.py --scale 1.0 --requests 64 --json $(R)/load-postgresql-1.0.json
	$(BIN)/python bench/stream.py --megabytes 1024 --json $(R)/stream-sqlite-1gb.json
	$(BIN)/python bench/table.py $(R)/sqlite-*.json $(R)/postgresql-*.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis payoutwatch.db*
