# Two entry points on a fresh machine: `make bench` and `make test`.
# Each creates .venv on first use; nothing is installed outside it.

PYTHON ?= python3
VENV ?= .venv
# The torch build to benchmark against. 2.13.0 resolves to a CPU build on the
# project's Linux machines; any other version there pulls several GB of CUDA.
TORCH ?= torch==2.13.0
PRESET ?= default

BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: bench test verify clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

## bench: set up, then benchmark this machine (asv run); bench verifies every op against float64 first
bench: $(STAMP)
	$(BIN)/mlxbench bench --preset $(PRESET)

## test: set up, lint and format-check the code (ruff), check the committed results, then run the test suite
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mlxbench check-results
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .asv html
