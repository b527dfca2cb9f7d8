# Two commands on a fresh machine:  make run  (the product on embedded defaults)  and  make test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test lint system-deps services bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.installed
	$(PY) app.py run

system-deps:
	bash scripts/system_deps.sh

services:
	bash scripts/ensure_services.sh

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

test: $(VENV)/.installed system-deps services lint
	$(VENV)/bin/pytest

bench: $(VENV)/.installed services
	$(PY) bench/bench_ingest.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
