# Build, check, run and test Workpool.
#
# Every target works from a fresh clone: the Python venv (.venv) and the
# pinned buf CLI (tools/buf) are installed on first use and reinstalled only
# when the pyproject.toml, package.json or package-lock.json files they come
# from change.

PYTHON ?= python3.11
VENV := .venv
VENV_STAMP := $(VENV)/.installed

BUF_DIR := tools/buf
BUF := $(BUF_DIR)/node_modules/.bin/buf
BUF_STAMP := $(BUF_DIR)/node_modules/.installed

# The benchmark's peers: the bench extra of pyproject.toml (Celery, Temporal,
# py-spy) and BullMQ from bench/peers/bullmq/package-lock.json.
BENCH_STAMP := $(VENV)/.bench-installed
BULLMQ_DIR := bench/peers/bullmq
BULLMQ_STAMP := $(BULLMQ_DIR)/node_modules/.installed

# Input that `buf breaking` compares proto/ against. When unset, the check
# uses the previous commit (HEAD~1), and it is skipped when there is no
# previous commit or that commit has no proto/ or buf.yaml.
BUF_BREAKING_AGAINST ?=

# Extra arguments for `workpool serve`, pytest and the demo, for example
# `make test PYTEST_ARGS='-k retry -x'` or `make demo DEMO_ARGS=--once`.
SERVE_ARGS ?=
PYTEST_ARGS ?=
DEMO_ARGS ?=

# Set to 1 to let `make test` pass when pytest collects no tests (exit 5).
ALLOW_NO_TESTS ?=

.DEFAULT_GOAL := help
.PHONY: help deps venv serve gen gen-sdks check-gen buf-lint lint test pytest promtool demo bench bench-quick bench-soak bench-deps clean sdks sdk-typescript sdk-go sdk-java conformance test-faults

help:
	@echo "Targets:"
	@echo "  serve      start the server with its defaults (SQLite ./workpool.db,"
	@echo "             gRPC 127.0.0.1:50051, metrics 127.0.0.1:9464)"
	@echo "  test       check-gen, buf-lint, lint, the pytest suite, the SDKs' checks"
	@echo "             and the conformance suite in Python, TypeScript, Go and Java"
	@echo "  sdks       install, check and build the TypeScript, Go and Java SDKs"
	@echo "  test-faults  the fault and fuzz suite alone, 1,000 fuzz cases per RPC"
	@echo "  conformance  run the conformance suite in every language (needs sdks)"
	@echo "  deps       install the Python venv and the pinned buf CLI"
	@echo "  venv       create .venv and install the SDK and the server (dev extra)"
	@echo "  gen        regenerate the Python code in sdk/python/src/workpool/v1"
	@echo "  gen-sdks   regenerate the TypeScript, Go and Java code (needs sdks)"
	@echo "  check-gen  fail if the committed generated code differs from proto/"
	@echo "  buf-lint   buf lint, buf format and buf breaking on proto/"
	@echo "  lint       ruff check and ruff format --check"
	@echo "  promtool   install promtool into tools/promtool for the alert-rule tests"
	@echo "  demo       run the demo, then keep it running until Ctrl-C"
	@echo "             (DEMO_ARGS=--once exits after its checks)"
	@echo "  bench      run the benchmark beside its floors and peers (bench/run.py),"
	@echo "             about 15 minutes; writes bench/results/latest.json and the"
	@echo "             tables and plots of docs/benchmarks.md"
	@echo "  bench-quick  a shorter run (about 5 minutes) to bench/results/quick.json"
	@echo "  bench-soak   30 minutes of steady load to bench/results/soak.json"
	@echo "  bench-deps   install the benchmark's peers: redis-server (apt, as root),"
	@echo "             the bench extra into .venv, BullMQ with npm ci"
	@echo "  clean      remove .venv, tools/buf/node_modules, build output and caches"

deps: venv $(BUF_STAMP)

venv: $(VENV_STAMP)

# One pip call for both projects, so that the server's pin on
# workpool-sdk==0.1.0 is satisfied by the editable sdk/python.
$(VENV_STAMP): pyproject.toml sdk/python/pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -e sdk/python -e '.[dev]'
	touch $@

# The buf npm package runs the native binary from its platform package
# (@bufbuild/buf-linux-x64 on Linux x86-64), so its postinstall script is not
# needed.
$(BUF_STAMP): $(BUF_DIR)/package.json $(BUF_DIR)/package-lock.json
	cd $(BUF_DIR) && npm ci --ignore-scripts
	touch $@

# Passes no flags, so that every setting comes from the server's own defaults
# and configuration and not from this Makefile.
serve: venv
	$(VENV)/bin/workpool serve $(SERVE_ARGS)

gen: venv $(BUF_STAMP)
	bash scripts/gen_python.sh

check-gen: venv $(BUF_STAMP)
	bash scripts/check_generated.sh

