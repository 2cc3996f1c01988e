# The entry point for everything. `make run` starts the platform; `make test` runs every test
# against real Kafka and PostgreSQL, installing and starting what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
INFRA := deploy/local/infra.sh

.PHONY: help install up down status consume run test test-unit test-integration test-e2e lint fmt bench schemas chaos clean clean-topics

help:
	@echo "make run      start the platform (infrastructure + services); Ctrl-C stops it"
	@echo "make test     install, start the infrastructure, run lint and every test"
	@echo "make bench    benchmarks (throughput, latency) with printed figures"
	@echo "make up/down  start/stop the local Kafka and PostgreSQL"
	@echo "make schemas  export the event JSON Schemas and AsyncAPI document to schemas/"
	@echo "make chaos    the fault suite, full form, with its reconciliation"
	@echo "make consume TOPIC=complaints.intake.v1   read a topic with Kafka's console consumer"
	@echo "make clean-topics  delete the topics killed test and bench runs left on the local broker"

install: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "python3 is required"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing Python dependencies into $(VENV)"
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

up: install
	@$(INFRA) up
	@eval "$$($(INFRA) env)" && export KAFKA_BOOTSTRAP_SERVERS KAFKA_REPLICATION_FACTOR KAFKA_MIN_INSYNC_REPLICAS && \
		$(PY) -m shared.messaging.admin

down:
	@$(INFRA) down

status:
	@$(INFRA) status

# Read a topic with Kafka's own console consumer: make consume TOPIC=complaints.intake.v1
TOPIC ?= complaints.intake.v1
consume:
	@java -Dlog4j.configuration=file:deploy/kafka/tools-log4j.properties \
		-cp '.local/kafka/libs-$(shell sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' deploy/kafka/pom.xml)/*' \
		org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server $${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:9092} \
		--topic $(TOPIC) --from-beginning --property print.key=true

run: install
	@deploy/local/run.sh

test: install up lint
	@$(PY) -m pytest -p no:cacheprovider -ra tests/unit tests/integration tests/e2e

test-unit: install
	@$(PY) -m pytest -q tests/unit

test-integration: install up
	@$(PY) -m pytest -q tests/integration

test-e2e: install up
	@$(PY) -m pytest -q tests/e2e

lint: install
	@$(VENV)/bin/ruff check shared services tests bench
	@$(VENV)/bin/ruff format --check shared services tests bench >/dev/null || \
		{ echo "ruff format would change files: run 'make fmt'"; exit 1; }

fmt: install
	@$(VENV)/bin/ruff format shared services tests bench
	@$(VENV)/bin/ruff check --fix shared services tests bench

bench: install up
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; } || \
		echo "wrk not installed: the intake benchmark falls back to a Python client"
	@$(PY) -m bench

schemas: install
	@$(PY) -m shared.events.export schemas

# The fault suite, full form: a private three-broker cluster, two replicas of every service,
# broker and controller kill -9, a kill -9 storm, and PostgreSQL restarts only when this run
# started PostgreSQL itself (a server found running may be shared: never restarted).
chaos: install
	@pg_owned=0; \
	if [ -z "$${INTAKE_DATABASE_URL:-}" ] && ! $(INFRA) status | grep -q "postgres: running"; then pg_owned=1; fi; \
	$(MAKE) --no-print-directory up && \
	CHAOS_FORM=full CHAOS_RESTART_POSTGRES=$${CHAOS_RESTART_POSTGRES:-$$pg_owned} \
		$(PY) -m pytest -p no:cacheprovider -q -s -m chaos tests/e2e/test_chaos.py

clean-topics: install up
	@$(PY) -m tests.support.topics

clean: down
	rm -rf .local $(VENV)
