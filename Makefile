# Every target builds .venv when it is missing, so a fresh clone needs only Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo demo-flask demo-django test lint types pytest bench mutation clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[fastapi,server,flask,django,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m examples.order_api.demo

demo-flask: $(STAMP)
	$(BIN)/python -m examples.order_api.demo --server flask

demo-django: $(STAMP)
	$(BIN)/python -m examples.order_api.demo --server django

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP)
	$(BIN)/mypy --strict genauth_guard

# Two workers: the suite waits on loopback servers as much as it computes, so two
# processes halve its wall time on a 2-core machine (measured: 5 min 57 s -> 3 min 14 s).
pytest: $(STAMP)
	$(BIN)/pytest -q -n 2

test: lint types pytest

bench: $(STAMP)
	$(BIN)/python -m bench

# Mutation testing of the core modules ([tool.mutmut] in pyproject.toml): most of an
# hour on two cores, so not part of `make test`. MUTATION_JOBS bounds the workers;
# `make mutation MUTATION_ONLY='genauth_guard._jws*'` runs one module's mutants.
MUTATION_JOBS ?= 1
MUTATION_ONLY ?=
mutation: $(STAMP)
	$(BIN)/mutmut run --max-children $(MUTATION_JOBS) $(MUTATION_ONLY)
	$(BIN)/mutmut results

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build dist *.egg-info mutants
