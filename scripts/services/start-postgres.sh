#!/usr/bin/env bash
# Starts a throwaway PostgreSQL (Debian's postgresql-15, installed if missing) on 127.0.0.1.
# Usage: start-postgres.sh DATA_DIR [PORT] [DB=llmsec] [USER=llmsec] [PASSWORD=llmsec-pw]
# Prints the connection URL on the last line of stdout; writes DATA_DIR/postgres.pid.
set -euo pipefail
set +m
data=$1
port=${2:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
db=${3:-llmsec}
user=${4:-llmsec}
password=${5:-llmsec-pw}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bin" ]; then
  echo "Installing PostgreSQL from Debian" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 postgresql-client-15 >/dev/null
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
pgdata="$data/pgdata"
mkdir -p "$pgdata"
chown -R postgres:postgres "$data"
chmod 755 "$data"
chmod 700 "$pgdata"
fail() { echo "PostgreSQL did not start: $1" >&2; cat "$data/$1" >&2 2>/dev/null; exit 1; }
# PostgreSQL refuses to run as root, so it runs as the postgres user.
su postgres -s /bin/sh -c "'$bin/initdb' -D '$pgdata' --auth-host=scram-sha-256 --auth-local=trust --no-sync -U postgres" >"$data/initdb.log" 2>&1 || fail initdb.log
su postgres -s /bin/sh -c "'$bin/pg_ctl' -D '$pgdata' -l '$data/postgres.log' -w -o \"-c listen_addresses=127.0.0.1 -p $port -k '$data' -c fsync=off -c synchronous_commit=off -c full_page_writes=off\" start" >&2 || fail postgres.log
head -n 1 "$pgdata/postmaster.pid" >"$data/postgres.pid"
su postgres -s /bin/sh -c "'$bin/psql' -h '$data' -p $port -U postgres -q -c \"CREATE ROLE $user LOGIN PASSWORD '$password'\" -c \"CREATE DATABASE $db OWNER $user\"" >&2
echo "$bin" >"$data/postgres.bin"
echo "postgres://$user:$password@127.0.0.1:$port/$db"
