#!/usr/bin/env bash
# Load benchmark of the server on loopback: wrk (Debian) POSTs 1 KB prompts to
# /api/security/analyze. Bounded in time; stops the server afterwards.
# Usage: scripts/bench/load.sh [SECONDS=20] [CONNECTIONS=64] [THREADS=2]
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-20}
conns=${2:-64}
threads=${3:-2}
command -v wrk >/dev/null || { apt-get update -qq >/dev/null; apt-get install -y -qq --no-install-recommends wrk >/dev/null; }
cargo build --release -q -p llm-security-cli
data=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
LLM_SECURITY_DATA_DIR="$data" ./target/release/llm-security serve --listen "127.0.0.1:$port" 2>"$data/server.log" &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
wrk -t"$threads" -c"$conns" -d"${secs}s" --latency -s scripts/bench/analyze.lua "http://127.0.0.1:$port/api/security/analyze"
