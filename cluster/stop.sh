#!/usr/bin/env bash
# Stop the example cluster started by cluster/start.sh (state under cluster/data/ is kept;
# delete that directory to start from scratch).
set -uo pipefail
cd "$(dirname "$0")/.."
DATA=cluster/data
NGINX_DIR="$PWD/$DATA/nginx"
if [ -f "$NGINX_DIR/nginx.pid" ]; then
  nginx -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" -s quit 2>/dev/null || true
fi
for i in 1 2 3; do
  pidfile="$DATA/node$i.pid"
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    echo "node $i stopped"
  fi
  rm -f "$pidfile"
done
