#!/usr/bin/env bash
# Stops every service started with DATA_DIR (by the *.pid files there): TERM, then KILL after 10 s.
set -uo pipefail
data=$1
for pidfile in "$data"/*.pid; do
  [ -e "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  kill -TERM "$pid" 2>/dev/null || continue
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
done
