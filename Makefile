# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv first.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: setup demo test lint typecheck unit acceptance bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

setup: $(BIN)/.installed

## Build the sample platform in ./payoutwatch.db, evaluate it, show it, and serve it at http://127.0.0.1:8000.
demo: setup
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

## Reference-scale benchmark (DESIGN §9); SCALE=1.0 is 20,000 studios.
SCALE ?= 0.1
bench: setup
	$(BIN)/python bench/run.py --scale $(SCALE) --store sqlite --json bench/results/sqlite-$(SCALE).json
	$(BIN)/python bench/run.py --scale $(SCALE) --store postgresql --json bench/results/postgresql-$(SCALE).json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis payoutwatch.db*
