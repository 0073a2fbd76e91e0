# The README's commands. Everything they need is installed on first use:
# Python packages into .venv, Debian packages (Prometheus, Alertmanager, ...) when missing.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

# make run settings (ports 0 = pick a free one)
APP_PORT ?= 8000
PROM_PORT ?= 9090
AM_PORT ?= 9093
DURATION ?= 0
RPS ?= 20
RUN_ARGS ?=

DEBIAN_BINARIES := prometheus=prometheus promtool=prometheus \
	prometheus-alertmanager=prometheus-alertmanager amtool=prometheus-alertmanager \
	prometheus-blackbox-exporter=prometheus-blackbox-exporter

.PHONY: run test lint typecheck pytest bench deps system-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,bench]'
	touch $(STAMP)

deps: $(STAMP)

system-deps:
	@scripts/ensure-debian-packages $(DEBIAN_BINARIES)

run: deps system-deps
	$(PY) -m exporter stack --app-port $(APP_PORT) --prometheus-port $(PROM_PORT) \
		--alertmanager-port $(AM_PORT) --duration $(DURATION) --rps $(RPS) $(RUN_ARGS)

lint: deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: deps
	$(VENV)/bin/mypy --strict exporter

pytest: deps system-deps
	$(PY) -m pytest -W error

test: lint typecheck pytest

bench: deps
	$(PY) bench/overhead.py
	$(PY) bench/render.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
