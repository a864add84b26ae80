# Moldir developer tasks.  `make run` starts everything; `make test` runs the suite.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Touched after a successful install: reinstall whenever pyproject.toml is newer.  Two
# stamps: `make run` needs the runtime and the `dev` extra (the Redis stand-in) only; the
# test tools (`test` extra: pytest, Playwright, schemathesis, ruff, bandit, pip-audit) are
# installed by the first target that needs them, after or before `make run`.
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

TRANSLATIONS := portal/translations
PO_FILES := $(wildcard $(TRANSLATIONS)/*/LC_MESSAGES/messages.po)
MO_FILES := $(PO_FILES:.po=.mo)
# Only the paths that exist, so lint works while the tree is still growing.
LINT_PATHS := $(wildcard portal sla notifications tests wsgi.py bench)
# The code that runs in production: what bandit reads (settings in pyproject's [tool.bandit]).
AUDIT_PATHS := portal sla notifications wsgi.py

.DEFAULT_GOAL := help
.PHONY: help venv catalogs extract run test lint audit bench-load clean

help:
	@echo "make run      start web server, RQ worker and RQ cron (Ctrl+C stops all)"
	@echo "make test     run the test suite (PYTEST_ARGS='-k name' to narrow it)"
	@echo "make lint     ruff check and ruff format --check"
	@echo "make audit    bandit (fails on high severity) and pip-audit (fails on known vulnerabilities)"
	@echo "make bench-load  locust load bench, portal vs a bare Flask page (LOAD_ARGS='--duration 30s')"
	@echo "make extract  refresh messages.pot and the .po catalogs from the sources"
	@echo "make clean    remove .venv, compiled catalogs and caches (keeps instance/)"

venv: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Order-only on the interpreter: its mtime is the base Python's, not the venv's.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e '.[dev]'
	touch $@

$(TEST_STAMP): $(STAMP)
	$(BIN)/pip install -e '.[dev,test]'
	touch $@

catalogs: $(MO_FILES)

# One .mo per .po, so an edited catalog is recompiled and the others are left alone.
# Order-only on the venv: reinstalling packages does not make catalogs stale.
%.mo: %.po | $(STAMP)
	$(BIN)/pybabel compile -i $< -o $@

extract: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k lazy_ngettext:1,2 \
	    --add-comments=Translators: --add-location=file --sort-output --no-wrap \
	    --project Moldir --copyright-holder Moldir \
	    -o $(TRANSLATIONS)/messages.pot .
	for lang in ru kk en; do \
	    $(BIN)/pybabel update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) -l $$lang \
	        --init-missing --no-fuzzy-matching --ignore-obsolete --ignore-pot-creation-date \
	        --no-wrap || exit 1; \
	done

run: $(STAMP) catalogs
	$(BIN)/python -m portal.devserver

test: $(TEST_STAMP) catalogs
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

# bandit: every finding is printed; high severity fails.  pip-audit: a known vulnerability
# fails, and packages it could not check are counted and named, never passed as clean.
audit: $(TEST_STAMP)
	$(BIN)/bandit -c pyproject.toml -r $(AUDIT_PATHS) --exit-zero
	$(BIN)/bandit -c pyproject.toml -r $(AUDIT_PATHS) --severity-level high -q \
	    --format custom --msg-template '{relpath}:{line}: {test_id} {severity}: {msg}'
	$(BIN)/python .ci/pip_audit_summary.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis *.egg-info
	find . -name node_modules -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
	find $(TRANSLATIONS) -name '*.mo' -delete 2>/dev/null || true

# Load benchmark (PostgreSQL and Redis on localhost); locust lives in the `bench` extra.
bench-load: $(TEST_STAMP)
	$(BIN)/python -c "import locust" 2>/dev/null || $(BIN)/pip install -e '.[dev,test,bench]'
	$(BIN)/python bench/load.py $(LOAD_ARGS)
