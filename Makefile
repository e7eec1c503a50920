# One target per job; CI calls `make test` only (through .ci/run).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# pip finds the machine's CPU build of torch through its configured find-links; uv does not.
PIP_INSTALL := $(BIN)/pip install --quiet --disable-pip-version-check
# What the controller runs besides the venv: deploys copy the wheelhouse (and the scenarios their sources)
# with rsync. Prerequisites expand where a rule is read, so this comes before the rules that name it.
TOOLS := /usr/bin/rsync
# promtool checks and unit-tests the alert rules (tests/monitoring); extracted from Debian's package.
PROMTOOL := build/prometheus/usr/bin/promtool
# nft checks common's rendered firewall rules (tests/deploy/test_firewall_rules.py), on a fresh machine
# before the lab (which needs it too) is first brought up.
NFT := /usr/sbin/nft

.PHONY: dev lint test test-fast

## dev: prepare the development environment on a fresh Debian 12 machine (root)
dev: $(VENV)/.installed

# uv installs it several times faster than pip (README, "Speed"). It reads neither pip's configuration
# nor PIP_FIND_LINKS, where a machine may keep wheels no index has (this kind: its CPU build of torch).
# Within the hosts' lock (locks/cpu.txt): the tests run the versions a CPU host gets.
$(VENV)/.installed: pyproject.toml locks/cpu.txt
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || { apt-get update -qq && apt-get install -y -qq python3.11-venv; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) uv==0.13.9
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(BIN)/uv pip install --quiet $(foreach d,$(PIP_FIND_LINKS),--find-links $(d)) \
	  --constraint locks/cpu.txt -e '.[dev]'
	touch $@

# From Debian, each by the file it installs.
/usr/bin/rsync: PACKAGE = rsync
$(NFT): PACKAGE = nftables
/usr/bin/rsync $(NFT):
	apt-get install -y -qq $(PACKAGE) || { apt-get update -qq && apt-get install -y -qq $(PACKAGE); }

# Extracted, not installed: installing the package would start a Prometheus server on the controller.
$(PROMTOOL):
	rm -rf build/prometheus build/prometheus.tmp build/prometheus_*.deb && mkdir -p build/prometheus.tmp
	cd build && { apt-get download prometheus 2>/dev/null || { apt-get update -qq && apt-get download prometheus; }; }
	dpkg-deb -x build/prometheus_*.deb build/prometheus.tmp && rm -f build/prometheus_*.deb
	mv build/prometheus.tmp build/prometheus
	touch $@

## lint: ruff (code and format), mypy (pyproject.toml: strict on semantik.shared), yamllint, ansible-lint
##       (production profile)
PY_SOURCES := app alembic tests bench ansible roles molecule
lint: dev
	$(BIN)/ruff check $(PY_SOURCES)
	$(BIN)/ruff format --check $(PY_SOURCES)
	$(BIN)/mypy
	$(BIN)/yamllint -s .
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/ansible-lint -q

## test: every test (real PostgreSQL/Redis and lab hosts are started by the tests; the scenarios'
##       deploys copy with rsync, as make deploy does; promtool checks the alert rules, nft the
##       firewall's) in two processes, the lab stream and the rest (tests/conftest.py, STREAMS), and
##       the lint beside them; it fails if either does
test: dev $(TOOLS) $(PROMTOOL) $(NFT)
	$(MAKE) --no-print-directory --jobs=2 lint suite

# The tests alone. The lint runs beside them, not before: alone it kept one of the two cores idle for
# its four minutes (mypy, then ansible-lint's syntax check of each playbook and role).
.PHONY: suite
suite: dev
	$(BIN)/pytest --numprocesses 2

## test-coverage: every test but the lab's under coverage.py: line and branch coverage of app/ (the
##                services the tests start included); the HTML report in build/coverage/html
.PHONY: test-coverage
test-coverage: dev
	rm -rf build/coverage
	$(BIN)/coverage run -m pytest -m "not lab" -q
	$(BIN)/coverage combine -q
	$(BIN)/coverage report
	$(BIN)/coverage html -q -d build/coverage/html
	$(BIN)/coverage json -q -o build/coverage/coverage.json
	@$(BIN)/python -c 'import json; t = json.load(open("build/coverage/coverage.json"))["totals"]; \
	  lines, branches = (t["covered_lines"], t["num_statements"]), (t["covered_branches"], t["num_branches"]); \
	  print("app/: lines %.1f%% (%d of %d), branches %.1f%% (%d of %d)" \
	        % (100 * lines[0] / lines[1], *lines, 100 * branches[0] / branches[1], *branches))'

