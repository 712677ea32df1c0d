# The two set-up commands of README.md: `make dev` and `make test`. Both create the
# virtual environment in .venv on first use and reinstall when pyproject.toml changes.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,lint]'
	touch $(STAMP)

## Run the local API server with the CRDs and the operator against it.
dev: $(STAMP)
	$(BIN)/serverops dev --kubeconfig .dev/kubeconfig -- --local-boot-seconds 2 --verbose

## Run the whole test suite.
test: $(STAMP)
	$(BIN)/pytest

## Check formatting, lint and types.
lint: $(STAMP)
	$(BIN)/ruff format --check operator tests
	$(BIN)/ruff check operator tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .dev .pytest_cache .mypy_cache .ruff_cache
