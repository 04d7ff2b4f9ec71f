# The two commands a new user needs: `make run` and `make test`. Both set everything up.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test install test-tools services lint messages clean bench-ingest bench-routing bench-sla bench-orders bench-metrics bench-inbox bench-access

run: install ## Serve the product with demo data (real PostgreSQL and Redis, embedded)
	$(BIN)/python -m helpdesk.devstack run

test: install test-tools ## Run the whole test suite against real PostgreSQL and Redis
	$(BIN)/python -m helpdesk.devstack test $(ARGS)

services: install ## Start only PostgreSQL and Redis, print their URLs
	$(BIN)/python -m helpdesk.devstack services

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,embedded]'
	touch $(STAMP)

# Debian tools some tests drive for real: Chromium (browser tests, through Playwright), dovecot
# (IMAP tests, on loopback), GNU gettext (the catalogue completeness test), openssl (the README signing recipe). Installed with
# apt-get when missing and run as root; otherwise those tests skip, and fail under CI.
TEST_TOOLS := chromium:chromium dovecot:dovecot-imapd xgettext:gettext openssl:openssl

test-tools:
	@missing=""; for pair in $(TEST_TOOLS); do 		tool=$${pair%%:*}; package=$${pair#*:}; 		command -v $$tool >/dev/null 2>&1 || [ -x /usr/sbin/$$tool ] || missing="$$missing $$package"; 	done; 	if [ -z "$$missing" ]; then :; 	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then 		echo "Installing Debian packages for the tests:$$missing"; 		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; 	else 		echo "Missing Debian packages:$$missing; the tests that need them will be skipped (CI requires them)."; 		echo "Install them with: sudo apt-get install$$missing"; 	fi

bench-sla: install ## SLA sweep cost: 1 M open tickets, 1 k / 10 k / 100 k due, 100 k vs 1 M open (OPEN=1000000 SMALL_OPEN=100000 DUE=1000,10000,100000)
	$(BIN)/python -m tickets.sla.benchmark --open $(OPEN) --small-open $(SMALL_OPEN) --due $(DUE)
bench-sla: OPEN ?= 1000000
bench-sla: SMALL_OPEN ?= 100000
bench-sla: DUE ?= 1000,10000,100000

bench-metrics: install ## Dashboards: load TICKETS=1000000 tickets and ANSWERS=10000000 answers, p50/p95 per route
	$(BIN)/python -m metrics.benchmark --tickets $(or $(TICKETS),1000000) --answers $(or $(ANSWERS),10000000)

bench-ingest: install ## Ingest benchmark: accepted/s, latency, threaded/s (EVENTS=5000), then the ticket page's order look-up (ORDERS=1000000)
	$(BIN)/python -m channels_ingest.benchmark --events $(or $(EVENTS),5000)
	$(BIN)/python -m channels_ingest.benchmark --events $(or $(EVENTS),5000) --separate --orders $(or $(ORDERS),1000000)

bench-routing: install ## What automation rules and round-robin add to threading (MESSAGES=2000 RULES=50 AGENTS=10)
	$(BIN)/python -m tickets.routing.benchmark --messages $(or $(MESSAGES),2000) --rules $(or $(RULES),50) --agents $(or $(AGENTS),10)

bench-orders: install ## Order look-ups of the ticket page and threading at scale (ORDERS=1000000)
	$(BIN)/python -m tickets.order_benchmark --orders $(or $(ORDERS),1000000)

bench-inbox: install ## Inbox views, keyset page, full-text search, ticket page at TICKETS=1000000 MESSAGES=5000000 (REUSE=1 keeps the loaded database)
	$(BIN)/python -m tickets.benchmark_inbox --tickets $(or $(TICKETS),1000000) --messages $(or $(MESSAGES),5000000) $(if $(REUSE),--reuse)

bench-access: install ## What visibility costs: lists read by admins and by agents limited to their stores, TICKETS=1000000 (REUSE=1 keeps the database)
	$(BIN)/python -m tickets.access_benchmark --tickets $(or $(TICKETS),1000000) $(if $(REUSE),--reuse)

lint: install
	$(BIN)/ruff check .

# Refresh the translation catalogues after changing strings (needs GNU gettext).
messages: install
	DJANGO_DEBUG=1 $(BIN)/python manage.py makemessages -l es -l ro --no-obsolete --add-location file \
		-i .venv -i .local -i staticfiles -i tests

clean:
	rm -rf $(VENV)
