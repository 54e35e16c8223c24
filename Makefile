# The two entry points: `make dev` runs the product, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: dev test install web node-deps lint typecheck check clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

web:
	@if [ -f web/package.json ]; then \
		cd web && ( [ -d node_modules ] || npm ci --no-audit --no-fund ) && npm run build; \
	fi

node-deps:
	cd tests/interop && ( [ -d node_modules ] || npm ci --no-audit --no-fund )

dev: install web
	$(VENV)/bin/arbor dev

test: install node-deps web
	cd web && npm test
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check sync server worker tests

typecheck: install
	$(VENV)/bin/mypy

check: lint typecheck test

clean:
	rm -rf $(VENV) web/node_modules web/dist tests/interop/node_modules
