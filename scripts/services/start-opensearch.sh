#!/usr/bin/env bash
# Installs (once) and starts osmem-server, an OpenSearch-API server from PyPI, on 127.0.0.1.
# Usage: start-opensearch.sh TOOLS_DIR DATA_DIR [PORT]
# Prints the base URL on the last line of stdout; writes DATA_DIR/opensearch.pid.
set -euo pipefail
set +m
tools=$1
data=$2
port=${3:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
mkdir -p "$tools" "$data"
venv="$tools/osmem-0.1.6"
bin=$(ls "$venv"/lib/python3*/site-packages/osmem_server/bin/osmem-server 2>/dev/null | head -n 1 || true)
if [ -z "$bin" ]; then
  echo "Installing osmem-server 0.1.6 into $venv" >&2
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check osmem-server==0.1.6 >&2
  bin=$(ls "$venv"/lib/python3*/site-packages/osmem_server/bin/osmem-server | head -n 1)
fi
# -no-stdin-watch: otherwise it exits when its stdin closes. -no-ja: no Japanese analyzer (18 MiB RSS).
setsid "$bin" -addr "127.0.0.1:$port" -no-stdin-watch -no-ja </dev/null >"$data/opensearch.log" 2>&1 &
echo $! >"$data/opensearch.pid"
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$port/_cluster/health" >/dev/null 2>&1; then
    echo "http://127.0.0.1:$port"
    exit 0
  fi
  sleep 0.1
done
echo "osmem-server did not become ready; log:" >&2
cat "$data/opensearch.log" >&2
exit 1
