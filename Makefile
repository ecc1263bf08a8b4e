# NextChapter OMS — developer commands. Odoo's source is used from $(ODOO_HOME), never copied here.
ODOO_HOME ?= /opt/odoo18
VENV      ?= .venv
PY        := $(VENV)/bin/python
DB_HOST   ?= 127.0.0.1
DB_PORT   ?= 5432
DB_USER   ?= root
DEMO_DB   ?= oms_demo
HTTP_PORT ?= 8069
ADDON     := nextchapter_oms
ADDONS_PATH := $(ODOO_HOME)/addons,$(CURDIR)
DATA_DIR  := $(CURDIR)/.odoo-data
ODOO      := PYTHONPATH=$(ODOO_HOME) $(PY) $(ODOO_HOME)/odoo-bin --addons-path=$(ADDONS_PATH) \
             --db_host=$(DB_HOST) --db_port=$(DB_PORT) --db_user=$(DB_USER) --data-dir=$(DATA_DIR)

.PHONY: help setup check-odoo check-db run test demo-check lint pot bench clean

help:
	@echo "make run    - set up what is missing and serve $(DEMO_DB) with demo data on http://localhost:$(HTTP_PORT)"
	@echo "make test   - fresh database, install $(ADDON), run the whole suite, drop the database"
	@echo "make lint   - ruff, pylint-odoo and oca-checks-odoo-module"
	@echo "make bench  - run the benchmarks under bench/ on a fresh database"

check-odoo:
	@test -f "$(ODOO_HOME)/odoo-bin" && test -d "$(ODOO_HOME)/odoo/addons/base" && test -d "$(ODOO_HOME)/addons/sale_stock" \
	  || { echo "ERROR: no Odoo source in ODOO_HOME=$(ODOO_HOME) (odoo-bin, odoo/addons/base, addons/sale_stock). See DEVELOPERS.md." >&2; exit 2; }
	@grep -q "^version_info = (18, 0" "$(ODOO_HOME)/odoo/release.py" \
	  || { echo "ERROR: ODOO_HOME=$(ODOO_HOME) does not hold Odoo 18.0 (see odoo/release.py)." >&2; exit 2; }

check-db:
	@pg_isready -q -h $(DB_HOST) -p $(DB_PORT) || { command -v pg_ctlcluster >/dev/null && pg_ctlcluster 15 main start; sleep 2; }
	@pg_isready -h $(DB_HOST) -p $(DB_PORT) >/dev/null || { echo "ERROR: PostgreSQL is not reachable on $(DB_HOST):$(DB_PORT)." >&2; exit 2; }

$(VENV)/.installed: requirements-dev.txt constraints.txt $(ODOO_HOME)/requirements.txt
	@$(MAKE) --no-print-directory check-odoo
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade "pip<26" wheel
	grep -v '^cbor2' $(ODOO_HOME)/requirements.txt > $(VENV)/odoo-requirements.txt
	$(VENV)/bin/pip install -q -r $(VENV)/odoo-requirements.txt -c constraints.txt
	# the linters want a newer polib than Odoo pins; Odoo runs fine with it
	$(VENV)/bin/pip install -q -r requirements-dev.txt -c constraints.txt
	touch $@

setup: check-odoo $(VENV)/.installed

run: setup check-db
	@if ! psql -h $(DB_HOST) -p $(DB_PORT) -U $(DB_USER) -lqt | cut -d'|' -f1 | grep -qw $(DEMO_DB); then \
	  echo "Creating $(DEMO_DB) with $(ADDON) and demo data…"; \
	  $(ODOO) -d $(DEMO_DB) -i $(ADDON) --stop-after-init --log-level=warn || exit 1; \
	fi
	$(ODOO) -d $(DEMO_DB) --http-port=$(HTTP_PORT) --db-filter='^$(DEMO_DB)$$'

test: setup check-db
	ODOO_HOME=$(ODOO_HOME) PY=$(PY) DB_HOST=$(DB_HOST) DB_PORT=$(DB_PORT) DB_USER=$(DB_USER) \
	  ADDONS_PATH=$(ADDONS_PATH) DATA_DIR=$(DATA_DIR) tools/run_tests.sh $(ADDON)

demo-check: setup check-db
	@db=oms_democheck_$$$$; dropdb --if-exists -h $(DB_HOST) -p $(DB_PORT) -U $(DB_USER) $$db; \
	  echo "Installing $(ADDON) with demo data on $$db…"; \
	  $(ODOO) -d $$db -i $(ADDON) --stop-after-init --log-level=warn > .demo-check.log 2>&1; rc=$$?; \
	  dropdb --if-exists -h $(DB_HOST) -p $(DB_PORT) -U $(DB_USER) $$db; \
	  if [ $$rc -ne 0 ] || grep -qE ' (ERROR|CRITICAL) ' .demo-check.log; then cat .demo-check.log; exit 1; fi; \
	  echo "demo data OK"

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/pylint --rcfile=.pylintrc $(ADDON)
	$(VENV)/bin/oca-checks-odoo-module $(ADDON)
	@# po-pretty-format is off: it blanks Dutch strings that equal the English source (ID, E-mails …)
	$(VENV)/bin/oca-checks-po --disable=po-pretty-format $(ADDON)/i18n/*.po*

# Export the module's terms to i18n/nextchapter_oms.pot and merge them into i18n/nl.po (needs gettext).
pot: setup check-db
	@db=oms_pot_$$$$; dropdb --if-exists -h $(DB_HOST) -p $(DB_PORT) -U $(DB_USER) $$db; \
	  $(ODOO) -d $$db -i $(ADDON) --without-demo=all --stop-after-init --log-level=warn && \
	  $(ODOO) -d $$db --i18n-export=$(ADDON)/i18n/$(ADDON).pot --modules=$(ADDON) --stop-after-init --log-level=warn; \
	  rc=$$?; dropdb --if-exists -h $(DB_HOST) -p $(DB_PORT) -U $(DB_USER) $$db; exit $$rc
	msgmerge --quiet --no-fuzzy-matching --update --backup=none $(ADDON)/i18n/nl.po $(ADDON)/i18n/$(ADDON).pot

bench: setup check-db
	ODOO_HOME=$(ODOO_HOME) PY=$(PY) DB_HOST=$(DB_HOST) DB_PORT=$(DB_PORT) DB_USER=$(DB_USER) \
	  ADDONS_PATH=$(ADDONS_PATH) DATA_DIR=$(DATA_DIR) bench/run.sh

clean:
	rm -rf $(VENV) $(DATA_DIR) .test-logs
