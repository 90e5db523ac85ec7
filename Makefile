# Headcount — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
# The interpreter a fresh virtualenv is made with (3.11, 3.12 or 3.13): `make install PYTHON=…`.
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3.13 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
# Every dependency, pinned with hashes (`make lock` writes them from pyproject.toml's groups).
LOCK := requirements/dev.txt
STAMP := $(VENV)/.installed-$(shell cat $(LOCK) | md5sum | cut -c1-12)
# Resolved once for Python 3.11-3.13 on every platform; no index URL is written into the files.
LOCK_COMPILE = $(VENV)/bin/uv pip compile pyproject.toml --universal --generate-hashes \
  --no-emit-index-url --no-emit-find-links --no-header --quiet

.PHONY: run test test-unprepared manage doctor serve worker beat lint fmt typecheck migrations-check check install lock lock-check clean-data bench bench-cost bench-company bench-webhooks soak docs tour

install: $(STAMP)

$(STAMP): $(LOCK)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m devstack.pyversion
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK)
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

## Re-resolve requirements/*.txt after editing a dependency group in pyproject.toml.
lock: install
	$(LOCK_COMPILE) --group runtime -o requirements/runtime.txt
	$(LOCK_COMPILE) --group dev -o requirements/dev.txt

## Fails if requirements/*.txt are not what pyproject.toml resolves to (CI). The current pins
## are kept as preferences, so only a change in pyproject.toml shows, not a new upstream release.
lock-check: install
	@for group in runtime dev; do \
	  cp requirements/$$group.txt $(VENV)/lock-check.txt \
	  && $(LOCK_COMPILE) --group $$group -o $(VENV)/lock-check.txt \
	  && cmp -s $(VENV)/lock-check.txt requirements/$$group.txt \
	  || { echo "requirements/$$group.txt does not match pyproject.toml: run make lock"; exit 1; }; \
	done

## Run the product: web + Celery worker + beat, with embedded PostgreSQL/Redis when none answer.
run: install
	$(PY) -m devstack.run

## A management command on the servers `make run` uses: make manage ARGS="company_list".
manage: install
	$(PY) -m devstack.manage $(ARGS)

## What this machine has and lacks for `make run` / `make test`, with fixes (before install too).
doctor:
	@VENV=$(VENV) $(PYTHON) -m devstack.doctor

## Run the whole test suite against real PostgreSQL and Redis (local or embedded).
test: install
	$(PY) -m devstack.test $(ARGS)

## The suites that reach the compiled queries and prepared statements again, with both
## switched off (plain Django). CI runs these and more so, on its embedded lane (.ci/run).
test-unprepared: install
	PREPARED_QUERIES=0 DB_PREPARED_STATEMENTS=0 $(PY) -m devstack.test tests/scim tests/tokens tests/infra \
	  tests/security/test_isolation_matrix.py -p no:cacheprovider -q $(ARGS)

## Write docs/connect-<idp>.md from the portal's set-up guides (provisioning_ui/guides/*.toml).
docs: install
	DEBUG=1 $(PY) manage.py render_guides

## Screenshots of every portal page at 1280 and 390 px into docs/tour/ (docs/tour.md).
tour: install
	HC_TOUR=1 $(PY) -m devstack.test -p no:cacheprovider -q tests/browser/tour.py $(ARGS)

## Production server (gunicorn, DEBUG off) on $$PORT; what docker-compose and the benchmark use.
serve: install
	DEBUG=0 $(PY) manage.py collectstatic --noinput -v 0
	$(VENV)/bin/gunicorn config.wsgi:application --bind 0.0.0.0:$${PORT:-8000} \
	  --workers $${WEB_WORKERS:-2} --access-logfile - --config python:config.gunicorn

## Every queue by default; QUEUES=celery and QUEUES=batch run the two workers production runs.
worker: install
	$(VENV)/bin/celery -A config worker -l info $(if $(QUEUES),-Q $(QUEUES) -n $(QUEUES)@%h)

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

## What one SCIM request costs in process: statements, round trips, CPU, instructions (bench/README.md).
bench-cost: install
	$(PY) -m bench.request_cost $(ARGS)

## Time company creation (see bench/README.md).
bench-company: install
	$(PY) -m bench.company_create $(ARGS)

## Webhook delivery under a sustained event rate: one worker, p95 delay (see bench/README.md).
bench-webhooks: install
	$(PY) -m bench.webhook_drain $(ARGS)

## Soak and fault run (see bench/README.md): own stack, IdP traffic, Redis/PostgreSQL/worker faults.
soak: install
	$(PY) -m bench.soak $(ARGS)

clean-data:
	rm -rf .data
