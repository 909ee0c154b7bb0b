# The AIB book: `make book` builds it, `make test` checks it. Both create .venv themselves.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
# ACTIVE_ENV=1 uses the active Python environment (e.g. the conda one of environment.yml)
# instead of creating .venv: nothing is installed and `make clean` leaves the environment alone.
ACTIVE_ENV ?=
ifeq ($(ACTIVE_ENV),)
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
else
PY := python
INSTALLED :=
endif
PROFILE ?= ci
CHAPTER ?=
ARGS ?=
export AIBNB_DATA ?= $(CURDIR)/data
export AIBNB_RUNS ?= $(CURDIR)/runs
export PYTHONUNBUFFERED := 1

.PHONY: help install data sysdeps vendor execute html book test test-fast run sweep lab lint constraints clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade "pip>=24"
	$(PY) -m pip install -c constraints.txt -e ".[book,dev]"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

install: $(INSTALLED)  ## create .venv and install aibnb with the book's pinned dependencies

sysdeps:  ## Debian packages the checks need (chromium, chromium-driver, dataset-fashion-mnist), when root
	bash tools/build/sysdeps.sh

data: install  ## obtain Fashion-MNIST into $(AIBNB_DATA)
	$(PY) -m aibnb data fetch fashion_mnist

vendor: install  ## MathJax, require.js and the widget manager from the npm registry, for offline HTML
	$(PY) tools/build/book.py vendor

execute: install data  ## run every chapter with papermill at PROFILE (default ci)
	$(PY) tools/build/book.py execute --profile $(PROFILE)

html: vendor  ## build the HTML book from the executed chapters
	$(PY) tools/build/book.py html

book: execute html  ## execute every chapter at PROFILE and build the HTML book into _build/html

test: install sysdeps data vendor  ## unit tests, every chapter through papermill at ci, and the built book checked
	$(PY) -m pytest tests/unit tests/book

test-fast: install  ## unit tests only, without the slow ones
	$(PY) -m pytest tests/unit -m "not slow"

run: install data  ## re-run one chapter: make run CHAPTER=02_vib_loss ARGS="-p beta 0.1"
	@test -n "$(CHAPTER)" || { echo "usage: make run CHAPTER=01_mi_bounds ARGS='-p name value'"; exit 2; }
	$(PY) tools/build/book.py execute $(if $(filter command line environment,$(origin PROFILE)),--profile $(PROFILE)) --chapter $(CHAPTER) -- $(ARGS)

SWEEP_SECONDS ?= 3600
sweep: install data  ## train the stored ci tier (the sweeps of chapters 2, 3 and 5) with the queue, one worker
	$(PY) -m aibnb queue run --profile ci --jobs 1 --time-limit $(SWEEP_SECONDS)
	$(PY) -m aibnb queue status --profile ci

LAB_SECONDS ?= 36000
lab: install data  ## extend the stored lab tier: two single-thread workers, resumable (LAB_SECONDS=36000)
	$(PY) -m aibnb queue run --profile lab --jobs 2 --time-limit $(LAB_SECONDS) --log-dir runs/lab-logs
	$(PY) -m aibnb queue status --profile lab

lint: install  ## ruff over the library, tools, tests and notebooks
	$(PY) -m ruff check aibnb tools tests book

constraints: install  ## re-freeze the exact pins from the current .venv
	{ echo "# Exact pins the book is built and tested with (Python 3.11, Linux x86-64)."; \
	  echo "# Regenerate with: make constraints"; \
	  $(PY) -m pip freeze --exclude-editable | grep -v -i '^aibnb' | sort -f; } > constraints.txt

clean:  ## remove the build, the vendored browser assets, the run cache and the venv (data stays)
	rm -rf _build _vendor runs .pytest_cache .ruff_cache *.egg-info
	$(if $(ACTIVE_ENV),,rm -rf $(VENV))
