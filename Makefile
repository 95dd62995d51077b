# shieldwall: `make run` (a demo node on SQLite) and `make test` (everything CI runs).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest bench clean browsers

# setup.py and the C sources: the compiled look-ups are built at install.
$(STAMP): pyproject.toml setup.py $(wildcard src/shieldwall/*/_*.c src/shieldwall/*/*/_*.c)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/shieldwall demo
	$(BIN)/shieldwall serve --host 127.0.0.1 --port 8000

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# The web console's browser tests drive Debian's Chromium (Playwright's own download
# cannot work offline); the emoji font draws the members' flags in screenshots.
browsers:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" -ne 0 ]; then \
	    echo "error: /usr/bin/chromium is missing; as root run: apt-get update && apt-get install -y chromium fonts-noto-color-emoji" >&2; \
	    exit 1; \
	  fi; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium fonts-noto-color-emoji; \
	fi

pytest: $(STAMP) browsers
	$(BIN)/pytest -n 2 -q

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
