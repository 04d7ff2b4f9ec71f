# The two commands a new user needs: `make run` and `make test`. Both set everything up.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test install browser imapserver services lint messages clean

run: install ## Serve the product with demo data (real PostgreSQL and Redis, embedded)
	$(BIN)/python -m helpdesk.devstack run

test: install browser imapserver ## Run the whole test suite against real PostgreSQL and Redis
	$(BIN)/python -m helpdesk.devstack test $(ARGS)

services: install ## Start only PostgreSQL and Redis, print their URLs
	$(BIN)/python -m helpdesk.devstack services

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,embedded]'
	touch $(STAMP)

# The browser tests drive Debian's Chromium through Playwright (no browser download).
browser:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Debian's chromium for the browser tests..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "Chromium is not installed: the browser tests will be skipped (CI requires them)."; \
		echo "Install it with: sudo apt-get install chromium"; \
	fi

# The IMAP polling tests start their own Debian dovecot on loopback (config in a temp dir).
imapserver:
	@if command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Debian's dovecot-imapd for the IMAP tests..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd >/dev/null; \
	else \
		echo "Dovecot is not installed: the IMAP tests will be skipped (CI requires them)."; \
		echo "Install it with: sudo apt-get install dovecot-imapd"; \
	fi

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
