# Two commands do all the set-up: `make run` (install, then start the app) and `make test`.
# Both create .venv from requirements.txt unless a virtual environment is already active.
PYTHON ?= python3
ifdef VIRTUAL_ENV
PY := python
STAMP := .deps-active-env
else
PY := .venv/bin/python
STAMP := .venv/.deps-installed
endif
SHARED_DATA := $(abspath ../shared/data)
# Fewer malloc arenas: many sessions training in threads of one server keep less memory.
export MALLOC_ARENA_MAX ?= 2
export CVAE_DATA_DIR ?= $(if $(wildcard $(SHARED_DATA)/MNIST),$(SHARED_DATA),)

.PHONY: run test test-fast lint i18n

$(STAMP): requirements.txt
	@if [ -z "$$VIRTUAL_ENV" ] && [ ! -x .venv/bin/python ]; then $(PYTHON) -m venv .venv; fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

run: $(STAMP)
	$(PY) -m streamlit run ui/serve.py

# A test that fails beside the other worker runs again alone (pytest's --last-failed), and must pass there: a few
# browser and scheduler tests wait on training that the other worker's training slows. The first failure stays printed.
test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile || $(PY) -m pytest -q --last-failed --last-failed-no-failures none

# Both on two pytest-xdist workers, a test file to a worker (its module fixtures made once): much of a test's time is a
# Streamlit server, a browser or the training process working while it waits. The modules that start a Ray cluster of
# their own take turns (tests/conftest.py: one_cluster_at_a_time). TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 2

test-fast: $(STAMP)  # everything but the browser and slow tests
	$(PY) -m ruff check .
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile -m "not browser and not slow"

lint: $(STAMP)
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

# The translation catalogues (ui/i18n.py): extract the marked strings, merge them into each language's .po
# (translate what is new there: msgstr ""), compile the .mo the app reads. tests/app/test_i18n.py checks all three.
BABEL := $(PY) -m babel.messages.frontend
LOCALES := ui/locales
i18n: $(STAMP)
	$(BABEL) extract -F $(LOCALES)/babel.cfg --no-location --sort-output --project "CVAE Lab" -o $(LOCALES)/cvae_lab.pot app.py pages ui cvae_core
	$(BABEL) update -i $(LOCALES)/cvae_lab.pot -d $(LOCALES) -D cvae_lab --no-fuzzy-matching --ignore-obsolete
	$(BABEL) compile -d $(LOCALES) -D cvae_lab --statistics
