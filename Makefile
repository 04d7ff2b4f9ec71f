# The two commands a new user needs: `make run` and `make test`. Both set everything up.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test install test-tools services lint messages clean bench-ingest

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
# (IMAP tests, on loopback), GNU gettext (the catalogue completeness test). Installed with
# apt-get when missing and run as root; otherwise those tests skip, and fail under CI.
TEST_TOOLS := chromium:chromium dovecot:dovecot-imapd xgettext:gettext

test-tools:
	@missing=""; for pair in $(TEST_TOOLS); do 		tool=$${pair%%:*}; package=$${pair#*:}; 		command -v $$tool >/dev/null 2>&1 || [ -x /usr/sbin/$$tool ] || missing="$$missing $$package"; 	done; 	if [ -z "$$missing" ]; then :; 	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then 		echo "Installing Debian packages for the tests:$$missing"; 		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; 	else 		echo "Missing Debian packages:$$missing; the tests that need them will be skipped (CI requires them)."; 		echo "Install them with: sudo apt-get install$$missing"; 	fi

bench-ingest: install ## Ingest benchmark: accepted/s, latency, threaded/s (EVENTS=5000)
	$(BIN)/python -m channels_ingest.benchmark --events $(or $(EVENTS),5000)
	$(BIN)/python -m channels_ingest.benchmark --events $(or $(EVENTS),5000) --separate

lint: install
	$(BIN)/ruff check .

# Refresh the translation catalogues after changing strings (needs GNU gettext).
messages: install
	DJANGO_DEBUG=1 $(BIN)/python manage.py makemessages -l es -l ro --no-obsolete --add-location file \
		-i .venv -i .local -i staticfiles -i tests

clean:
	rm -rf $(VENV)
