# Two commands for a newcomer: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_ENV := DJANGO_DEBUG=1

.PHONY: demo test test-faults scale-test lint install translations migrate bench bench-compare clean image-test

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

## translations: compile the catalogues (fails on an untranslated or fuzzy message)
translations: install
	$(DEMO_ENV) $(PY) manage.py compile_translations

## demo: install, migrate, seed demo data and serve on http://127.0.0.1:8000
demo: install translations
	$(DEMO_ENV) $(PY) manage.py migrate --noinput
	$(DEMO_ENV) $(PY) manage.py seed_demo
	$(DEMO_ENV) $(PY) manage.py seed_demo_tokens
	@# The built-in Vipps sandbox (mutual TLS) runs beside the portal and stops with it.
	$(DEMO_ENV) $(PY) manage.py run_vipps_sandbox & SANDBOX=$$!; \
	trap 'kill $$SANDBOX 2>/dev/null' EXIT INT TERM; \
	$(DEMO_ENV) $(PY) manage.py runserver 127.0.0.1:8000

## lint: ruff check and format check
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Test-only tools from npm (axe-core for the browser journeys), when Node.js is there.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## test: lint and import contracts, then the suite with branch coverage; PostgreSQL/Redis when
## DATABASE_URL/REDIS_URL are set. Coverage floor: pyproject.toml's (the run without those
## services), or COVERAGE_FLOOR (CI sets the figure the whole suite reaches).
test: lint translations $(if $(shell command -v npm),node_modules/.installed)
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -n 2 --dist loadfile --cov --cov-report=term:skip-covered --ignore=tests/scale \
		$(if $(COVERAGE_FLOOR),--cov-fail-under=$(COVERAGE_FLOOR))

## test-faults: only the fault suite (tests/faults): real gunicorn, HAProxy, Celery worker and
## beat, a Redis of its own, PostgreSQL (DATABASE_URL); each fault injected, figures printed
test-faults: install translations
	$(PY) -m pytest tests/faults -m faults -n 2 --dist loadfile

## scale-test: the portal scaled out (tests/scale): three gunicorn replicas behind HAProxy (TLS,
## health checks), workers and beat on RabbitMQ (RABBITMQ_URL), PostgreSQL (DATABASE_URL), a Redis
## of its own; sessions, CSRF, one Vipps call, the shared limit, a rolling restart, two beats,
## workers scaled 1 -> 3. Prints its figures (var/scale/). CI runs it after make test.
scale-test: install translations
	$(PY) -m pytest tests/scale -m scale -p no:xdist -q

## bench: performance benchmarks (not part of make test): in-process ones, then the server
## benchmark (gunicorn over TLS, PostgreSQL, Redis, wrk) written to var/bench/<commit>.json
bench: install translations
	$(PY) -m pytest tests/benchmarks/bench_*.py -p no:xdist --benchmark-only \
		--benchmark-columns=min,median,mean,max,rounds --benchmark-sort=name -q
	$(PY) -m tests.benchmarks.server --output var/bench/$$(git rev-parse --short HEAD).json

## bench-compare A=var/bench/x.json B=var/bench/y.json: two server benchmark results side by side
bench-compare: install
	$(PY) -m tests.benchmarks.server compare $(A) $(B)

## image-test: build the Dockerfile (buildah, local Debian base) and prove the image serves
image-test: install
	bash .ci/image-test

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache
