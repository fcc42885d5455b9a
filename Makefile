# The two commands: `make run` (build everything on the shipped data) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
# Stages call `python -m mindshare.stages.*`: put the project's venv first on PATH.
export PATH := $(BIN):$(PATH)

.PHONY: install run repro test check lint leaderboard clean

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

test: install lint
	python -m pytest -q -n auto --dist loadfile --no-loadscope-reorder --durations=40

# The inner loop: lint, then every test but the end-to-end pipeline runs (the `e2e` marker).
check: install lint
	python -m pytest -q -n auto --dist loadfile -m "not e2e"

lint: install
	ruff check src tests
	lint-imports

leaderboard: install
	@mindshare leaderboard

clean:
	rm -rf data/interim data/processed models reports mlflow.db mlruns .dvc/cache .dvc/tmp
