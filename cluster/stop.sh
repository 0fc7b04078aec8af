#!/usr/bin/env bash
# Stop the example cluster started by cluster/start.sh (state under cluster/data/ is kept;
# delete that directory to start from scratch). See cluster/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=cluster/data
NGINX_DIR="$PWD/$DATA/nginx"

# Same test as start.sh: only signal a pid that still runs what we started, never a process
# that reused the pid of a stale file.
running() { # pidfile, text its command line must contain
  local pid
  [ -f "$1" ] && pid=$(cat "$1") && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
    [[ "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" == *"$2"* ]]
}

if running "$NGINX_DIR/nginx.pid" nginx; then
  pid=$(cat "$NGINX_DIR/nginx.pid")
  nginx -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" -s quit 2>/dev/null || kill -QUIT "$pid" 2>/dev/null || true
  # Wait until the port is free, so start.sh right after does not find it taken.
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  echo "nginx stopped"
fi
for i in 1 2 3; do
  pidfile="$DATA/node$i.pid"
  if running "$pidfile" "serve --config cluster/node$i.yml"; then
    pid=$(cat "$pidfile")
    kill -TERM "$pid" 2>/dev/null || true
    # SIGTERM lets the node flush; after 5 s it is killed.
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    echo "node $i stopped"
  fi
  rm -f "$pidfile"
done
