# Two commands: `make run` and `make test`. Everything else is a step they take.
SHELL := /bin/bash
.DEFAULT_GOAL := run
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
WORKERS ?= 2
FLASK := $(BIN)/flask --app app
WITH_DB := scripts/with-db.sh
WITH_MQTT := scripts/with-mqtt.sh

.PHONY: run test stop setup system venv assets translations db bench bench-district lint clean-db backup restore reliability

system:                          ## Debian packages: PostgreSQL 15, PostGIS 3, GDAL, Chromium, fonts
	@scripts/system-deps.sh

venv: $(VENV)/.installed         ## the virtual environment from requirements.txt
$(VENV)/.installed: requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	@touch $@

assets: node_modules/.installed   ## Leaflet and plugins from the npm registry, served by the app
node_modules/.installed: package.json package-lock.json
	@npm ci --no-audit --no-fund --loglevel=error
	@touch $@

translations: venv               ## compile the Chinese and English catalogues
	@$(BIN)/pybabel compile -d app/translations >/dev/null

setup: system venv assets translations
	@$(WITH_DB) $(FLASK) setup --demo

run: setup                       ## set up, then serve on http://127.0.0.1:$(PORT)
	@$(WITH_DB) $(WITH_MQTT) scripts/serve.sh $(PORT) $(WORKERS)

test: system venv assets translations   ## set up, then the whole suite against a fresh database
	@$(WITH_DB) $(WITH_MQTT) $(BIN)/python -m pytest -q

bench: setup                     ## benchmarks (ratios against a baseline measured in the same run)
	@for b in bench/bench_*.py; do [ -e "$$b" ] || continue; $(WITH_DB) $(BIN)/python $$b || exit 1; done

bench-district: system venv assets translations   ## the platform over a district of BENCH_TOWNS (10) towns, 2,000,000 cases
	@$(WITH_DB) $(BIN)/python bench/district.py

reliability: system venv         ## load and faults on a private throw-away cluster (bench/reliability.py)
	@$(WITH_DB) $(BIN)/python bench/reliability.py

backup:                          ## pg_dump of the database in DATABASE_URL into var/backups; prints the file
	@$(WITH_DB) scripts/backup.sh

restore:                         ## make restore FILE=var/backups/NAME.dump [FORCE=1 | INTO=newdb]
	@test -n "$(FILE)" || { echo "usage: make restore FILE=var/backups/NAME.dump [FORCE=1] [INTO=newdb]" >&2; exit 2; }
	@FORCE="$(FORCE)" INTO="$(INTO)" $(WITH_DB) scripts/restore.sh "$(FILE)"

lint: venv                       ## ruff (style, complexity, blind excepts, type hints) and mypy on gis/ and routing/
	@$(BIN)/ruff check app gis layers routing tests bench migrations data/boundaries
	@$(BIN)/mypy

stop:                            ## stop the embedded PostGIS (its data is kept) and the embedded broker
	@scripts/mqtt.sh stop
	@scripts/pg.sh stop

clean-db:                        ## delete the embedded PostGIS and its data
	@scripts/pg.sh destroy