## audit: pip-audit over the locks and each wheelhouse built; fails on a vulnerability that has a fix,
##        and on any package it could not audit (ansible/audit.py)
.PHONY: audit
audit: dev
	$(BIN)/python ansible/audit.py

## test-fast: unit tests only
test-fast: dev
	$(BIN)/pytest -m "not integration and not lab"

## lab-up: start lab hosts lab1..labN (HOSTS=n, default 1) as root; see ansible/lab/README.md
## lab-down: remove every lab host, the lab's bridge and its nftables table
.PHONY: lab-up lab-down
HOSTS ?= 1
# The lab's plays run on the controller alone: no inventory, and no warning about that.
LAB_PLAYBOOK := ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false $(BIN)/ansible-playbook
lab-up: dev
	$(LAB_PLAYBOOK) ansible/lab/up.yml -e '{"lab_hosts": [$(shell seq -s, -f '"lab%g"' $(HOSTS))]}'

lab-down: dev
	$(LAB_PLAYBOOK) ansible/lab/down.yml

## lab-dev: the dev inventory's host as a lab host (semantik-dev; ansible/dev-lab.yml), for make deploy
## lab-dev-down: remove it, and the inventory's pointer to it
.PHONY: lab-dev lab-dev-down
lab-dev: dev
	$(LAB_PLAYBOOK) ansible/dev-lab.yml

lab-dev-down: dev
	$(LAB_PLAYBOOK) ansible/lab/down.yml -e '{"lab_hosts": ["semantik-dev"]}'
	rm -f inventories/dev/host_vars/semantik-dev/lab.yml

## wizard: strong secrets into inventories/$(ENV)/group_vars/all/vault.yml (ENV=dev|prod), ansible-vault
##         encrypted with a generated password file inventories/$(ENV)/.vault_pass (never committed)
## wheelhouse: every wheel the hosts of inventories/$(ENV) need (the project's own included), resolved for
##         the hosts' Python into wheelhouse/ (torch per semantik_torch_variant); cached, a rerun is quick
## deploy: converge inventories/$(ENV) with site.yml (Mitogen's strategy; STRATEGY=linear for Ansible's)
## demo: on a fresh Debian 12 machine (root): a lab host, the wheelhouse, the dev stack, the sample
##         documents ingested and searched through nginx; prints the results, the web page's URL and
##         whom to sign in as
.PHONY: wizard wheelhouse deploy demo
# When this make began: the demo's phases start with the venv.
MAKE_STARTED := $(shell date +%s)
ENV ?= dev
# The vault passwords come through ansible.cfg's vault_identity_list. A converge (make deploy, make demo)
# takes Mitogen's strategy unless told STRATEGY=linear, Ansible's own (README, "Speed").
deploy: STRATEGY ?= mitogen_linear
ANSIBLE_RUN = PATH=$(CURDIR)/$(BIN):$$PATH $(if $(STRATEGY),ANSIBLE_STRATEGY=$(STRATEGY))
## lock: locks/cpu.txt and locks/cuda.txt, every package the hosts' venv holds, from pyproject.toml
##       (the wheelhouse resolves within them: run it after changing a dependency; it keeps the pins
##       pyproject.toml still allows, UPGRADE=1 takes the newest)
.PHONY: lock
lock: dev
	for variant in cpu cuda; do \
	  $(BIN)/python roles/python_app/files/wheelhouse.py --project . --variant $$variant --write-lock \
	    $(if $(UPGRADE),--upgrade) \
	    $(foreach d,$(PIP_FIND_LINKS),--find-links $(d)) || exit 1; done

wizard: dev
	$(BIN)/python ansible/wizard.py $(ENV)

