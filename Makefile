# Rogatory — the two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed
AXE    := node_modules/axe-core/axe.min.js

export ROGATORY_DATA_DIR ?= ./var

.PHONY: demo test lint typecheck unit bench messages migration clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[dev]'
	touch $(STAMP)

# axe-core for the browser tests (tests/browser), pinned by package-lock.json; test-only, never
# served. npm runs here, never while the tests run.
$(AXE): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(AXE)

## demo: set up a node with the demo data set and serve it
demo: $(STAMP)
	ROGATORY_DEMO=true $(VENV)/bin/rogatory init --demo
	ROGATORY_DEMO=true $(VENV)/bin/rogatory serve

## test: lint, type-check and run the whole suite (SQLite and PostgreSQL; the browser tests
## drive /usr/bin/chromium, which .ci/run installs from Debian when missing)
test: $(STAMP) $(AXE) lint typecheck
	$(VENV)/bin/pytest -n 2 -q

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy --strict src/rogatory

## bench: every benchmark in bench/, each against its baseline
bench: $(STAMP)
	command -v wrk >/dev/null && command -v dcfldd >/dev/null && command -v hashdeep >/dev/null \
		|| apt-get update -qq
	command -v wrk >/dev/null || apt-get install -y -qq wrk
	command -v dcfldd >/dev/null || apt-get install -y -qq dcfldd
	command -v hashdeep >/dev/null || apt-get install -y -qq hashdeep
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

## messages: re-extract translatable strings into the gettext catalogs
messages: $(STAMP)
	$(PY) -m rogatory.i18n.extract

## migration: autogenerate a migration from the models (MSG="what changed")
migration: $(STAMP)
	ROGATORY_DATA_DIR=$$(mktemp -d) sh -c '$(VENV)/bin/rogatory init && $(VENV)/bin/alembic revision --autogenerate -m "$(MSG)"'

clean:
	rm -rf $(VENV) var node_modules .pytest_cache .mypy_cache .ruff_cache
