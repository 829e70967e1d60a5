#!/usr/bin/env bash
# Installs (once: ~6 min of cargo build, cached in TOOLS_DIR) and starts Tansu, a Kafka-API
# broker from crates.io, with in-memory storage, on 127.0.0.1.
# Usage: start-kafka.sh TOOLS_DIR DATA_DIR [PORT] [STORAGE=memory://tansu/]
# STORAGE s3://BUCKET/ keeps topics in an S3-compatible store (set AWS_ENDPOINT, AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION, AWS_ALLOW_HTTP=true), so they survive a restart.
# Prints 127.0.0.1:PORT on the last line; writes DATA_DIR/kafka.pid, and DATA_DIR/restart.sh,
# which stops this broker and starts it again on the same port and storage.
# Tansu does not auto-create topics: tests create theirs with the admin API.
set -euo pipefail
set +m
mkdir -p "$1" "$2"
tools=$(cd "$1" && pwd)
data=$(cd "$2" && pwd)
port=${3:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
storage=${4:-memory://tansu/}
bin="$tools/tansu/bin/tansu"
if [ ! -x "$bin" ]; then
  echo "Building tansu 0.6.0 into $tools/tansu (about 6 minutes)" >&2
  CARGO_PROFILE_DEV_DEBUG=0 CARGO_TARGET_DIR="$tools/tansu-target" \
    cargo install -q tansu --version 0.6.0 --locked --features dynostore --debug --root "$tools/tansu" >&2
  rm -rf "$tools/tansu-target"
fi
mkdir -p "$data"
# cwd = DATA_DIR: tansu reads ./.env.
cd "$data"
setsid "$bin" broker --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" \
  --storage-engine "$storage" </dev/null >>"$data/kafka.log" 2>&1 &
echo $! >"$data/kafka.pid"
cd - >/dev/null
here="$(cd "$(dirname "$0")" && pwd)"
{
  echo "#!/usr/bin/env bash"
  echo "set -euo pipefail"
  for v in AWS_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION AWS_ALLOW_HTTP; do
    [ -n "${!v:-}" ] && echo "export $v='${!v}'"
  done
  echo "'$here/stop-all.sh' '$data'"
  echo "'$here/start-kafka.sh' '$tools' '$data' '$port' '$storage' >/dev/null"
} >"$data/restart.sh"
chmod +x "$data/restart.sh"
for _ in $(seq 1 100); do
  if python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null; then
    echo "127.0.0.1:$port"
    exit 0
  fi
  sleep 0.1
done
echo "tansu did not become ready; log:" >&2
tail -n 50 "$data/kafka.log" >&2
exit 1
