# Klaxon's everyday commands. `make help` lists them.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Touched after a successful install; older than pyproject.toml means "install again".
INSTALLED := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install venv lock upgrade wheel run test lint format bench screenshots vendor clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

install: $(INSTALLED) ## create .venv and install Klaxon with its dev tools (again only when pyproject.toml changed)

venv: install ## same as install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# uv writes and checks the lock file (uv.lock, which Heroku's Python buildpack reads too); pip
# installs from it, with every file's hash checked.
$(BIN)/uv: | $(BIN)/python
	$(BIN)/pip install -q "uv>=0.9,<1"

$(INSTALLED): pyproject.toml uv.lock | $(BIN)/uv
	$(BIN)/uv export --quiet --frozen --extra dev --no-emit-project -o $(VENV)/requirements.txt
	$(BIN)/pip install -r $(VENV)/requirements.txt
	$(BIN)/pip install --no-deps -e .
	touch $@

lock: | $(BIN)/uv ## write uv.lock again from pyproject.toml (after changing dependencies)
	$(BIN)/uv lock

upgrade: | $(BIN)/uv ## move uv.lock to the newest version every range in pyproject.toml admits (then run make test)
	$(BIN)/uv lock --upgrade

wheel: | $(BIN)/uv ## build the wheel into dist/ (what a container image or a slug installs)
	$(BIN)/pip wheel --quiet --no-deps --wheel-dir dist .

run: install ## run the whole system (klaxon dev): embedded Postgres/Redis under ./.klaxon unless DATABASE_URL/REDIS_URL are set; Ctrl-C stops it
	$(BIN)/klaxon dev

test: install ## run the test suite
	$(BIN)/pytest -n 2 -p no:cacheprovider tests

lint: install ## ruff, mypy, import contracts, uv.lock matches pyproject.toml, Kubernetes manifests valid
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy app workers config
	$(BIN)/lint-imports
	$(BIN)/uv lock --check --offline || { echo "uv.lock does not match pyproject.toml: run \`make lock\`"; exit 1; }
	$(BIN)/kubernetes-validate --strict deploy/kubernetes/*.yaml

format: install ## format the code and apply ruff's safe fixes
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install ## run the benchmarks (they print their figures)
	$(BIN)/python bench/run_all.py

screenshots: install ## a PNG of every web app page (desktop and phone) from the demo dataset into build/screenshots/
	$(BIN)/python scripts/screenshots.py

vendor: ## fetch the web app's browser assets (htmx; axe-core for tests) from npm at the pinned versions, integrity-checked
	python3 scripts/vendor_assets.py

clean: ## remove caches, build output and the test suite's Postgres (keeps .venv and .klaxon's dev data)
	rm -rf .pytest_cache .ruff_cache .mypy_cache build dist
	$(PYTHON) tests/support/suite_postgres.py
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +
