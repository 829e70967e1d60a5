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
# Splunk HEC, Splunk SOAR and Grafana cannot be installed from any registry; their sinks are tested
# against the protocol receivers in crates/llm-security-testkit.
set -euo pipefail
cd "$(dirname "$0")/.."

# Formatting is part of the contract; it costs a second.
cargo fmt --all --check

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
trap 'scripts/services/stop-all.sh "$data"; scripts/services/stop-all.sh "$data/mongo"; scripts/services/stop-all.sh "$data/s3"; [ -n "$pgdata" ] && scripts/services/stop-all.sh "$pgdata" && rm -rf "$pgdata"; rm -rf "$data"' EXIT

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

if [ "$#" -eq 0 ]; then
  # All features: every sink, and the tests that need the services started above.
  cargo test --workspace --all-features
  # The examples check their own promises and exit non-zero when one fails. They are built with the
  # same workspace-wide features as the tests, so no dependency is compiled a second time (`cargo run
  # -p` would resolve features for one package and rebuild the AWS and database stacks).
  cargo build --quiet --workspace --all-features --bins
  bin="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')/debug"
  "$bin/example-quickstart"
  "$bin/sqlite"
  DATABASE_URL="$LLMSEC_TEST_POSTGRES_URL" "$bin/postgres"
  MONGODB_URI="$LLMSEC_TEST_MONGO_URL" "$bin/mongo"
  S3_ENDPOINT="$LLMSEC_TEST_S3_URL" S3_BUCKET=llmsec-events AWS_ACCESS_KEY_ID=llmsec AWS_SECRET_ACCESS_KEY=llmsec-secret \
    "$bin/s3"
  # Every parser of untrusted input under libFuzzer for a bounded time (0 skips it).
  fuzz_seconds="${LLMSEC_FUZZ_SECONDS:-15}"
  if [ "$fuzz_seconds" != 0 ]; then
    scripts/fuzz.sh "$fuzz_seconds"
  fi
else
  cargo test --all-features "$@"
fi
