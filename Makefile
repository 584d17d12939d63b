# The appliance's set-up, tests and benchmarks. Everything goes into one virtualenv ($(VENV)).
PYTHON ?= python3
VENV ?= $(CURDIR)/.venv
CONF ?= $(CURDIR)/var/st2.conf
BIN := $(VENV)/bin
PYVER := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
LOCK := pyrepo/locks/py$(PYVER).txt
# With a lock for this Python: install it hash-checked, then our own packages with --no-deps
# (pip refuses hashed constraints next to -e installs). Without one: let pip resolve the ranges.
LOCKED := $(wildcard $(LOCK))
NODEPS := $(if $(LOCKED),--no-deps,)
MIRROR ?= $(CURDIR)/var/mirror
RUNNERS := $(sort $(dir $(wildcard runners/*/pyproject.toml)))

.PHONY: install install-test test-tools run stop status test lint bench clean lock mirror serve-mirror test-offline rpm

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

install: $(BIN)/python  ## the appliance, its runners, the st2 CLI and the operator scripts
	$(if $(LOCKED),$(BIN)/pip install -q --require-hashes -r $(LOCK))
	$(BIN)/pip install -q $(NODEPS) -e . $(addprefix -e ,$(RUNNERS)) -e pyrepo st2client==3.9.0
	$(BIN)/pip check >/dev/null || $(BIN)/pip check
	$(BIN)/python -m appliance.st2client_compat >/dev/null  # st2 pack config's prompts (appliance/st2client_compat.py)
	@# scripts/st2-* (st2-register-content, st2-run-pack-tests) into the venv's bin, as the RPM's spec puts them
	for script in scripts/st2-*; do \
		if [ -f "$$script" ] && [ -x "$$script" ]; then install -m 0755 "$$script" "$(BIN)/"; fi; \
	done

install-test: install test-tools
	$(BIN)/pip install -q $(NODEPS) -e '.[test]'

# Programs the tests run for real, as program:package (a Puppet module's folder stands for its package):
# an sshd on loopback for the remote runners and sudo; rpmbuild, rpmlint, a static busybox, cpio and
# systemd-analyze for the RPM tests; nginx, openssl, redis, Puppet 7, puppet-lint, rspec-puppet and Debian's
# stdlib, inifile and rabbitmq Puppet modules for the nginx and Puppet tests.
TEST_TOOLS := /usr/sbin/sshd:openssh-server /usr/bin/sudo:sudo /usr/bin/rpmbuild:rpm /usr/bin/rpmlint:rpmlint \
	/usr/bin/busybox:busybox-static /usr/bin/cpio:cpio /usr/bin/systemd-analyze:systemd \
	/usr/sbin/nginx:nginx /usr/bin/openssl:openssl /usr/bin/redis-server:redis-server \
	/usr/bin/puppet:puppet /usr/bin/puppet-lint:puppet-lint /usr/bin/rspec-puppet-init:ruby-rspec-puppet \
	/usr/share/puppet/modules/stdlib:puppet-module-puppetlabs-stdlib \
	/usr/share/puppet/modules/inifile:puppet-module-puppetlabs-inifile \
	/usr/share/puppet/modules/rabbitmq:puppet-module-puppetlabs-rabbitmq
test-tools:  ## install the system programs the tests use, when missing (needs root)
	@missing=""; for pair in $(TEST_TOOLS); do [ -x "$${pair%%:*}" ] || missing="$$missing $${pair##*:}"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then echo "the tests need:$$missing (install them as root)"; \
	elif command -v apt-get >/dev/null; then export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -q $$missing || { apt-get update -q && apt-get install -y -q $$missing; }; \
	elif command -v dnf >/dev/null; then dnf install -y -q $$missing; \
	else echo "the tests need:$$missing"; fi

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

test: install-test  ## every test: unit, integration (RabbitMQ), end-to-end (st2 CLI), packaging; suites side by side
	$(BIN)/ruff check .
	$(BIN)/python tests/run_suites.py

lint: install-test
	$(BIN)/ruff check .

bench: install
	$(BIN)/python tests/bench/run_all.py

clean:
	-$(BIN)/st2ctl stop --config-file $(CONF) 2>/dev/null
	rm -rf $(VENV) var

lock: install  ## re-pin requirements per Python version (3.9 and 3.11) into pyrepo/locks/ (needs an index)
	$(BIN)/pyrepo lock

mirror: install  ## offline package mirror in $(MIRROR): locked wheels for cp39+cp311, our own wheels, checked
	$(BIN)/pyrepo fetch --mirror $(MIRROR)
	$(BIN)/pyrepo add --mirror $(MIRROR) . $(RUNNERS) pyrepo
	$(BIN)/pyrepo check --mirror $(MIRROR)

# RPMs for EL9: st2 for its python3 (3.9) by default, for python3.11 with PYTHON=python3.11.
RPM_DIR ?= $(CURDIR)/var/rpm
RPM_PYTHON = $(if $(filter command line environment,$(origin PYTHON)),$(PYTHON),python3.9)
rpm: mirror  ## st2, st2-mirror and st2-nginx RPMs in $(RPM_DIR), built offline from $(MIRROR) (needs rpmbuild)
	$(BIN)/python scripts/packaging/build-rpms --mirror $(MIRROR) --out $(RPM_DIR) --python $(RPM_PYTHON)

serve-mirror:  ## serve $(MIRROR) read-only on port 8080 for other hosts
	$(BIN)/pyrepo serve --mirror $(MIRROR) --bind 0.0.0.0 --port 8080

test-offline: install-test  ## only the offline proof: mirror, then install in a network namespace
	$(BIN)/python -m pytest -q -p no:cacheprovider -m offline pyrepo/tests
