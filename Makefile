# Steward's common tasks. `make help` lists them.
PYTHON ?= python3
VENV   ?= .venv
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help up test test-fast lint format clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@scripts/bootstrap.sh "$(PYTHON)" "$(VENV)"
	@touch $(STAMP)

up: $(STAMP) ## Run Steward: web server + worker + local agent (SQLite in the data dir)
	$(VENV)/bin/steward up

test: $(STAMP) ## Run the whole test suite (set STEWARD_DATABASE_URL for PostgreSQL)
	@scripts/test.sh

test-fast: $(STAMP) ## Run the tests without browser and process-level ones
	$(VENV)/bin/pytest -m "not browser and not slow" -q

lint: $(STAMP) ## Lint and check formatting, Django checks, migrations up to date
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	STEWARD_HOME=$$(mktemp -d) $(VENV)/bin/python -m django check --settings=steward.server.settings
	STEWARD_HOME=$$(mktemp -d) $(VENV)/bin/python -m django makemigrations --check --dry-run --settings=steward.server.settings

format: $(STAMP) ## Reformat the code
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache
