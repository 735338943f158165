# rosterlab — two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
STORE  ?= rosterlab.duckdb

.PHONY: venv demo test lint typecheck unit notebooks bench docs clean sysdeps

# The environment: exact versions from constraints.txt, the package editable, test extras included.
$(STAMP): constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# System packages the tests drive for real (OpenSSH server, Debian's chromium), installed when missing.
sysdeps:
	@bash scripts/sysdeps.sh

# Ingest every sample district night by night into the embedded store and say what was found.
demo: venv
	$(BIN)/rosterlab --store $(STORE) ingest data/samples/maple
	$(BIN)/rosterlab --store $(STORE) ingest data/samples/cedar
	$(BIN)/rosterlab --store $(STORE) snapshots

lint: venv
	$(BIN)/ruff check rosterlab tests benchmarks scripts
	$(BIN)/ruff format --check rosterlab tests benchmarks scripts

typecheck: venv
	$(BIN)/mypy

docs: venv
	$(BIN)/python -m rosterlab.spec.docs > docs/findings.md
	$(BIN)/python -m rosterlab.cli.docs > docs/cli.md

unit: venv
	$(BIN)/pytest

test: venv sysdeps lint typecheck unit

# Benchmarks are not tests: district-scale runs, results appended to docs/benchmarks.md.
bench: venv
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache build *.egg-info
