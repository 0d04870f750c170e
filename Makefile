# A fresh clone needs only python3 (3.11+): every target sets up .venv/ itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
GENERATED := crypto_service/generated/crypto/__init__.py

.PHONY: setup gen run migrate seed test bench clean

setup: $(STAMP) $(GENERATED)

$(STAMP): pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(GENERATED): $(STAMP) $(wildcard proto/*.proto)
	$(BIN)/python -m crypto_service.codegen

gen: $(STAMP)
	$(BIN)/python -m crypto_service.codegen

migrate: setup
	$(BIN)/crypto migrate

seed: setup
	$(BIN)/crypto seed

# Set-up, migrations, the bundled coins when the database has none, then serve.
run: setup
	$(BIN)/crypto migrate
	$(BIN)/crypto seed --if-empty
	$(BIN)/crypto serve

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Reads against a bare grpclib baseline, the read tail while prices move, streams, and writes
# against pgbench. Needs h2load (apt-get install -y nghttp2-client); the pgbench comparison needs
# pgbench (apt-get install -y postgresql-client) and PostgreSQL on 127.0.0.1:5432, and is
# skipped, saying so, without them. Its spread workload uses a Go load generator built offline
# (apt-get install -y golang-go golang-google-grpc-dev golang-google-protobuf-dev
# golang-github-golang-protobuf-1-5-dev), and a Python load, saying so, without them.
bench: setup
	@command -v pgbench >/dev/null || echo "pgbench not found: the Transfer/pgbench comparison \
	runs without pgbench (apt-get install -y postgresql-client to add it)"
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python scripts/bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) crypto_service/generated build *.egg-info
