# The two commands: `make run` (build everything on the shipped data) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
# Stages call `python -m mindshare.stages.*`: put the project's venv first on PATH.
export PATH := $(BIN):$(PATH)

.PHONY: install run repro test check lint docs leaderboard clean reset

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev,spark]"
	touch $(STAMP)

install: $(STAMP)

run: install
	mindshare download --quiet
	dvc repro
	@mindshare leaderboard
	@echo
	@mindshare ui

repro: install
	mindshare download --quiet
	dvc repro

test: install lint docs
	python -m pytest -q -n auto --dist loadfile --no-loadscope-reorder --durations=40

# The inner loop: lint, import layers, unit and contract tests; no pipeline, store, server or Spark runs (the `e2e`
# and `integration` markers: those are in `make test`).
check: install lint
	python -m pytest -q -n auto --dist load -m "not e2e and not integration"

lint: install
	ruff check src tests
	lint-imports

# The documentation site (mkdocs.yml): every page and link checked, built into build/site.
docs: install
	NO_MKDOCS_2_WARNING=1 mkdocs build --strict -q -d build/site

leaderboard: install
	@mindshare leaderboard

# Caches only: nothing a run produced, nothing tracked.
clean:
	find . -path ./.venv -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
	rm -rf .pytest_cache .ruff_cache .import_linter_cache build dist src/*.egg-info .dvc/tmp

# Everything the pipeline made, the MLflow store and registry (every run, version and the promotion history) and
# DVC's cache: asks first.
reset:
	@printf 'This deletes data/interim, data/processed, data/features, models, tuning, the untracked reports, \n'
	@printf 'mlflow.db and mlruns (every run, registered version and the promotion history) and .dvc/cache.\n'
	@printf 'Kept: data/feedback (the forget list, campaign outcomes), data/online, the key, committed reports.\n'
	@printf "Type 'reset' to go on: "; read answer; [ "$$answer" = reset ] || { echo "nothing deleted"; exit 1; }
	rm -rf data/interim data/processed data/features data/recommendations.parquet data/audiences data/uplift \
		data/messages models tuning mlflow.db mlruns .dvc/cache .dvc/tmp .optuna
	git clean -fdXq reports
