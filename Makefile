# Two entry points for a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install system-deps demo test lint clean kafka kafka-jars

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(BIN)/.installed system-deps

# bubblewrap sandboxes pipeline code; kcat is the ingest tests' producer (Debian packages).
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

# The suite once, and the tests of KAFKA_SUBSET (tests/conftest.py) again on Apache Kafka.
test: install kafka-jars
	$(BIN)/pytest -q -p no:cacheprovider --broker both

lint: install
	$(BIN)/ruff check pachstream tests

clean:
	rm -rf $(VENV) .pachstream
