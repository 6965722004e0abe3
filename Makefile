# Stable entry points: `make demo` runs a real pipeline, `make test` passes the tests.
# Both set up .venv first, so they work on a fresh clone.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.headwater-installed

.PHONY: setup demo test test-fast test-sweep lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml setup.py codecs/copybook/_cdecode.c codecs/oracle/_credo.c
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

demo: setup
	$(BIN)/headwater demo

# Two pytest workers, a test module each at a time (pytest-xdist): most tests wait on a broker,
# a server or a timeout rather than on a core. Each worker starts its own broker and servers.
test: setup
	$(BIN)/python -m pytest -m "not sweep" -n 2 --dist loadfile --durations=25

test-fast: setup
	$(BIN)/python -m pytest -m "not slow and not sweep"

# Long fuzz, differential (Cobrix, Debezium) and memory sweeps: minutes, not part of CI.
test-sweep: setup
	$(BIN)/python -m pytest -m sweep

lint: setup
	$(BIN)/ruff check connectors codecs sinks conformance tests bench
	$(BIN)/mypy connectors codecs sinks conformance

bench: setup
	$(BIN)/python bench/bench_runtime.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache demo-output
