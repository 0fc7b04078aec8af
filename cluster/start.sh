#!/usr/bin/env bash
# Start the example 3-node cluster on 127.0.0.1:8082-8084 behind nginx on 127.0.0.1:8080.
# Run from anywhere; state lives under cluster/data/. Stop with cluster/stop.sh.
# See cluster/README.md. Environment:
#   LB_PORT          nginx port (default 8080)
#   NODE_BIN         binary to run instead of building target/release/access-node
set -euo pipefail
cd "$(dirname "$0")/.."
LB_PORT=${LB_PORT:-8080}
DATA=cluster/data
NGINX_DIR="$PWD/$DATA/nginx"

die() { echo "cluster/start.sh: $*" >&2; exit 1; }

for cmd in curl nginx; do
  command -v "$cmd" >/dev/null || die "needs $cmd (apt-get install -y $cmd)"
done

# Each node's address comes from its own config file, so the two cannot disagree.
addr_of() { # node number -> 127.0.0.1:PORT
  sed -n 's/^ *listen: *"\{0,1\}\([^" #]*\)"\{0,1\}.*/\1/p' "cluster/node$1.yml" | head -n1
}

home_of() { # node number -> its server.home
  sed -n 's/^ *home: *"\{0,1\}\([^" #]*\)"\{0,1\}.*/\1/p' "cluster/node$1.yml" | head -n1
}

# True if the pid in FILE is alive and its command line contains TEXT: a stale pid file after a reboot may name an
# unrelated process that reused the pid.
running() { # pidfile, text its command line must contain
  local pid
  [ -f "$1" ] && pid=$(cat "$1") && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
    [[ "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" == *"$2"* ]]
}

# True if something listens on PORT. Without this, a node that cannot bind exits while whatever
# holds its port (say a single node from `cargo run`) answers /healthz in its place.
port_busy() { # port
  if command -v ss >/dev/null; then
    [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}
who_listens() { # port -> " by python3 (pid 123)" when ss can tell
  command -v ss >/dev/null || return 0
  ss -Hltnp "sport = :$1" 2>/dev/null |
    sed -n 's/.*users:(("\([^"]*\)",pid=\([0-9]*\).*/ by \1 (pid \2)/p' | head -n1
}

# Check every port before starting anything. Ports held by our own running nodes or nginx are
# fine: a second start.sh leaves those alone.
busy=()
for i in 1 2 3; do
  running "$DATA/node$i.pid" "serve --config cluster/node$i.yml" && continue
  port=$(addr_of "$i"); port=${port##*:}
  [ -n "$port" ] || die "no server.listen in cluster/node$i.yml"
  port_busy "$port" && busy+=("port $port (node $i) is already in use$(who_listens "$port")")
done
if ! running "$NGINX_DIR/nginx.pid" nginx && port_busy "$LB_PORT"; then
  busy+=("port $LB_PORT (nginx; set LB_PORT to use another) is already in use$(who_listens "$LB_PORT")")
fi
if [ ${#busy[@]} -gt 0 ]; then
  printf 'cluster/start.sh: %s\n' "${busy[@]}" >&2
  die "nothing started; stop what holds the port (cluster/stop.sh if it is an earlier cluster)"
fi

mkdir -p "$DATA" && chmod 700 "$DATA"
if [ -n "${NODE_BIN:-}" ]; then
  BIN=$NODE_BIN
else
  cargo build --release --quiet
  BIN=target/release/access-node
fi
[ -x "$BIN" ] || die "$BIN is not an executable"

# One join key for the whole cluster, made once and kept 0600.
if [ ! -s "$DATA/join.key" ]; then
  (umask 077; head -c 32 /dev/urandom | base64 | tr -d '\n=' > "$DATA/join.key")
fi
ACCESS_NODE_SECURITY_JOIN_KEY=$(cat "$DATA/join.key")
export ACCESS_NODE_SECURITY_JOIN_KEY
export ACCESS_NODE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD="${ACCESS_NODE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD:-password}"

# Healthy means OUR process is alive and the node answering says it is node i: a 200 from
# anything else on the port would be a lie.
wait_healthy() { # node number, pid, url
  local body
  for _ in $(seq 1 300); do
    kill -0 "$2" 2>/dev/null ||
      { tail -n 5 "$DATA/node$1.log" >&2; die "node $1 (pid $2) exited; see $DATA/node$1.log"; }
    body=$(curl -fsS "$3/healthz" 2>/dev/null) && {
      case $body in
        *"\"node_id\":$1,"* | *"\"node_id\":$1}"*) return 0 ;;
        *) die "$3 answers as another node than node $1: $body" ;;
      esac
    }
    sleep 0.2
  done
  die "node $1 at $3 did not become healthy in 60 s; see $DATA/node$1.log"
}

# A new node is waited for before the next starts: node 1 initialises, the others join it. A
# node with a home already is a member: it is started at once and waited for below, since a
# restarted member is healthy only once a majority of the members is back.
started=()
for i in 1 2 3; do
  addr=$(addr_of "$i")
  if running "$DATA/node$i.pid" "serve --config cluster/node$i.yml"; then
    echo "node $i already running on $addr"; continue
  fi
  [ -d "$(home_of "$i")" ] && member=1 || member=0
  nohup "$BIN" serve --config "cluster/node$i.yml" >>"$DATA/node$i.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" > "$DATA/node$i.pid"
  started+=("$i:$pid")
  if [ "$member" = 0 ]; then wait_healthy "$i" "$pid" "http://$addr"; fi
done
for s in "${started[@]}"; do
  i=${s%%:*} pid=${s#*:}
  wait_healthy "$i" "$pid" "http://$(addr_of "$i")"
  echo "node $i up on $(addr_of "$i") (pid $pid)"
done

mkdir -p "$NGINX_DIR/tmp"
servers=""
for i in 1 2 3; do servers+="        server $(addr_of "$i") max_fails=1 fail_timeout=2s;"$'\n'; done
sed -e "s|@PREFIX@|$NGINX_DIR|g" -e "s|@LISTEN@|127.0.0.1:$LB_PORT|g" cluster/nginx.conf.template \
  | awk -v s="$servers" '{ if ($0 == "@SERVERS@") printf "%s", s; else print }' > "$NGINX_DIR/nginx.conf"
if running "$NGINX_DIR/nginx.pid" nginx; then
  nginx -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" -s reload
else
  nginx -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf"
fi
for _ in $(seq 1 50); do
  curl -fsS "http://127.0.0.1:$LB_PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$LB_PORT/healthz" >/dev/null 2>&1 ||
  die "nginx on 127.0.0.1:$LB_PORT does not answer; see $NGINX_DIR/error.log"
echo "load balancer on http://127.0.0.1:$LB_PORT (admin password: \$ACCESS_NODE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD, default 'password')"
