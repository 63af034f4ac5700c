# certvault: the README's two commands are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
PYTEST_WORKERS ?= 4

.PHONY: run test venv test-deps lint bench clean screenshots agent-package

run: $(STAMP)
	$(BIN)/certvault run

test: test-deps $(TEST_STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	$(BIN)/python -m compileall -q src >/dev/null  # as a wheel install would: start-up without compiling
	touch $@

$(TEST_STAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install -q -e '.[test]'
	touch $@

test-deps:
	scripts/install-test-deps.sh

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy

# docs/screenshots/*.png: the main pages at 1280 and 390 px, from a fresh server (tests/web/screenshots.py)
screenshots: test-deps $(TEST_STAMP)
	$(BIN)/python -m tests.web.screenshots

bench: $(TEST_STAMP)
	$(BIN)/python -m bench

# The agent package (wheel + install scripts for Linux and Windows) that certvault serves at /api/v1/agent/package.
DATA_DIR ?= data
agent-package:
	$(PYTHON) scripts/agent_package.py $(DATA_DIR)/agent-package

clean:
	rm -rf $(VENV) .pytest_cache
