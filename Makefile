# Two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
SEED ?= ../shared/notices/dongguan-procuratorate-2024-02-02.txt
PYTEST_ARGS ?=
export FLASK_APP := portal

.PHONY: install run test lint format bench audit faults system-deps translations clean

$(BIN)/.installed: requirements.txt requirements-dev.txt constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt -c constraints.txt
	touch $@

install: $(BIN)/.installed translations

translations: $(BIN)/.installed
	$(BIN)/pybabel compile -d portal/translations

run: install
	$(BIN)/flask db upgrade
	$(BIN)/flask notices import --if-empty --publish $(SEED)
	@echo "Serving the portal on http://127.0.0.1:$(PORT)/"
	$(BIN)/gunicorn -c deploy/gunicorn.conf.py --bind 127.0.0.1:$(PORT) wsgi:app

system-deps:
	scripts/system-deps.sh

node_modules/.installed: package.json package-lock.json
	npm ci --silent --no-audit --no-fund
	touch $@

# The suite runs on two processes; fault tests (they restart PostgreSQL, fill disks) run
# afterwards on their own so they never disturb other tests.
test: install system-deps node_modules/.installed
	$(BIN)/pytest -n 2 -m "not faults" $(PYTEST_ARGS)
	$(BIN)/pytest -m faults tests/faults $(PYTEST_ARGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install system-deps
	$(BIN)/python bench/run_all.py

audit: $(BIN)/.installed
	BIN=$(BIN) scripts/audit.sh

faults: install system-deps
	$(BIN)/pytest -m faults tests/faults

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache .hypothesis