inventories/$(ENV)/.vault_pass:
	@echo "No vault password for $(ENV): run 'make wizard ENV=$(ENV)' first." >&2; exit 1

wheelhouse: dev $(TOOLS) inventories/$(ENV)/.vault_pass
	$(ANSIBLE_RUN) $(BIN)/ansible-playbook -i inventories/$(ENV) playbooks/wheelhouse.yml

deploy: dev $(TOOLS) inventories/$(ENV)/.vault_pass
	$(ANSIBLE_RUN) $(BIN)/ansible-playbook -i inventories/$(ENV) site.yml

## upgrade: site.yml — the new release rolls out host by host, each tier handing over (README, "Upgrades")
## rollback: every app host back to the release it ran before the last rollout; again to go forward;
##           SCHEMA=<revision|-N> takes the database schema back too, with the release just left
.PHONY: upgrade rollback
upgrade: deploy

rollback: dev inventories/$(ENV)/.vault_pass
	$(ANSIBLE_RUN) $(BIN)/ansible-playbook -i inventories/$(ENV) playbooks/rollback.yml $(if $(SCHEMA),-e rollback_schema_to=$(SCHEMA))

## dev-local: this working tree's webui on the controller (port 8080, PORT=n), reloading on each edit,
##            against the first webui host's PostgreSQL, Redis and vecpipe through SSH (ansible/dev_local.py)
.PHONY: dev-local
dev-local: dev inventories/$(ENV)/.vault_pass
	$(BIN)/python ansible/dev_local.py inventories/$(ENV)

## status: each host's units and health (ENV=dev|prod); logs: SERVICE=webui|vecpipe|...|backup [LINES=n]
## backup: backup.yml (into backups/$(ENV)/ unless the inventory names a backup host)
## restore: restore.yml, the newest backup or BACKUP=<YYYYmmddTHHMMSSZ>
.PHONY: status logs backup restore
status: dev inventories/$(ENV)/.vault_pass
	$(ANSIBLE_RUN) $(BIN)/ansible-playbook -i inventories/$(ENV) playbooks/status.yml

logs: dev inventories/$(ENV)/.vault_pass
	$(ANSIBLE_RUN) $(BIN)/ansible-playbook -i inventories/$(ENV) playbooks/logs.yml -e logs_service=$(SERVICE) $(if $(LINES),-e logs_lines=$(LINES))

backup: dev inventories/$(ENV)/.vault_pass
	$(ANSIBLE_RUN) $(BIN)/ansible-playbook -i inventories/$(ENV) backup.yml

restore: dev inventories/$(ENV)/.vault_pass
	$(ANSIBLE_RUN) $(BIN)/ansible-playbook -i inventories/$(ENV) restore.yml $(if $(BACKUP),-e backup_name=$(BACKUP))

## stop: every Semantik service stops, the data and the stores stay; start: the stores, then the
##       services tier by tier, each healthy before the next
## wipe: the environment's data gone (database, vectors, Redis), an empty working stack left; asks for
##       the environment's name (CONFIRM=<name> gives it), takes a backup first (NO_BACKUP=1: not),
##       refuses production without PRODUCTION=yes
.PHONY: stop start wipe
stop: dev inventories/$(ENV)/.vault_pass
	$(ANSIBLE_RUN) $(BIN)/ansible-playbook -i inventories/$(ENV) playbooks/stop.yml

start: dev inventories/$(ENV)/.vault_pass
	$(ANSIBLE_RUN) $(BIN)/ansible-playbook -i inventories/$(ENV) playbooks/start.yml

wipe: dev inventories/$(ENV)/.vault_pass
	$(ANSIBLE_RUN) $(BIN)/ansible-playbook -i inventories/$(ENV) playbooks/wipe.yml \
	  $(if $(CONFIRM),-e wipe_confirm=$(CONFIRM)) $(if $(NO_BACKUP),-e wipe_backup=false) \
	  $(if $(PRODUCTION),-e wipe_production=$(PRODUCTION))

demo: ENV = dev
demo: dev $(TOOLS)
	$(ANSIBLE_RUN) DEMO_STARTED=$(MAKE_STARTED) ansible/demo.sh
