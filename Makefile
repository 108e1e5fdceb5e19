# The README's two commands: `make demo` (run the daemon on its embedded defaults) and `make test`.
# Both do their own set-up on a fresh Debian 12 machine: Debian packages (as root), a venv, the package.

SHELL := /bin/bash
# A venv on the system Python, not a pyenv one under /root: snmpsim drops privileges to `nobody`, which must be
# able to read the interpreter and its standard library.
PYTHON ?= /usr/bin/python3
VENV ?= .venv
BIN := $(VENV)/bin
DEBIAN_PACKAGES := snmpd snmp mosquitto mosquitto-clients victoria-metrics influxdb nftables iproute2 fping \
	prometheus-snmp-exporter python3-venv systemd procps

.PHONY: demo test lint typecheck pytest system-packages venv clean bench

demo: venv
	$(BIN)/netpoll run

test: system-packages venv lint typecheck pytest

system-packages:
	@if [ "$$(id -u)" = 0 ]; then \
		missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
		if [ -n "$$missing" ]; then \
			echo "installing Debian packages: $$missing"; \
			apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing >/dev/null; \
		fi; \
		systemctl disable --now snmpd mosquitto victoria-metrics influxdb >/dev/null 2>&1 || true; \
	else \
		echo "not root: skipping Debian packages ($(DEBIAN_PACKAGES)); tests needing them will skip"; \
	fi

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

pytest: venv
	$(BIN)/pytest -q

bench: venv
	$(BIN)/python bench/snmp_walk.py
	$(BIN)/python bench/icmp.py

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
