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
CHECKOV_VENV := .tools/checkov
# Deploys: SAM_ENV is a samconfig.toml environment (default: the production stack; staging;
# dev). It alone picks the stack both `deploy` and `deploy-frontend` work on.
SAM_ENV ?= default
PYTEST_ARGS ?=
# Processes `make test` runs the tests in (pytest-xdist): the servers and browsers they start
# bind free ports and temporary folders, so two run side by side.
TEST_WORKERS ?= 2
PORT ?= 8000

export SAM_CLI_TELEMETRY := 0
export PYTHONPATH := $(CURDIR)
# Local tools never need an AWS account; a real region keeps SDKs and linters quiet.
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: help install dev reconcile verify bench bench-check test lint format typecheck template-check unit integration e2e clean
.PHONY: build-check security-scan schemas invoke deploy deploy-frontend
.PHONY: chromium browser screenshots

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

# checkov pins its own dependencies too (.tools/checkov).
$(CHECKOV_VENV)/.installed: requirements/checkov.txt
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/checkov.txt
	@touch $@

install: $(VENV)/.installed $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed ## Create the virtualenvs (done by dev/test too)

# --- running -------------------------------------------------------------------------------

# make dev keeps its data in DEV_DATA across restarts (RESET=1 starts clean); PARAMS="Key=Value
# ..." overrides template parameters as `sam deploy --parameter-overrides` does; SMTP=1 starts a
# local SMTP server for the notifier (SMTP=0: never; unset: when PARAMS point it at a free
# loopback port). README: "Where local data lives", "Trying the SMTP path locally".
DEV_DATA ?= .devdata
dev: $(VENV)/.installed ## Run the whole system locally on PORT (8000), data kept in DEV_DATA (.devdata; RESET=1 starts clean); PARAMS="Key=Value ..."; SMTP=1
	PORT=$(PORT) DEV_DATA='$(DEV_DATA)' RESET='$(RESET)' SMTP='$(SMTP)' PARAMS='$(PARAMS)' $(PY) -m devstack

reconcile: $(VENV)/.installed ## Recompute summaries from the ledger (local stack, or TABLE=ledger PROJECTION_TABLE=projection); REPAIR=1 fixes drift
	$(PY) -m ops.reconcile $(if $(TABLE),--table $(TABLE) --projection-table $(PROJECTION_TABLE)) $(if $(STACK_FILE),--stack-file $(STACK_FILE)) $(if $(REPAIR),--repair)

verify: $(VENV)/.installed ## Reliability suites (faults, load, fuzzing, auth, tamper, restart) -> verify/results.json; QUICK=1 for CI sizes
	$(PY) -m tests.verify $(if $(QUICK),--quick)

bench: $(VENV)/.installed chromium ## Capacity, cold start, throughput and cost vs the floor and the seed designs -> bench/results.json; QUICK=1 for CI sizes
	$(PY) -m tests.bench $(if $(QUICK),--quick)
	$(if $(QUICK),,$(PY) tests/bench/bench_export.py 2000 20000)

bench-check: $(VENV)/.installed chromium ## What CI runs after make test: make bench QUICK=1, then every figure checked (counts and ratios, never times)
	$(PY) -m pytest tests/bench/ci_quick_bench.py $(PYTEST_ARGS)

# --- checks --------------------------------------------------------------------------------

lint: $(VENV)/.installed ## ruff lint + format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed ## Apply ruff formatting and safe fixes
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: $(VENV)/.installed ## mypy (strict) on services/, shared/ and devstack/
	$(VENV)/bin/mypy services shared devstack ops

template-check: $(VENV)/.installed $(SAM_VENV)/.installed ## cfn-lint and sam validate --lint
	$(VENV)/bin/cfn-lint template.yaml
	$(SAM) validate --lint --template template.yaml

unit: $(VENV)/.installed ## Unit tests (no sockets)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

integration: $(VENV)/.installed ## Integration tests (handlers on moto, tables from template.yaml)
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

e2e: $(VENV)/.installed chromium ## End-to-end tests against the local stack over HTTP (and in Chromium)
	$(PY) -m pytest tests/e2e $(PYTEST_ARGS)

# Headless Chromium for the browser tests, from the Debian package (idempotent; sudo only when
# not root). Playwright drives it directly: no `playwright install`, no downloaded browsers.
CHROMIUM ?= /usr/bin/chromium
chromium: ## Install Chromium (Debian package) for the browser tests if it is missing
	@if [ -x "$(CHROMIUM)" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	echo "Installing chromium (Debian package) for the browser tests"; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; \
	test -x "$(CHROMIUM)"

browser: $(VENV)/.installed chromium ## Browser tests only (the admin app in headless Chromium)
	$(PY) -m pytest tests/e2e/browser $(PYTEST_ARGS)

screenshots: $(VENV)/.installed chromium ## PNGs of the app (event list, open modal, phone) into docs/screenshots/
	$(PY) tests/e2e/browser/screenshots.py docs/screenshots

build-check: $(VENV)/.installed $(SAM_VENV)/.installed ## sam build (no container): the deployable artifacts in .aws-sam/build
	$(SAM) build --template template.yaml

security-scan: $(CHECKOV_VENV)/.installed ## checkov on template.yaml (suppressions carry reasons in the template)
	$(CHECKOV_VENV)/bin/checkov -f template.yaml --framework cloudformation --compact --quiet --skip-download

schemas: $(VENV)/.installed ## Regenerate events_schema/*.json and services/query/openapi.json from the models
	$(PY) events_schema/generate.py

invoke: $(VENV)/.installed ## Run one function on an event: make invoke FUNCTION=QueryFunction EVENT=events_schema/samples/query-health.json [STACK=.local/stack.json]
	@test -n "$(FUNCTION)" -a -n "$(EVENT)" || { echo "usage: make invoke FUNCTION=<LogicalId> EVENT=<file> [STACK=.local/stack.json]"; exit 2; }
	$(PY) -m devstack.invoke --function $(FUNCTION) --event $(EVENT) $(if $(STACK),--stack-file $(STACK))

deploy: $(SAM_VENV)/.installed ## sam build + sam deploy (guided the first time; SAM_ENV=default|staging|dev from samconfig.toml)
	$(SAM) build --template template.yaml
	@# Guided (prompts, then saved to samconfig.toml) while the stack does not exist yet.
	if $(SAM) list stack-outputs --config-env $(SAM_ENV) >/dev/null 2>&1 && [ -z "$(GUIDED)" ]; then \
		$(SAM) deploy --config-env $(SAM_ENV); \
	else \
		$(SAM) deploy --guided --config-env $(SAM_ENV); \
	fi

deploy-frontend: $(VENV)/.installed ## Upload frontend/ to the SAM_ENV stack's own site (bucket root) and invalidate its CloudFront
	@# STAGE=staging once meant a /_staging/ slot of the prod site: refuse it rather than deploy to prod.
	@if [ "$(origin STAGE)" = "command line" ]; then echo "deploy-frontend: STAGE is not used; SAM_ENV=default|staging|dev picks the stack" >&2; exit 2; fi
	$(PY) ops/deploy_frontend.py --config-env $(SAM_ENV)

test: lint typecheck template-check security-scan build-check chromium ## Every check: lint, types, template, IaC scan, sam build, all tests
	$(PY) -m pytest tests -n $(TEST_WORKERS) $(PYTEST_ARGS)

clean: ## Remove virtualenvs, caches, build output and local state
	rm -rf $(VENV) .tools .local .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis
