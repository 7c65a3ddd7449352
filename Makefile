# Two commands for a newcomer:  make run   |   make test
# Everything else here is what those two are made of.

SHELL := /bin/bash
.DEFAULT_GOAL := help

ENGINE_VENV  := .venv/engine
GATEWAY_VENV := .venv/gateway
ENGINE_PY    := $(ENGINE_VENV)/bin/python
GATEWAY_PY   := $(GATEWAY_VENV)/bin/python
RASA         := $(ENGINE_VENV)/bin/rasa
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
PIP_FLAGS    := --disable-pip-version-check --quiet

.PHONY: eval-e2e eval-triage-stack help run staff-admin setup system-packages train load-city-data test test-engine test-gateway test-e2e test-faults test-scaleout test-scaleout-short eval eval-nlu eval-garbage eval-faq eval-triage validate lock bench bench-handoff line-richmenu clean

help:
	@echo "make run    set up what is missing, train if data changed, start all services"
	@echo "make test   the whole test suite"
	@echo "other: test-faults setup train eval eval-nlu eval-garbage eval-faq eval-triage validate bench load-city-data DIR=... lock clean"
	@echo "with make run up: eval-e2e (the front door) eval-triage-stack (the triage sets)"

## ---- environments (re-made only when pyproject.toml or the constraints change) ----

$(ENGINE_VENV)/.installed: pyproject.toml constraints/engine.txt
	@echo "== engine environment (Python 3.10, Rasa 3.6) =="
	@test -x $(ENGINE_PY) || "$$(tools/find-python engine)" -m venv $(ENGINE_VENV)
	$(ENGINE_PY) -m pip install $(PIP_FLAGS) -c constraints/engine.txt -e ".[engine,engine-test]"
	@touch $@

$(GATEWAY_VENV)/.installed: pyproject.toml constraints/gateway.txt
	@echo "== gateway environment (Sanic, line-bot-sdk v3) =="
	@test -x $(GATEWAY_PY) || "$$(tools/find-python gateway)" -m venv $(GATEWAY_VENV)
	$(GATEWAY_PY) -m pip install $(PIP_FLAGS) -c constraints/gateway.txt -e ".[gateway,gateway-test]"
	@touch $@

setup: $(ENGINE_VENV)/.installed $(GATEWAY_VENV)/.installed

# Test services from Debian's packages: chromium for the browser tests (Playwright's own browser download
# is not used), npm (the widget's browser test installs axe-core with it) and the PostgreSQL server binaries
# (tests start throwaway servers with tools/pg.py).
system-packages:
	@missing=""; command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	  command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	  command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	  command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing="$$missing haproxy"; \
	  if [ -n "$$missing" ]; then \
	    echo "== installing Debian packages:$$missing =="; \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	  fi

## ---- model: trained only when config, domain, training data or NLU code changed ----

train: $(ENGINE_VENV)/.installed
	@$(ENGINE_PY) tools/model.py ensure

## ---- city open data (garbage dictionary, rules, calendar, postcodes) ----

CITYDATA_DB := var/citydata.db

# First start: load the repository's small sample. A city loads its official files with load-city-data.
$(CITYDATA_DB): | $(ENGINE_VENV)/.installed
	@$(ENGINE_PY) -m bot.knowledge.citydata load data/city_sample

load-city-data: $(ENGINE_VENV)/.installed
	@test -n "$(DIR)" || { echo "usage: make load-city-data DIR=<directory with the city's CSV files>"; exit 2; }
	$(ENGINE_PY) -m bot.knowledge.citydata load "$(DIR)"

## ---- run ----

run: setup train $(CITYDATA_DB)
	@$(GATEWAY_PY) tools/stack.py

## ---- tests ----

test: setup train test-engine test-gateway test-e2e test-scaleout-short

test-engine: $(ENGINE_VENV)/.installed system-packages
	$(ENGINE_PY) -m pytest tests/engine --durations=10

test-gateway: $(GATEWAY_VENV)/.installed
	$(GATEWAY_PY) -m pytest tests/gateway --durations=15

test-e2e: setup train system-packages
	$(GATEWAY_PY) -m pytest tests/e2e --durations=15

# The fault tests alone (also part of `make test`): SIGKILL to the gateway with LINE events and a staff reply in
# flight, SIGKILL to the engine and then to the gateway under `make run`'s runner mid-conversation, SIGTERM to make run.
test-faults: setup train system-packages
	$(GATEWAY_PY) -m pytest tests/gateway/test_line_inbox.py tests/e2e/test_stack_supervision.py

# The scale-out topology on one machine (issue #15): PostgreSQL, Redis, HAProxy, 2 engines × 2 action servers ×
# 2 gateways; load, cross-gateway and fault tests (~15 min on 2 cores). `make test` runs the short subset below.
test-scaleout: setup train system-packages
	$(GATEWAY_PY) -m pytest tests/scaleout -p no:cacheprovider

# The short subset (≤ 4 min; part of `make test`): PostgreSQL, Redis, HAProxy and 2 gateways with stand-in engines (no model to load):
# load, cross-gateway, SIGKILL of a gateway, restarts of PostgreSQL and Redis (tests/scaleout/test_short.py).
test-scaleout-short: $(GATEWAY_VENV)/.installed system-packages
	$(GATEWAY_PY) -m pytest tests/scaleout -m "not full" -p no:cacheprovider

eval: eval-nlu eval-garbage eval-faq eval-triage

eval-nlu: train
	$(ENGINE_PY) -m tools.eval_nlu

eval-garbage: $(ENGINE_VENV)/.installed
	$(ENGINE_PY) -m tools.eval_garbage

eval-faq: train $(CITYDATA_DB)
	$(ENGINE_PY) -m tools.eval_faq --through-nlu
	$(ENGINE_PY) -m tools.eval_faq --set fresh --through-nlu

# The front door through the running stack (make run in another terminal): sorting, FAQ, out of scope.
eval-e2e: $(GATEWAY_VENV)/.installed
	$(GATEWAY_PY) -m tools.eval_e2e

eval-triage-stack: $(GATEWAY_VENV)/.installed
	$(GATEWAY_PY) -m tools.eval_triage_stack --set set8_blind
	$(GATEWAY_PY) -m tools.eval_triage_stack --set set6_blind
	$(GATEWAY_PY) -m tools.eval_triage_stack --set set4_blind
	$(GATEWAY_PY) -m tools.eval_triage_stack --set set3_blind
	$(GATEWAY_PY) -m tools.eval_triage_stack --set set2_blind

eval-triage: $(GATEWAY_VENV)/.installed
	$(GATEWAY_PY) -m tools.eval_triage --set all

validate: $(ENGINE_VENV)/.installed
	$(RASA) data validate --fail-on-warnings

bench: setup train
	$(GATEWAY_PY) benchmarks/run.py
	$(GATEWAY_PY) benchmarks/handoff.py
	$(GATEWAY_PY) benchmarks/line_ack.py
	$(GATEWAY_PY) benchmarks/booking.py
	$(GATEWAY_PY) benchmarks/triage.py
	$(GATEWAY_PY) benchmarks/login_burst.py
	$(ENGINE_PY) benchmarks/item_matcher.py

bench-booking: setup train
	$(GATEWAY_PY) benchmarks/booking.py

bench-handoff: $(GATEWAY_VENV)/.installed
	$(GATEWAY_PY) benchmarks/handoff.py

## ---- LINE: the rich menu from data/line/ (needs LINE_CHANNEL_ACCESS_TOKEN; LINE_API_BASE_URL for a test API) ----

line-richmenu: $(GATEWAY_VENV)/.installed
	$(GATEWAY_PY) -m tools.line_richmenu create

## ---- maintenance ----

lock:
	@(echo "# Every package of the engine environment, pinned (regenerate: make lock)."; \
	  $(ENGINE_PY) -m pip freeze --exclude-editable) > constraints/engine.txt
	@(echo "# Every package of the gateway environment, pinned (regenerate: make lock)."; \
	  $(GATEWAY_PY) -m pip freeze --exclude-editable) > constraints/gateway.txt

staff-admin: $(GATEWAY_VENV)/.installed
	@test -n "$(NAME)" || (echo "usage: make staff-admin NAME=<username>" && exit 2)
	$(GATEWAY_PY) -m gateway.staff.admin create-admin $(NAME)

clean:
	rm -rf .venv models var results .pytest_cache

# Schema of the gateway DB (GATEWAY_DB_URL) and the assistant DB (ASSISTANT_DB_URL) to the newest Alembic revision
# (every process also does it at start, one at a time); `make migrate ARGS=check` checks instead.
.PHONY: migrate
migrate: $(GATEWAY_VENV)/.installed
	$(GATEWAY_PY) -m gateway.storage.migrate $(or $(ARGS),upgrade)
	$(GATEWAY_PY) -m common.migrate $(or $(ARGS),upgrade)
