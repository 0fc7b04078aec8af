#!/usr/bin/env bash
# Start the example 3-node cluster on 127.0.0.1:8082-8084 behind nginx on 127.0.0.1:8080.
# Run from anywhere; state lives under cluster/data/. Stop with cluster/stop.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
LB_PORT=${LB_PORT:-8080}
DATA=cluster/data
mkdir -p "$DATA" && chmod 700 "$DATA"

cargo build --release --quiet
BIN=target/release/access-node

# One join key for the whole cluster, made once and kept 0600.
if [ ! -s "$DATA/join.key" ]; then
  (umask 077; head -c 32 /dev/urandom | base64 | tr -d '\n=' > "$DATA/join.key")
fi
export ACCESS_NODE_SECURITY_JOIN_KEY="$(cat "$DATA/join.key")"
export ACCESS_NODE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD="${ACCESS_NODE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD:-password}"

wait_healthy() { # url
  for _ in $(seq 1 300); do
    curl -fsS "$1/healthz" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "node at $1 did not become healthy; see $DATA/*.log" >&2
  return 1
}

for i in 1 2 3; do
  if [ -f "$DATA/node$i.pid" ] && kill -0 "$(cat "$DATA/node$i.pid")" 2>/dev/null; then
    echo "node $i already running"; continue
  fi
  nohup "$BIN" serve --config "cluster/node$i.yml" >>"$DATA/node$i.log" 2>&1 &
  echo $! > "$DATA/node$i.pid"
  # Start in order: node 1 initialises, the others join it.
  wait_healthy "http://127.0.0.1:$((8081 + i))"
  echo "node $i up on 127.0.0.1:$((8081 + i))"
done

NGINX_DIR="$PWD/$DATA/nginx"
mkdir -p "$NGINX_DIR/tmp"
servers=""
for i in 1 2 3; do servers+="        server 127.0.0.1:$((8081 + i)) max_fails=1 fail_timeout=2s;"$'\n'; done
sed -e "s|@PREFIX@|$NGINX_DIR|g" -e "s|@LISTEN@|127.0.0.1:$LB_PORT|g" cluster/nginx.conf.template \
  | awk -v s="$servers" '{ if ($0 == "@SERVERS@") printf "%s", s; else print }' > "$NGINX_DIR/nginx.conf"
if [ -f "$NGINX_DIR/nginx.pid" ] && kill -0 "$(cat "$NGINX_DIR/nginx.pid")" 2>/dev/null; then
  nginx -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" -s reload
else
  nginx -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf"
fi
echo "load balancer on http://127.0.0.1:$LB_PORT (admin password: \$ACCESS_NODE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD, default 'password')"
