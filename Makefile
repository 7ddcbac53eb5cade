# `make run` and `make test` work on a fresh machine: they create .venv and install into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Two stamps: `make run` installs the runtime dependencies only; `make test` (and lint,
# bench) add the dev/test extras (pytest, schemathesis, playwright...) on top, once.
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
# The `clickhouse` extra (chDB, clickhouse-connect) is installed by `make run` only when
# ANALYTICS_STORE names ClickHouse (in the environment or a .env); `make test` always has it.
ANALYTICS_STORE ?= $(shell sed -n 's/^ANALYTICS_STORE=//p' .env backend/.env 2>/dev/null | tail -n 1)
CH_STAMP := $(VENV)/.installed-clickhouse
STORE_STAMP := $(if $(filter chdb:% clickhouse:% clickhouses:%,$(ANALYTICS_STORE)),$(CH_STAMP),)
export FLASK_APP := app
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test install migrate seed lint fuzz bench clean vendor front-check

$(RUN_STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(RUN_STAMP)

$(DEV_STAMP): $(RUN_STAMP) pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(DEV_STAMP)

$(CH_STAMP): $(RUN_STAMP) pyproject.toml
	$(BIN)/pip install --quiet -e '.[clickhouse]'
	touch $(CH_STAMP)

install: $(RUN_STAMP) $(STORE_STAMP)

migrate: $(RUN_STAMP) $(STORE_STAMP)
	cd backend && ../$(BIN)/flask db upgrade

seed: migrate
	cd backend && ../$(BIN)/flask seed-demo

run: seed
	@echo ""
	@echo "  API:        http://$(HOST):$(PORT)/api/v2"
	@echo "  API docs:   http://$(HOST):$(PORT)/api/docs"
	@echo "  Demo login: demo@example.com / demo-password-123"
	@echo "  Dashboard:  http://$(HOST):$(PORT)/admin  (admin@example.com / admin-password-123)"
	@echo ""
	cd backend && ../$(BIN)/flask run --host $(HOST) --port $(PORT)

# The import contracts (pyproject.toml, [tool.importlinter]) first: a broken layer fails fast.
# The suite runs in TEST_WORKERS pytest-xdist processes (one per core here), a test file per
# worker at a time; each worker has its own PostgreSQL database and Redis db (conftest.py).
TEST_WORKERS ?= 2
test: $(DEV_STAMP)
	$(BIN)/lint-imports
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

lint: $(DEV_STAMP)
	$(BIN)/ruff check backend bench

# The schemathesis run alone (also part of `make test`): the whole OpenAPI document, every check.
fuzz: $(DEV_STAMP)
	$(BIN)/pytest -o addopts="-q" backend/tests/test_fuzz.py backend/tests/test_openapi_responses.py

# Needs PostgreSQL and Redis on 127.0.0.1 and wrk (apt-get install -y wrk); not part of `make test`.
# BENCH_ARGS=--quick for a smoke run; see `.venv/bin/python bench/run.py --help`.
bench: $(DEV_STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# Slow uploads against gunicorn alone and behind deploy/nginx.conf (nginx: apt-get install -y
# nginx); loopback only, about 30 s. Not part of `make test`.
front-check: $(RUN_STAMP)
	$(BIN)/python deploy/slow_upload_check.py

# Refresh the vendored charting library (needs Node/npm; nothing else does). The copied file
# is kept in the tree, so `make run` works offline and without Node.
VENDOR := backend/app/static/vendor
vendor:
	npm ci --prefix frontend --no-audit --no-fund
	mkdir -p $(VENDOR)
	cp frontend/node_modules/chart.js/dist/chart.umd.min.js $(VENDOR)/chart.umd.min.js
	cp frontend/node_modules/chart.js/LICENSE.md $(VENDOR)/chart.js.LICENSE.md

clean:
	rm -rf $(VENV) backend/instance .pytest_cache
