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
# The torch requirement the environment was last set up with: another TORCH= sets it up again.
TORCH_FILE := $(VENV)/.torch
INSTALLED_TORCH := $(shell cat $(TORCH_FILE) 2>/dev/null)

.DEFAULT_GOAL := help
.PHONY: help bench test verify clean FORCE

## help: list these targets and what each does
help:
	@awk '/^## [a-z]+: /{sub(/^## /, ""); n = index($$0, ": "); \
		printf "  make %-8s %s\n", substr($$0, 1, n - 1), substr($$0, n + 2)}' $(MAKEFILE_LIST)

FORCE:

# Set up again where TORCH differs from the environment's (one set up before .torch was kept: where TORCH is given).
ifneq ($(strip $(INSTALLED_TORCH)),$(strip $(TORCH)))
ifneq ($(if $(INSTALLED_TORCH),set up,$(filter-out file,$(origin TORCH))),)
$(STAMP): FORCE
endif
endif

$(STAMP): pyproject.toml Makefile
	@echo "setting up $(VENV) with $(TORCH)$(if $(INSTALLED_TORCH), (it had $(INSTALLED_TORCH)))"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	echo '$(TORCH)' > $(TORCH_FILE)
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

## verify: set up, then check every op on every backend against float64 (mlxbench verify)
verify: $(STAMP)
	$(BIN)/mlxbench verify --preset $(PRESET)

## clean: remove the environment, ASV's state and the site (results/ stays)
clean:
	rm -rf $(VENV) .asv html
