#!/usr/bin/env bash
# Stops every service started with DATA_DIR (by the *.pid files there): TERM, then KILL after 10 s.
set -uo pipefail
data=$1
# A restarted PostgreSQL has a new PID; its own postmaster.pid is always current.
if [ -f "$data/pgdata/postmaster.pid" ]; then
  head -n 1 "$data/pgdata/postmaster.pid" >"$data/postgres.pid"
fi
for pidfile in "$data"/*.pid; do
  [ -e "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  # PostgreSQL's fast shutdown is SIGINT (SIGTERM waits for every client to leave).
  signal=TERM
  [ "$(basename "$pidfile")" = postgres.pid ] && signal=INT
  kill -"$signal" "$pid" 2>/dev/null || continue
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
done
