# lambda-nlp — developer entry points. `make help` lists them.
# The two commands a fresh machine needs: `make run` (the local stack) and `make test` (everything).

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV ?= .venv
PY ?= $(VENV)/bin/python
PIP_FLAGS ?= --disable-pip-version-check --progress-bar off
PYTEST_ARGS ?=
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: help venv lint test test-fast run serve lock clean

help: ## List the targets
	@grep -hE '^[a-zA-Z0-9_.-]+:.*## ' $(MAKEFILE_LIST) | sort | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}' \
	  | sed -e 's|$$(PORT)|$(PORT)|g' -e 's|$$(QA_CHECKPOINT)|$(QA_CHECKPOINT)|g' -e 's|$$(MODELS_DIR)|$(MODELS_DIR)|g'

# Installs take exactly the lock: --require-hashes --no-deps (pip never resolves on its own, so a
# new upstream release cannot change or break what is installed; pip < 23.3 mis-resolved pinned
# requirements with extras, pypa/pip#12095), then `pip check` fails at once on an incomplete lock.
# The stamp is written last: a venv without it is half-installed and is made again from nothing.
$(VENV)/.installed: requirements/dev.txt requirements/gluonnlp.txt
	@echo "==> creating $(VENV) with $(PYTHON) and installing the hash-locked dev environment"
	$(PYTHON) -m venv --clear $(VENV)
	$(PY) -m pip install $(PIP_FLAGS) --require-hashes --no-deps -r requirements/dev.txt
	@# gluonnlp 0.10 is an sdist with a Cython extension; it builds against the pinned cython/numpy.
	$(PY) -m pip install $(PIP_FLAGS) --no-build-isolation --no-deps --require-hashes -r requirements/gluonnlp.txt
	$(PY) -m pip check
	@touch $@

venv: $(VENV)/.installed ## Create the virtualenv with every pinned dependency

lint: venv ## ruff (lint + format check) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: venv lint ## Install what is missing (venv, Docker, Chromium, base images) and run the whole suite
	bash scripts/ensure-docker.sh
	bash scripts/ensure-chromium.sh
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: venv ## In-process tests only (no containers, no browser)
	$(PY) -m pytest -m "not container and not browser" $(PYTEST_ARGS)

run: up ## The main job: build what is missing and start the local stack (NER + QA under the RIE, front door on 127.0.0.1:$(PORT)); DESIGN=1 adds Design 1 on PORT+1

serve: venv ## Serve the app in-process with uvicorn (SERVICES=ner by default)
	$(VENV)/bin/uvicorn app.main:app --host $(HOST) --port $(PORT)

# The lock tools (pip-tools and its closure) come from their own hash lock, like everything else.
LOCK_VENV ?= .venv-lock
$(LOCK_VENV)/.installed: requirements/lock-tools.txt
	@echo "==> creating $(LOCK_VENV) (pip-tools, hash-locked in requirements/lock-tools.txt)"
	$(PYTHON) -m venv --clear $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install $(PIP_FLAGS) --require-hashes --no-deps -r requirements/lock-tools.txt
	$(LOCK_VENV)/bin/python -m pip check
	@touch $@

lock: $(LOCK_VENV)/.installed ## Regenerate the hash-locked files in requirements/ (dev, gluonnlp, bench, lock-tools) from their .in
	LOCK_VENV=$(LOCK_VENV) bash scripts/lock-dev.sh

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

-include mk/*.mk
