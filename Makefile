# The two set-up commands of README.md: `make dev` and `make test`. Both create the
# virtual environment in .venv on first use and reinstall when pyproject.toml changes.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test lint clean packaging-env bench

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

## Run the benchmarks on local API servers and write docs/benchmarks.md (about 20 minutes).
bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m benchmarks.run

## Check formatting, lint and types, the scripts and the Dockerfile.
lint: $(STAMP)
	$(BIN)/ruff format --check operator tests benchmarks
	$(BIN)/ruff check operator tests benchmarks
	$(BIN)/mypy
	$(BIN)/shellcheck scripts/*.sh
	$(BIN)/hadolint Dockerfile

## Create the Python 3.12 environment of tests/packaging (helm-sdkpy, kubernetes-validate).
packaging-env: $(STAMP)
	$(BIN)/python tests/packaging/py312.py

clean:
	rm -rf $(VENV) .venv312 .dev .pytest_cache .mypy_cache .ruff_cache
