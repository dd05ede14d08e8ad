# HostedSuite -> DuckDB. `make help` lists every target; CI, README and users call the same ones.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Backfill / verify / report arguments (all optional except START/END for backfill). START and END
# are UTC dates with END excluded for backfill, local dates with END included for verify and report.
START   ?=
END     ?=
CLIENT  ?=
CENTER  ?=
WORKERS ?=
ARGS    ?=
# The command line's ARGS are for this make alone: `make test ARGS=...` must not hand pytest's
# arguments to the `make sql` and `make report` the tests run as a user types them.
unexport ARGS
# make transform FULL=1: rebuild all of analytics rather than what changed.
FULL    ?=
# make backfill FORCE=1: read a range already loaded again (otherwise: nothing to do).
FORCE   ?=
# make sql: the DuckDB file to open (default: the configured serving copy) and optional SQL.
# Q reaches the shell as an environment variable: any quotes in the SQL stay as typed.
DB      ?=
Q       ?=
export Q
# make erase: the caller to erase (CALLER_NAME optional).
CALLER_NUMBER ?=
CALLER_NAME   ?=
# make reconcile CONFIRM=1: mark calls deleted even when the API returns far fewer.
CONFIRM       ?=
# The browser the report's browser test drives (make browser installs Debian's when missing).
CHROMIUM ?= /usr/bin/chromium

.PHONY: help venv postgres test lint fmt demo load backfill transform verify sql report browser emulator bench clean erase privacy-apply reconcile

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@# what it was installed from: bin/hostedsuite-scheduled refuses to run a stale environment
	@sha256sum requirements.lock pyproject.toml > $(STAMP)

venv: ## Create the virtual environment from the lock file (again when the lock file changed)
	@sha256sum --status --check $(STAMP) 2>/dev/null || rm -f $(STAMP)
	@$(MAKE) --no-print-directory --silent $(STAMP)

# PostgreSQL server binaries for the tests' throw-away servers (tests/postgres_server.py).
postgres: ## Install Debian's PostgreSQL server binaries if missing (root; else set HOSTEDSUITE_PG_BIN)
	@if [ -n "$$HOSTEDSUITE_PG_BIN" ] || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian's postgresql (server binaries for the tests)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null; \
	else \
		echo "error: no PostgreSQL server binaries; as root: apt-get install postgresql, or set HOSTEDSUITE_PG_BIN=<a PostgreSQL bin folder>" >&2; exit 2; \
	fi

test: $(STAMP) postgres browser ## Run the test suite (creates the environment, installs PostgreSQL and chromium if missing)
	@# Bytecode for our modules first: with PYTHONDONTWRITEBYTECODE set (as on this VM and CI),
	@# every CLI process the tests start would compile them again. worksteal: a worker that runs
	@# out of tests takes some of the other's queue, so the suite does not wait on one's tail.
	$(BIN)/python -m compileall -q pipelines transforms hostedsuite_emulator bench tests
	CHROMIUM="$(CHROMIUM)" $(BIN)/python -m pytest -n 2 --dist worksteal -rxX $(ARGS)

lint: $(STAMP) ## ruff + mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

fmt: $(STAMP) ## Auto-format and fix lint
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

demo: $(STAMP) ## Start the bundled emulator, load it into var/demo/warehouse.duckdb, build metrics, print a summary, write var/demo/report.html
	$(BIN)/hostedsuite demo $(ARGS)

load: $(STAMP) ## Incremental load with the configured account (.dlt/config.toml + secrets.toml)
	$(BIN)/hostedsuite load $(ARGS)

backfill: $(STAMP) ## Load UTC dates START..END, END excluded: make backfill START=2024-01-01 END=2024-07-01 [CLIENT=] [CENTER=] [WORKERS=] [FORCE=1]
	$(BIN)/hostedsuite backfill --start "$(START)" --end "$(END)" \
		$(if $(CLIENT),--client "$(CLIENT)") $(if $(CENTER),--center "$(CENTER)") \
		$(if $(WORKERS),--workers "$(WORKERS)") $(if $(FORCE),--force) $(ARGS)

transform: $(STAMP) ## Refresh the analytics schema (what changed since the last run); FULL=1 rebuilds all
	$(BIN)/hostedsuite transform $(if $(FULL),--full) $(ARGS)

verify: $(STAMP) ## Compare API counts per center and local day, local dates START..END both included [START=] [END=] (default: the 7 days ending on the cursor's date)
	$(BIN)/hostedsuite verify $(if $(START),--start "$(START)") $(if $(END),--end "$(END)") $(ARGS)

sql: $(STAMP) ## Read-only SQL on the serving copy: make sql [DB=file] [Q="select ..."] (prompt without Q)
	$(BIN)/hostedsuite sql $(if $(DB),"$(DB)") $(if $(Q),--command "$$Q") $(ARGS)

report: $(STAMP) ## HTML report of the serving copy, local dates START..END both included: make report [START=] [END=] [DB=file] (default: last 30 local days)
	$(BIN)/hostedsuite report $(if $(START),--start "$(START)") $(if $(END),--end "$(END)") \
		$(if $(DB),--db "$(DB)") $(ARGS)

erase: $(STAMP) ## Erase one caller everywhere: make erase CALLER_NUMBER=... [CALLER_NAME=...] (see README, Personal data)
	$(BIN)/hostedsuite erase --caller-number "$(CALLER_NUMBER)" \
		$(if $(CALLER_NAME),--caller-name "$(CALLER_NAME)") $(ARGS)

privacy-apply: $(STAMP) ## Rewrite the stored history under a stricter [privacy] policy (see README, Personal data)
	$(BIN)/hostedsuite privacy-apply $(ARGS)

reconcile: $(STAMP) ## Mark calls the API no longer returns as deleted: make reconcile START= END= [CONFIRM=1]
	$(BIN)/hostedsuite reconcile --start "$(START)" --end "$(END)" $(if $(CONFIRM),--confirm) $(ARGS)

browser: ## Install Debian's chromium for the report's browser test if $(CHROMIUM) is missing (needs root)
	@test -x "$(CHROMIUM)" || { test "$$(id -u)" = 0 || { \
		echo "no browser at $(CHROMIUM): ask an admin for 'apt-get install chromium', or pass CHROMIUM=/path/to/chromium" >&2; \
		exit 1; }; apt-get update -q && apt-get install -y -q chromium; }

emulator: $(STAMP) ## Serve the HostedSuite emulator (ARGS="--port 8080 --calls 5000 --seed 1 ...")
	$(BIN)/hostedsuite-emulator $(ARGS)

bench: $(STAMP) ## Run the benchmark; prints a table and writes bench/results/*.json
	$(BIN)/python -m bench.run $(ARGS)

clean: ## Remove the environment, caches and local warehouses
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache var build *.egg-info
