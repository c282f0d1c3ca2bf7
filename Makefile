# supportbot: `make help` lists the verbs.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin

.PHONY: help install run cluster test test-unit lint train index bench clinc quality tune

help:  ## list the verbs
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

install:  ## create .venv (Python 3.10) and install the locked dependencies if missing
	@scripts/install.sh

run: install  ## build the index, train if data changed, start Rasa + action server
	@$(BIN)/supportbot run

cluster: install  ## several nodes on loopback: PostgreSQL, Redis, nginx, 2 Rasa + 2 action servers
	@scripts/system-deps.sh
	@$(BIN)/python -m bot.apps.cluster

test: install  ## run every test (unit, integration, Rasa stories, end-to-end)
	@scripts/system-deps.sh
	@$(BIN)/python -m pytest

test-unit: install  ## only the fast unit tests
	@$(BIN)/python -m pytest -m unit

lint: install  ## ruff and mypy
	@$(BIN)/ruff check bot actions tests bench scripts && $(BIN)/mypy

train: install  ## train the Rasa model if its training data changed
	@$(BIN)/supportbot train

index: install  ## validate the FAQ and build (and calibrate) a new index version
	@$(BIN)/supportbot kb validate && $(BIN)/supportbot kb build

clinc: install  ## build and evaluate the CLINC150 corpus from ../shared/datasets
	@$(BIN)/python scripts/clinc150.py

bench: install  ## run the benchmarks (latency, load, freshness, scale, quality, editor, analytics, live console, 1 vs 2 nodes) and write docs/benchmarks.md
	@$(BIN)/python bench/run.py && $(BIN)/python bench/quality.py && $(BIN)/python bench/inbox.py \
		&& $(BIN)/python bench/editor.py && $(BIN)/python bench/analytics.py && $(BIN)/python bench/console_live.py \
		&& $(BIN)/python bench/nodes.py

quality: install  ## answer-quality ablation on public data, and whether the promised precision holds (issue 18)
	@$(BIN)/python bench/lexical.py && $(BIN)/python bench/quality.py && $(BIN)/python bench/real_traffic.py && $(BIN)/python bench/entry_out.py

tune: install  ## adapt the encoder to the FAQ and rebuild the index with it
	@$(BIN)/supportbot kb tune
