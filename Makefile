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

# Debian packages the e2e tests and benchmarks need: the reference plugins
# (bridge, host-local, tuning) to compare with and chain with, Go + libcni
# to build the libcni test driver, and GNU time (the benchmarks' peak RSS).
# Installed only as root, only if missing.
DEB_DEPS := containernetworking-plugins golang-go golang-github-appc-cni-dev time
deps:
	@if [ "$$(id -u)" = 0 ]; then \
		missing=$$(for p in $(DEB_DEPS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
		if [ -n "$$missing" ]; then \
			echo "installing $$missing"; \
			apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		fi; \
	fi

demo: install
	$(BIN)/ecs-bridge-ctl demo

test: install deps
	$(BIN)/python -m pytest

test-unit: install
	$(BIN)/python -m pytest tests/unit

test-e2e: install deps
	$(BIN)/python -m pytest tests/e2e

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src tests bench

# Benchmarks against Debian's reference plugins (root): `make bench BENCH_ARGS=--quick`
# for smaller counts. Results in bench/results/ (latest.md).
BENCH_ARGS ?=
bench: install deps
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache src/*.egg-info
