# NewRemora: `make run` serves the API, `make test` checks everything. Both set themselves up.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# ansible-runner finds ansible-playbook on PATH: the venv's bin comes first.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: run test check fmt bench bench-deps screenshots install runtime-deps system-deps lint typecheck clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

install: $(STAMP)

# Jobs need OpenSSH's client (ssh, ssh-agent, ssh-add) and setpriv on this machine (Debian packages; installed
# when missing, as root). sshpass is not needed: passwords reach ssh through its askpass hook (docs/security.md).
runtime-deps:
	@command -v ssh >/dev/null && command -v ssh-agent >/dev/null && command -v setpriv >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      openssh-client util-linux >/dev/null; \
	  else echo "warning: install openssh-client and util-linux to run jobs" >&2; fi; }

run: install runtime-deps
	$(BIN)/newremora migrate
	$(BIN)/newremora serve

system-deps:
	bash tests/harness/install-system-deps.sh

# No OCI builder can pull a base image on the CI machine: the Containerfile is linted (hadolint), not built.
lint: install
	$(BIN)/ruff check app migrations tests bench
	$(BIN)/ruff format --check app migrations tests bench
	$(BIN)/hadolint Containerfile

typecheck: install
	$(BIN)/mypy

test: install system-deps lint typecheck
	$(BIN)/python -m pytest

# The inner loop while editing: the lint and type checks of make test, then every test not marked slow.
# Unlike make test it installs no system package (run make test or make system-deps once, as root).
check: install
	$(BIN)/ruff check app migrations tests bench
	$(BIN)/ruff format --check app migrations tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest -m "not slow" -q

# Formats and applies ruff's safe fixes (what make check and the pre-commit hooks would refuse).
fmt: install
	$(BIN)/ruff format app migrations tests bench
	$(BIN)/ruff check --fix app migrations tests bench

# The API read benchmark loads the service with wrk (Debian package; installed when missing, as root).
bench-deps:
	@command -v wrk >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null; \
	  else echo "error: install wrk (apt-get install wrk) to run bench.api_reads" >&2; exit 1; fi; }

# Benchmarks print their figures and ratios against a baseline measured in the same run (docs/benchmarks.md).
bench: install system-deps bench-deps
	$(BIN)/python -m bench.throughput
	$(BIN)/python -m bench.latency
	$(BIN)/python -m bench.sse_latency --interval 0.5 --duration 5
	$(BIN)/python -m bench.sse_latency --interval 0.1 --duration 10
	$(BIN)/python -m bench.memory
	$(BIN)/python -m bench.api_reads
	$(BIN)/python -m bench.sse_fanout
	$(BIN)/python -m bench.prune

# The README's pictures of the page: the browser test saves them as it goes (same scenario as in make test).
screenshots: install system-deps
	$(BIN)/python -m pytest tests/e2e/test_browser.py --screenshots docs/screenshots -q

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache
