# The appliance's set-up, tests and benchmarks. Everything goes into one virtualenv ($(VENV)).
PYTHON ?= python3
VENV ?= $(CURDIR)/.venv
CONF ?= $(CURDIR)/var/st2.conf
BIN := $(VENV)/bin
PYVER := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
LOCK := pyrepo/locks/py$(PYVER).txt
CONSTRAINTS := $(if $(wildcard $(LOCK)),-c $(LOCK),)
RUNNERS := $(sort $(dir $(wildcard runners/*/pyproject.toml)))

.PHONY: install install-test run stop status test lint bench clean lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

install: $(BIN)/python  ## the appliance, its runners and the st2 CLI
	$(BIN)/pip install -q $(CONSTRAINTS) -e . $(addprefix -e ,$(RUNNERS)) st2client==3.9.0
	$(BIN)/pip check >/dev/null || $(BIN)/pip check

install-test: install
	$(BIN)/pip install -q $(CONSTRAINTS) -e '.[test]'

$(CONF):
	mkdir -p $(dir $(CONF))
	printf '[system]\nbase_path = $(CURDIR)/var\n\n[content]\nsystem_packs_base_path = $(CURDIR)/packs\n' > $(CONF)

run: install $(CONF)  ## install and start on the embedded defaults
	$(BIN)/st2ctl start --config-file $(CONF)
	@echo
	@echo "The st2 CLI is in $(BIN): run   export PATH=$(BIN):\$$PATH   then   st2 action list --pack core"
	@echo "Stop with: make stop    Status: make status"

stop:
	$(BIN)/st2ctl stop --config-file $(CONF)

status:
	$(BIN)/st2ctl status --config-file $(CONF)

test: install-test  ## every test: unit, integration (RabbitMQ), end-to-end (st2 CLI)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: install-test
	$(BIN)/ruff check .

bench: install
	$(BIN)/python tests/bench/run_all.py

clean:
	-$(BIN)/st2ctl stop --config-file $(CONF) 2>/dev/null
	rm -rf $(VENV) var
