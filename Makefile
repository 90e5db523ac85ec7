# Headcount — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | md5sum | cut -c1-12)

.PHONY: run test test-unprepared serve worker beat lint fmt typecheck migrations-check check install clean-data bench bench-company soak

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=25.1"
	$(PY) -m pip install --quiet --group dev
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

## Run the product: web + Celery worker + beat, with embedded PostgreSQL/Redis when none answer.
run: install
	$(PY) -m devstack.run

## Run the whole test suite against real PostgreSQL and Redis (local or embedded).
test: install
	$(PY) -m devstack.test $(ARGS)

## The suites that reach the prepared queries again, with them switched off (plain Django).
test-unprepared: install
	PREPARED_QUERIES=0 $(PY) -m devstack.test tests/scim tests/tokens tests/infra \
	  tests/security/test_isolation_matrix.py -p no:cacheprovider -q $(ARGS)

## Production server (gunicorn, DEBUG off) on $$PORT; what docker-compose and the benchmark use.
serve: install
	DEBUG=0 $(PY) manage.py collectstatic --noinput -v 0
	$(VENV)/bin/gunicorn config.wsgi:application --bind 0.0.0.0:$${PORT:-8000} \
	  --workers $${WEB_WORKERS:-2} --access-logfile - --config python:config.gunicorn

worker: install
	$(VENV)/bin/celery -A config worker -l info

beat: install
	$(VENV)/bin/celery -A config beat -l info

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

fmt: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: install
	DEBUG=1 $(VENV)/bin/mypy .

migrations-check: install
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run

## Everything CI checks.
check: lint typecheck migrations-check test

## SCIM load benchmark (see bench/README.md): seeds, serves with gunicorn, drives every workload.
bench: install
	$(PY) -m bench.run $(ARGS)

## Time company creation (see bench/README.md).
bench-company: install
	$(PY) -m bench.company_create $(ARGS)

## Soak and fault run (see bench/README.md): own stack, IdP traffic, Redis/PostgreSQL/worker faults.
soak: install
	$(PY) -m bench.soak $(ARGS)

clean-data:
	rm -rf .data
