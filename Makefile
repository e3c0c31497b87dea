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

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) system-deps
	$(BIN)/pytest

test: lint typecheck pytest

# The pandas baseline gets an environment of its own: roster-pipeline does not
# depend on pandas, and pandera imports it when it is installed.
BASELINE := .venv-baseline

$(BASELINE)/.installed: benchmarks/requirements-baseline.txt
	test -x $(BASELINE)/bin/python || $(PY) -m venv $(BASELINE)
	$(BASELINE)/bin/python -m pip install --quiet -r benchmarks/requirements-baseline.txt
	touch $@

bench: $(STAMP) $(BASELINE)/.installed system-deps
	ROSTER_BENCH_BASELINE_PYTHON=$(BASELINE)/bin/python $(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) $(BASELINE) .mypy_cache .pytest_cache .ruff_cache
