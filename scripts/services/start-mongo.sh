#!/usr/bin/env bash
# Installs (once) and starts SecantusDB, a MongoDB-wire-compatible server from PyPI (WiredTiger
# storage, so data survives a restart), on 127.0.0.1.
# Usage: start-mongo.sh TOOLS_DIR DATA_DIR [PORT]
# Prints the connection URI on the last line of stdout; writes DATA_DIR/mongo.pid.
set -euo pipefail
set +m
tools=$1
data=$2
port=${3:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
venv="$tools/secantusdb-0.7.0b3"
if [ ! -x "$venv/bin/secantusd-py" ]; then
  echo "Installing SecantusDB 0.7.0b3 into $venv" >&2
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check SecantusDB==0.7.0b3 >&2
fi
mkdir -p "$data/db"
# cwd = DATA_DIR, so no stray ./secantusd.toml is picked up.
cd "$data"
setsid "$venv/bin/secantusd-py" --host 127.0.0.1 --port "$port" --storage-path "$data/db" </dev/null >>"$data/mongo.log" 2>&1 &
echo $! >"$data/mongo.pid"
cd - >/dev/null
for _ in $(seq 1 150); do
  if "$venv/bin/python" -c "import pymongo, sys; pymongo.MongoClient('127.0.0.1', $port, serverSelectionTimeoutMS=300).admin.command('ping')" >/dev/null 2>&1; then
    echo "mongodb://127.0.0.1:$port/?serverSelectionTimeoutMS=5000"
    exit 0
  fi
  sleep 0.2
done
echo "SecantusDB did not become ready; log:" >&2
cat "$data/mongo.log" >&2
exit 1
