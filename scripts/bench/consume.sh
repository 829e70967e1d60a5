#!/usr/bin/env bash
# Throughput of `llm-security consume` (one instance) on a local Kafka-API broker (Tansu, memory
# storage): produce N prompts to a 4-partition topic, then time one instance analyzing all of
# them and producing every verdict with acks=all. Bounded; stops the broker afterwards.
# Usage: scripts/bench/consume.sh [N=100000]
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-100000}
tools="${LLMSEC_TOOLS_DIR:-$PWD/target/test-tools}"
cargo build --release -q -p llm-security-cli -p example-streams
data=$(mktemp -d)
trap 'scripts/services/stop-all.sh "$data"; rm -rf "$data"' EXIT
brokers=$(scripts/services/start-kafka.sh "$tools" "$data" | tail -n 1)
"$tools/tansu/bin/tansu" topic create prompts --broker "tcp://$brokers" --partitions 4 >/dev/null
"$tools/tansu/bin/tansu" topic create verdicts --broker "tcp://$brokers" --partitions 4 >/dev/null
./target/release/prompt_load "$brokers" prompts "$n"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
./target/release/llm-security consume --brokers "$brokers" --group bench --input-topic prompts \
  --output-topic verdicts --max-messages "$n"
