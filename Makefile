# Every target creates .venv when missing and installs what it needs; the
# install step is skipped when pyproject.toml has not changed since.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench system-deps clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

system-deps:
	@scripts/system-deps

demo: $(STAMP)
	$(BIN)/roster demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# Two workers: the suite is mostly waiting on real servers and subprocesses, and
# every test has its own home, schema and free ports, so they run side by side.
TEST_WORKERS ?= 2

pytest: $(STAMP) system-deps
	$(BIN)/pytest -n $(TEST_WORKERS)

test: lint typecheck pytest

# Ours is measured as a deployment installs it: roster-pipeline alone, without the
# dev tools (pandera sets up hypothesis support when hypothesis is installed). The
# pandas baseline gets an environment of its own (pandera imports pandas if present).
DEPLOYED := .venv-bench
BASELINE := .venv-baseline

$(DEPLOYED)/.installed: pyproject.toml
	test -x $(DEPLOYED)/bin/python || $(PY) -m venv $(DEPLOYED)
	$(DEPLOYED)/bin/python -m pip install --quiet -e .
	touch $@

$(BASELINE)/.installed: benchmarks/requirements-baseline.txt
	test -x $(BASELINE)/bin/python || $(PY) -m venv $(BASELINE)
	$(BASELINE)/bin/python -m pip install --quiet -r benchmarks/requirements-baseline.txt
	touch $@

bench: $(DEPLOYED)/.installed $(BASELINE)/.installed system-deps
	ROSTER_BENCH_BASELINE_PYTHON=$(BASELINE)/bin/python $(DEPLOYED)/bin/python benchmarks/run.py

clean:
	rm -rf $(VENV) $(DEPLOYED) $(BASELINE) .mypy_cache .pytest_cache .ruff_cache
