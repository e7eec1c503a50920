# One target per job; CI calls `make test` only (through .ci/run).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# pip finds the machine's CPU build of torch through its configured find-links; uv does not.
PIP_INSTALL := $(BIN)/pip install --quiet --disable-pip-version-check

.PHONY: dev lint test test-fast

## dev: prepare the development environment on a fresh Debian 12 machine (root)
dev: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || { apt-get update -qq && apt-get install -y -qq python3.11-venv; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) --upgrade pip
	$(PIP_INSTALL) -e '.[dev]'
	touch $@

## lint: ruff (code and format)
lint: dev
	$(BIN)/ruff check app alembic tests
	$(BIN)/ruff format --check app alembic tests

## test: lint, then every test (real PostgreSQL/Redis and lab hosts are started by the tests)
test: lint
	$(BIN)/pytest

## test-fast: unit tests only
test-fast: dev
	$(BIN)/pytest -m "not integration and not lab"
