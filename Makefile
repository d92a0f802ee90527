# Two commands do all the set-up on a fresh machine with Python 3.11+:
#   make run   - create .venv, install Tally, start it (embedded Postgres unless TALLY_DATABASE_URL)
#   make test  - create .venv, install Tally with its dev tools, run ruff (lint, and format
#                --check so formatting stays clean), mypy, lint-imports (the dependency
#                contracts, docs/architecture.md), xenon (no function above complexity
#                grade C) and the whole suite
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: run test lint bench install

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/tally serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/xenon --max-absolute C domain commands projections adapters api bench

test: lint
	$(BIN)/pytest -q

bench: install
	$(BIN)/python bench/ledger.py
