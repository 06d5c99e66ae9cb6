# Every entry point of SCC Payments. `make dev` runs the whole system locally; `make test` runs
# every check. Both install what they need on a fresh machine and are safe to run twice.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .tools/sam
SAM := $(SAM_VENV)/bin/sam
PYTEST_ARGS ?=
PORT ?= 8000

export SAM_CLI_TELEMETRY := 0
export PYTHONPATH := $(CURDIR)
# Local tools never need an AWS account; a real region keeps SDKs and linters quiet.
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: help install dev reconcile bench test lint format typecheck template-check unit integration e2e clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

# --- installation (idempotent: re-runs only when a requirements file changes) --------------

$(VENV)/.installed: requirements/runtime.txt requirements/dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/dev.txt
	@touch $@

# SAM CLI pins its own boto3/pydantic/cfn-lint, so it lives in a virtualenv of its own.
$(SAM_VENV)/.installed: requirements/sam.txt
	@test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/sam.txt
	@touch $@

install: $(VENV)/.installed $(SAM_VENV)/.installed ## Create the virtualenvs (done by dev/test too)

# --- running -------------------------------------------------------------------------------

dev: $(VENV)/.installed ## Run the whole system locally (moto server + API + SPA) on PORT (8000)
	PORT=$(PORT) $(PY) -m devstack

reconcile: $(VENV)/.installed ## Recompute summaries from the ledger (local stack, or TABLE=name); REPAIR=1 fixes drift
	$(PY) -m shared.reconcile $(if $(TABLE),--table $(TABLE)) $(if $(REPAIR),--repair)

bench: $(VENV)/.installed ## Performance budget as counts and ratios (see tests/bench/)
	$(PY) tests/bench/bench_pipeline.py

# --- checks --------------------------------------------------------------------------------

lint: $(VENV)/.installed ## ruff lint + format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed ## Apply ruff formatting and safe fixes
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: $(VENV)/.installed ## mypy (strict) on services/, shared/ and devstack/
	$(VENV)/bin/mypy services shared devstack

template-check: $(VENV)/.installed $(SAM_VENV)/.installed ## cfn-lint and sam validate --lint
	$(VENV)/bin/cfn-lint template.yaml
	$(SAM) validate --lint --template template.yaml

unit: $(VENV)/.installed ## Unit tests (no sockets)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

integration: $(VENV)/.installed ## Integration tests (handlers on moto, tables from template.yaml)
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

e2e: $(VENV)/.installed ## End-to-end tests against the local stack over HTTP
	$(PY) -m pytest tests/e2e $(PYTEST_ARGS)

test: lint typecheck template-check ## Every check: lint, types, template, all tests
	$(PY) -m pytest tests $(PYTEST_ARGS)

clean: ## Remove virtualenvs, caches and local state
	rm -rf $(VENV) .tools .local .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis
