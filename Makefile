# The two commands of the README: `make demo` and `make test`. Both create (or
# reuse) the virtual environment in .venv and install the project into it.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install deps demo test test-unit test-e2e lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)
	@git rev-parse --short HEAD > src/ecs_bridge/_githash 2>/dev/null || true

# The reference plugins (bridge, host-local, tuning) that e2e tests and
# benchmarks compare against and chain with. Installed only as root, only if missing.
deps:
	@if [ "$$(id -u)" = 0 ] && [ ! -x /usr/lib/cni/host-local ]; then \
		apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq containernetworking-plugins; \
	fi

demo: install
	$(BIN)/python -m ecs_bridge.cli.demo

test: install deps
	$(BIN)/python -m pytest

test-unit: install
	$(BIN)/python -m pytest tests/unit

test-e2e: install deps
	$(BIN)/python -m pytest tests/e2e

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src tests

bench: install deps
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache src/*.egg-info
