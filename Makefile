# The two commands of the README:  make run   and   make test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
SANDBOX_PORT ?= 8765

.PHONY: run test install install-dev browser oauth-mock lint bench bench-alerts bench-overview loadtest clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'

## make run: the console on http://127.0.0.1:8000 against the built-in sandbox, with demo data and a demo login.
run: install
	DEBUG=true DEV_WARN_ONLY_WHEN_SERVING=1 $(BIN)/python manage.py migrate --noinput -v 0
	DEBUG=true DEV_WARN_ONLY_WHEN_SERVING=1 $(BIN)/python manage.py demo_setup
	DEBUG=true HOST=$(HOST) PORT=$(PORT) SANDBOX_PORT=$(SANDBOX_PORT) BIN=$(BIN) ./bin/dev

## make test: installs what the tests need (Python packages, Debian's Chromium) and runs the whole suite.
test: install-dev browser oauth-mock
	$(BIN)/python -m pytest $(PYTEST_ARGS)

browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get install -y chromium >/dev/null 2>&1 || (apt-get update >/dev/null && apt-get install -y chromium >/dev/null)); \
	  else echo "Chromium not found: browser tests will be skipped (install Debian's 'chromium' to run them)."; fi; }

# oauth2-mock-server (npm, version 8: 9 needs Node 22) for the OAuth browser test, in the git-ignored .tools/.
OAUTH_MOCK_DIR := .tools/oauth2-mock-server
oauth-mock:
	@[ -x $(OAUTH_MOCK_DIR)/node_modules/.bin/oauth2-mock-server ] || { \
	  if command -v npm >/dev/null 2>&1; then \
	    npm install --silent --no-audit --no-fund --prefix $(OAUTH_MOCK_DIR) oauth2-mock-server@8 >/dev/null; \
	  else echo "npm not found: the OAuth browser test will be skipped (install Node.js 20 and npm to run it)."; fi; }

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) staticfiles db.sqlite3 .pytest_cache

## make bench: the benchmark (sandbox with 20 ms latency, the console under gunicorn as the Procfile runs it).
bench: install-dev
	$(BIN)/python bench/bench.py $(BENCH_ARGS)

## make bench-alerts: the background checks and alerts on PostgreSQL and Redis (127.0.0.1): 2 alerts_worker processes,
## 200 connectors watched by 3 admins for 150 s, then rounds over 1,000; prints the criteria, exits 1 when a
## correctness one is not met. BENCH_ALERTS_ARGS="--duration 120 --workers 2"; --help for the rest.
bench-alerts: install-dev
	$(BIN)/python bench/alerts_bench.py $(BENCH_ALERTS_ARGS)

## make bench-overview: the "All connectors" page with 50 collections x 20 connectors (20 ms sandbox latency, gunicorn):
## first byte, all cells filled, no upstream read repeated; met or not. BENCH_OVERVIEW_ARGS="--journeys 5"; --help.
bench-overview: install-dev
	$(BIN)/python bench/overview_bench.py $(BENCH_OVERVIEW_ARGS)

## make loadtest: Locust, 100 signed-in admins for 120 s against gunicorn as the Procfile runs it (PostgreSQL and
## Redis when they answer on 127.0.0.1); prints the pass criteria, redraws docs/performance/loadtest.png, exits 1 when
## one is not met. LOADTEST_ARGS="--users 30 --duration 30" for a shorter run; --help for the rest.
loadtest: install-dev
	$(BIN)/python loadtest/run.py $(LOADTEST_ARGS)
