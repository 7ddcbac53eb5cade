# `make run` and `make test` work on a fresh machine: they create .venv and install into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export FLASK_APP := app
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test install migrate seed lint fuzz bench clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

migrate: $(STAMP)
	cd backend && ../$(BIN)/flask db upgrade

seed: migrate
	cd backend && ../$(BIN)/flask seed-demo

run: seed
	@echo ""
	@echo "  API:        http://$(HOST):$(PORT)/api/v2"
	@echo "  API docs:   http://$(HOST):$(PORT)/api/docs"
	@echo "  Demo login: demo@example.com / demo-password-123"
	@echo ""
	cd backend && ../$(BIN)/flask run --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check backend bench

# Needs PostgreSQL and Redis on 127.0.0.1 and wrk (apt-get install -y wrk); not part of `make test`.
# BENCH_ARGS=--quick for a smoke run; see `.venv/bin/python bench/run.py --help`.
bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) backend/instance .pytest_cache
