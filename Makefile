# The README's two commands: `make demo` (run the daemon on its embedded defaults) and `make test`.
# Both do their own set-up on a fresh Debian 12 machine: Debian packages (as root), a venv, the package.

SHELL := /bin/bash
# A venv on the system Python, not a pyenv one under /root: snmpsim drops privileges to `nobody`, which must be
# able to read the interpreter and its standard library.
PYTHON ?= /usr/bin/python3
VENV ?= .venv
BIN := $(VENV)/bin
# The demo needs only a venv-capable Python; the tests need the real servers too, and Debian's chromium for the
# status page test (Playwright drives /usr/bin/chromium; it never downloads a browser).
DEMO_PACKAGES := python3-venv
DEBIAN_PACKAGES := $(DEMO_PACKAGES) snmpd snmp mosquitto mosquitto-clients victoria-metrics influxdb nftables \
	iproute2 fping prometheus-snmp-exporter systemd procps chromium snmptrapd

.PHONY: demo demo-grafana test lint typecheck pytest system-packages demo-packages venv clean bench

demo: demo-packages venv
	$(BIN)/netpoll run

# The demo into VictoriaMetrics, with Grafana and the VictoriaMetrics dashboards where Grafana is installed.
demo-grafana: demo-packages venv
	$(call ensure_packages,victoria-metrics)
	$(BIN)/python -m netpoll.demo.stack

test: system-packages venv lint typecheck pytest

# Installs the missing ones of the packages given as root; as another user it only says what it skipped.
define ensure_packages
	@if [ "$$(id -u)" = 0 ]; then \
		missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
		if [ -n "$$missing" ]; then \
			echo "installing Debian packages: $$missing"; \
			apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing >/dev/null; \
		fi; \
	else \
		echo "not root: skipping Debian packages ($(1)); what needs them will skip or fail"; \
	fi
endef

demo-packages:
	$(call ensure_packages,$(DEMO_PACKAGES))

# The tests start their own servers on free loopback ports: the packaged services must not hold the usual ones.
system-packages:
	$(call ensure_packages,$(DEBIAN_PACKAGES))
	@systemctl disable --now snmpd snmptrapd.socket snmptrapd mosquitto victoria-metrics influxdb >/dev/null 2>&1 || true

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed

lint: venv
	$(BIN)/ruff check netpoll tests $(wildcard bench)
	$(BIN)/ruff format --check netpoll tests $(wildcard bench)

typecheck: venv
	$(BIN)/mypy

# Workers for the suite (pytest-xdist): most integration tests wait on servers and daemons, so 4 on 2 cores;
# PYTEST_WORKERS=0 runs it in one process. --dist loadfile keeps a module's tests on one worker, in order: a
# module's servers start once, and a module whose last test checks what its earlier ones saw stays whole.
PYTEST_WORKERS ?= 4

pytest: venv
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist loadfile

bench: venv
	$(BIN)/python bench/snmp_walk.py
	$(BIN)/python bench/icmp.py

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
