# CareLoop: `make run` starts everything, `make test` runs every check. Both set themselves up.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
# Rasa 3.6 needs Python 3.10: take the first interpreter that really is one (pyenv shims can lie).
PYTHON310 ?= $(shell for p in python3.10 $$HOME/.pyenv/versions/3.10*/bin/python3.10 /usr/local/bin/python3.10 /usr/bin/python3.10; do \
	if $$p -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1; then echo $$p; break; fi; done)
STAMP := $(VENV)/.installed
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: help install run train test lint unit bench clean

help:
	@echo "make run    - install, migrate, train if needed, start the whole bot (Ctrl-C stops it)"
	@echo "make test   - install, train if needed, then lint and the whole test suite"
	@echo "make train  - train the Rasa model (skipped when data and config are unchanged)"
	@echo "make bench  - print NLU quality figures"

$(STAMP): pyproject.toml constraints.txt
	@test -n "$(PYTHON310)" || { echo "Python 3.10 not found (Rasa 3.6 needs it); set PYTHON310=/path/to/python3.10"; exit 1; }
	test -x $(PY) || $(PYTHON310) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24" "setuptools>=70" wheel
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(PY) -m bot run

train: install
	$(PY) -m bot train

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

unit: install
	$(PY) -m pytest tests/unit -q

test: install lint
	$(PY) -m bot train
	CARELOOP_REQUIRE_MODEL=1 $(PY) -m pytest -q -ra

bench: install
	$(PY) bench/nlu_figures.py

clean:
	rm -rf var results .pytest_cache .ruff_cache
