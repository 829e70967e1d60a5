#!/usr/bin/env bash
# Installs (once, Debian's rabbitmq-server, ~15 s) and starts a private RabbitMQ broker on
# 127.0.0.1, with every file under DATA_DIR and its own epmd (so nothing listens on all
# interfaces and nothing outlives stop-all.sh).
# Usage: start-rabbitmq.sh DATA_DIR [PORT]
# Prints amqp://guest:guest@127.0.0.1:PORT/%2f on the last line; writes DATA_DIR/rabbitmq.pid
# and DATA_DIR/epmd.pid, DATA_DIR/rabbitmq.env (source it to use rabbitmqctl on this node), and
# DATA_DIR/restart.sh, which stops the node and starts it again on the same port and data.
set -euo pipefail
set +m
mkdir -p "$1"
data=$(cd "$1" && pwd)
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=${2:-$(free_port)}
if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
  echo "Installing RabbitMQ from Debian" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rabbitmq-server >/dev/null
fi
mkdir -p "$data/mnesia" "$data/log" "$data/home"
epmd_port=$(free_port)
dist_port=$(free_port)
cat >"$data/rabbitmq.conf" <<CONF
listeners.tcp.1 = 127.0.0.1:$port
loopback_users = none
CONF
echo "[]." >"$data/enabled_plugins"
cat >"$data/rabbitmq.env" <<ENV
export HOME='$data/home'
export RABBITMQ_NODENAME='rabbit_$port@localhost'
export RABBITMQ_MNESIA_BASE='$data/mnesia'
export RABBITMQ_LOG_BASE='$data/log'
export RABBITMQ_PID_FILE='$data/beam.pid'
export RABBITMQ_CONFIG_FILE='$data/rabbitmq.conf'
export RABBITMQ_ENABLED_PLUGINS_FILE='$data/enabled_plugins'
export RABBITMQ_DIST_PORT='$dist_port'
export ERL_EPMD_ADDRESS=127.0.0.1
export ERL_EPMD_PORT='$epmd_port'
export RABBITMQ_SERVER_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1}'
export RABBITMQ_CTL_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1}'
ENV
# shellcheck disable=SC1091
. "$data/rabbitmq.env"
setsid epmd -address 127.0.0.1 -port "$epmd_port" </dev/null >>"$data/epmd.log" 2>&1 &
echo $! >"$data/epmd.pid"
setsid /usr/lib/rabbitmq/bin/rabbitmq-server </dev/null >>"$data/rabbitmq.log" 2>&1 &
echo $! >"$data/rabbitmq.pid"
here="$(cd "$(dirname "$0")" && pwd)"
printf '#!/usr/bin/env bash\nset -euo pipefail\n%q %q\n%q %q %q >/dev/null\n' \
  "$here/stop-all.sh" "$data" "$here/start-rabbitmq.sh" "$data" "$port" >"$data/restart.sh"
chmod +x "$data/restart.sh"
for _ in $(seq 1 300); do
  if python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null \
    && /usr/lib/rabbitmq/bin/rabbitmqctl -q await_startup --timeout 1 >/dev/null 2>&1; then
    echo "amqp://guest:guest@127.0.0.1:$port/%2f"
    exit 0
  fi
  sleep 0.2
done
echo "RabbitMQ did not become ready; log:" >&2
tail -n 50 "$data/rabbitmq.log" >&2
exit 1
