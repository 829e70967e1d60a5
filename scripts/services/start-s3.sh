#!/usr/bin/env bash
# Installs (once, ~3 min of cargo build) and starts s3s-fs, an S3-compatible server that verifies
# SigV4 signatures and keeps objects as files, on 127.0.0.1. Creates BUCKET.
# Usage: start-s3.sh TOOLS_DIR DATA_DIR [PORT] [BUCKET=llmsec-events] [ACCESS_KEY=llmsec] [SECRET_KEY=llmsec-secret]
# Prints the endpoint URL on the last line of stdout; writes DATA_DIR/s3.pid.
set -euo pipefail
set +m
tools=$1
data=$2
port=${3:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
bucket=${4:-llmsec-events}
ak=${5:-llmsec}
sk=${6:-llmsec-secret}
bin="$tools/s3s-fs/bin/s3s-fs"
if [ ! -x "$bin" ]; then
  echo "Building s3s-fs 0.14.1 into $tools/s3s-fs (about 3 minutes)" >&2
  CARGO_TARGET_DIR="$tools/s3s-target" cargo install -q s3s-fs --version 0.14.1 --features binary --locked --root "$tools/s3s-fs" >&2
  # The build directory is only a cache for a rebuild that never comes; it holds ~400 MB.
  rm -rf "$tools/s3s-target"
fi
mkdir -p "$data/root/$bucket"
setsid "$bin" --host 127.0.0.1 --port "$port" --access-key "$ak" --secret-key "$sk" "$data/root" </dev/null >>"$data/s3.log" 2>&1 &
echo $! >"$data/s3.pid"
for _ in $(seq 1 100); do
  if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
    echo "http://127.0.0.1:$port"
    exit 0
  fi
  sleep 0.1
done
echo "s3s-fs did not become ready; log:" >&2
cat "$data/s3.log" >&2
exit 1