buf-lint: $(BUF_STAMP)
	$(BUF) lint
	$(BUF) format --diff --exit-code
	@against='$(BUF_BREAKING_AGAINST)'; \
	if [ -z "$$against" ]; then \
	  previous=$$(git rev-parse --verify --quiet 'HEAD~1^{commit}' || true); \
	  if [ -n "$$previous" ] \
	    && git cat-file -e "$$previous:proto" 2>/dev/null \
	    && git cat-file -e "$$previous:buf.yaml" 2>/dev/null; then \
	    against=".git#ref=$$previous"; \
	  fi; \
	fi; \
	if [ -z "$$against" ]; then \
	  echo "buf-lint: skipping buf breaking: no previous commit with proto/ and buf.yaml to compare against"; \
	else \
	  echo "$(BUF) breaking --against '$$against'"; \
	  $(BUF) breaking --against "$$against"; \
	fi

# Runs both checks before failing, so one run reports every problem.
lint: venv
	@status=0; \
	echo "$(VENV)/bin/ruff check ."; \
	$(VENV)/bin/ruff check . || status=1; \
	echo "$(VENV)/bin/ruff format --check ."; \
	$(VENV)/bin/ruff format --check . || status=1; \
	exit $$status

# Tests run in one process. See "Development" in README.md for why there is
# no pytest-xdist.
# The server tests, then each SDK's own checks and the conformance suite in
# all four languages against one real server.
test: venv check-gen buf-lint lint promtool pytest sdks conformance

pytest: venv
	@echo "$(VENV)/bin/pytest $(PYTEST_ARGS)"; \
	status=0; \
	$(VENV)/bin/pytest $(PYTEST_ARGS) || status=$$?; \
	if [ "$$status" -eq 5 ] && [ "$(ALLOW_NO_TESTS)" = 1 ]; then \
	  echo "make test: pytest collected no tests; passing because ALLOW_NO_TESTS=1"; \
	  status=0; \
	fi; \
	exit $$status

demo: venv
	$(VENV)/bin/python -m demo $(DEMO_ARGS)

bench: bench-deps
	$(VENV)/bin/python bench/run.py

# 3 repetitions instead of 5, fewer items and smaller backlog depths.
bench-quick: bench-deps
	$(VENV)/bin/python bench/run.py --quick

bench-soak: bench-deps
	$(VENV)/bin/python bench/run.py --soak 30

# redis-server comes from Debian. Without root or apt-get the Celery and BullMQ
# peers are skipped, and the run says so.
bench-deps: $(BENCH_STAMP) $(BULLMQ_STAMP)
	@if ! command -v redis-server >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server; \
	  else \
	    echo "bench-deps: redis-server is missing and this is not root with apt-get;" \
	      "the Celery and BullMQ peers will be skipped"; \
	  fi; \
	fi

$(BENCH_STAMP): $(VENV_STAMP) pyproject.toml
	$(VENV)/bin/python -m pip install -e sdk/python -e '.[dev,bench]'
	touch $@

# Without npm the BullMQ peer is skipped, and the run says so. --ignore-scripts
# skips the native build of msgpackr-extract; msgpackr then runs in JavaScript.
$(BULLMQ_STAMP): $(BULLMQ_DIR)/package.json $(BULLMQ_DIR)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  cd $(BULLMQ_DIR) && npm ci --ignore-scripts && touch node_modules/.installed; \
	else \
	  echo "bench-deps: npm not found; the BullMQ peer will be skipped"; \
	fi

# Leaves workpool.db and other data files alone.
clean:
	rm -rf $(VENV) $(BUF_DIR)/node_modules build dist .pytest_cache .ruff_cache
	find . -path ./.git -prune -o -type d \
	  \( -name __pycache__ -o -name '*.egg-info' \) -prune -exec rm -rf {} +

# Each SDK's ci.sh installs its dependencies from the registry when missing,
# checks its generated code against proto/, builds, runs its unit tests and
# builds its conformance runner.
sdks: sdk-typescript sdk-go sdk-java

sdk-typescript: venv $(BUF_STAMP)
	bash sdk/typescript/ci.sh

sdk-go: venv $(BUF_STAMP)
	bash sdk/go/ci.sh

sdk-java: venv $(BUF_STAMP)
	bash sdk/java/ci.sh

# Regenerate the TypeScript, Go and Java code after a proto/ change. It needs
# the plugins that `make sdks` installs.
gen-sdks: $(BUF_STAMP)
	$(BUF) generate --template buf.gen.typescript.yaml
	$(BUF) generate --template buf.gen.go.yaml
	$(BUF) generate --template buf.gen.java.yaml

# promtool checks docs/prometheus-alerts.yml in tests/test_prometheus_rules.py.
# The script skips the download when promtool is present, and exits 0 with a
# message when it cannot fetch it, so the tests skip instead of failing.
promtool:
	bash scripts/install_promtool.sh

# The fault and fuzz suite alone, with the thorough fuzz profile (1,000 cases
# per RPC and storage engine); `make test` runs it with the quick profile.
test-faults: venv
	WORKPOOL_FUZZ_PROFILE=thorough $(VENV)/bin/pytest -m faults $(PYTEST_ARGS)

conformance: venv
	$(VENV)/bin/python tests/conformance/run.py --require python,typescript,go,java --examples
