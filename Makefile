# Two entry points for a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install system-deps demo test check lint clean kafka kafka-jars kube-bins

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# The package's bytecode, compiled ahead (only what changed): where PYTHONDONTWRITEBYTECODE is
# set, as on these machines, no import writes it, and every process the stack and the tests
# start (processors, standby workers, CLI calls) compiled the modules it imports again from
# source, ~0.2 s of CPU each. A .pyc that exists is still read, and checked against its source.
install: $(BIN)/.installed system-deps
	@$(BIN)/python -m compileall -q -j 0 pachstream >/dev/null

# bubblewrap sandboxes pipeline code; kcat is the ingest tests' producer; busybox-static is
# the shell of a sandbox that runs in an image, which may have none; chromium and
# chromium-driver run the console's browser test (Debian packages).
# Installed when absent and possible; without them those tests are skipped, not failed.
system-deps:
	@command -v bwrap >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    { apt-get install -y -q bubblewrap >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q bubblewrap >/dev/null 2>&1; }; }; } || \
	  echo "note: bubblewrap could not be installed; sandbox tests will be skipped"
	@command -v kcat >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    { apt-get install -y -q kcat >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q kcat >/dev/null 2>&1; }; }; } || \
	  echo "note: kcat could not be installed; the ingest-topic test will be skipped"
	@dpkg -s busybox-static >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    { apt-get install -y -q busybox-static >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q busybox-static >/dev/null 2>&1; }; }; } || \
	  echo "note: busybox-static could not be installed; image sandbox tests will be skipped"
	@{ command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; } || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    { apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null 2>&1 && \
	        apt-get install -y -q chromium chromium-driver >/dev/null 2>&1; }; }; } || \
	  echo "note: chromium could not be installed; the console's browser test will be skipped"

demo: install
	$(BIN)/python -m pachstream.demo

# Apache Kafka, the second broker of the tests: its jars, from Maven Central by Maven, into
# ~/.cache/pachstream/kafka-<version>/ (once per machine; needs Java 17+ and Maven).
kafka: install
	$(BIN)/python -m pachstream.testing.kafka fetch

# The same, never failing: without Java, Maven or the jars, the [kafka] test runs are skipped.
kafka-jars: install
	@$(BIN)/python -m pachstream.testing.kafka fetch || \
	  echo "note: the [kafka] test runs will be skipped"

# The test Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kwok), built with Go at nice 19 from deploy/testing/kube/ into
# ~/.cache/pachstream/kube-<version>/ (once per machine; a cold build takes 20 to 40 minutes
# on 2 shared cores). Never failing: without Go or a build, its tests are skipped. Not part of
# `make test` yet.
kube-bins: install
	@$(BIN)/python -m pachstream.testing.kube fetch || \
	  echo "note: the Kubernetes control plane tests will be skipped"

# The suite once, and the tests of KAFKA_SUBSET (tests/conftest.py) again on Apache Kafka.
# `check` first: a lint or type error fails the run before any server starts.
test: install check kafka-jars
	$(BIN)/pytest -q -p no:cacheprovider --broker both --durations=30

lint: install
	$(BIN)/ruff check pachstream tests

# Lint, the architecture contract (layers, private modules, no cycles: [tool.importlinter]),
# then mypy --strict on the package (all configured in pyproject.toml).
check: lint
	$(BIN)/lint-imports
	$(BIN)/mypy pachstream

clean:
	rm -rf $(VENV) .pachstream
