"""Nodes and the load balancer: an access-node process with its own home and port, nginx in front
of several, starting a cluster, asking who leads, minting the admin token.
"""
import json
import os
import signal
import subprocess
import time

from common import (ADMIN_PASSWORD, BIN, JOIN_KEY, PROCS, ROOT, RUN, VERIFIED_CACHE_ENTRIES, basic_auth,
    children_of, free_port, host_ticks, req)


class Node:
    def __init__(self, name, node_id=1, seeds=None, cluster=False, join_key=None, binary=None):
        self.name = name
        self.binary = binary or BIN  # another build (the previous release) runs the same way
        self.node_id = node_id
        self.seeds = seeds
        self.cluster = cluster
        self.join_key = join_key or JOIN_KEY
        self.port = free_port()
        self.home = os.path.join(RUN, name)
        self.log = os.path.join(RUN, f"{name}.log")
        self.proc = None

    def start(self):
        env = dict(os.environ)
        env.update({
            "ACCESS_NODE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "RUST_LOG": os.environ.get("BENCH_RUST_LOG", "warn"),
            # A tiny verified-token cache, so the "distinct" token sets (>= 1,000 tokens) are
            # never served from it: every distinct validation pays its RSA verify. "Repeated"
            # (one token) still hits it.
            "ACCESS_NODE_TOKEN_VERIFIED_CACHE_ENTRIES": str(VERIFIED_CACHE_ENTRIES),
        })
        if self.cluster:
            env["ACCESS_NODE_SECURITY_JOIN_KEY"] = self.join_key
            env["ACCESS_NODE_SERVER_NODE_ID"] = str(self.node_id)
            if self.seeds:
                env["ACCESS_NODE_RAFT_SEEDS"] = self.seeds
        os.makedirs(self.home, exist_ok=True)
        logf = open(self.log, "a")
        self.proc = PROCS.add("access-node", subprocess.Popen(
            [self.binary, "serve", "--home", self.home, "--listen", f"127.0.0.1:{self.port}"],
            stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=RUN))
        logf.close()
        return self

    @property
    def pid(self):
        return self.proc.pid

    def wait_ready(self, timeout=180.0, need_leader=False):
        """Seconds from now until GET /healthz answers 200 (polled every 10 ms)."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode}); see {self.log}")
            st, body = req(self.port, "GET", "/healthz", timeout=2)
            if st == 200:
                if not need_leader:
                    return time.monotonic() - t0
                try:
                    if json.loads(body).get("leader"):
                        return time.monotonic() - t0
                except ValueError:
                    pass
            time.sleep(0.01)
        raise RuntimeError(f"{self.name} not ready after {timeout}s; see {self.log}")

    def stop(self, sig=signal.SIGTERM):
        """Stop with sig; returns seconds until the process exited."""
        t0 = time.monotonic()
        PROCS.stop(self.proc, sig, timeout=30)
        return time.monotonic() - t0


class Nginx:
    def __init__(self, upstream_ports):
        self.port = free_port()
        self.prefix = os.path.join(RUN, "nginx")
        os.makedirs(os.path.join(self.prefix, "tmp"), exist_ok=True)
        with open(os.path.join(ROOT, "cluster", "nginx.conf.template")) as f:
            tpl = f.read()
        servers = "".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;\n"
                          for p in upstream_ports)
        lines = []
        for line in tpl.replace("@PREFIX@", self.prefix).replace(
                "@LISTEN@", f"127.0.0.1:{self.port}").splitlines(keepends=True):
            lines.append(servers if line.strip() == "@SERVERS@" else line)
        self.conf = os.path.join(self.prefix, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write("".join(lines))
        logf = open(os.path.join(RUN, "nginx.out"), "a")
        self.proc = PROCS.add("nginx", subprocess.Popen(
            ["nginx", "-p", self.prefix, "-c", self.conf, "-g", "daemon off;"],
            stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
        logf.close()
        t0 = time.monotonic()
        while time.monotonic() - t0 < 10:
            if self.proc.poll() is not None:
                raise RuntimeError("nginx exited; see target/bench/run/nginx.out")
            st, _ = req(self.port, "GET", "/healthz", timeout=2)
            if st == 200:
                return
            time.sleep(0.05)
        raise RuntimeError("nginx not answering")

    def pids(self):
        return [self.proc.pid] + children_of(self.proc.pid)

def snapshot_counts(port, token):
    """(snapshots built, seconds spent building them) from the node's /metrics, or (None, None)."""
    st, body = req(port, "GET", "/metrics", {"Authorization": "Bearer " + token}, timeout=10)
    built = spent = None
    if st == 200:
        for line in body.splitlines():
            name, _, value = line.partition(" ")
            if name == "access_snapshots_total":
                built = int(float(value))
            elif name == "access_snapshot_duration_seconds_sum":
                spent = float(value)
    return built, spent


def last_applied(port):
    st, body = req(port, "GET", "/healthz", timeout=5)
    try:
        return json.loads(body).get("last_applied") if st == 200 else None
    except ValueError:
        return None


def settle_until_quiet(limit_s, threshold_pct=15.0):
    """Waits (at most limit_s) until the host is nearly idle: < threshold_pct of one core busy over 0.5 s."""
    t0 = time.monotonic()
    cores = os.cpu_count() or 1
    while time.monotonic() - t0 < limit_s:
        h0, i0 = host_ticks()
        time.sleep(0.5)
        h1, i1 = host_ticks()
        if 100.0 * (1 - (i1 - i0) / max(1, h1 - h0)) * cores < threshold_pct:
            return True
    return False


def mint_admin(port):
    st, body = req(port, "POST", "/access/api/v1/tokens", {"Authorization": basic_auth()},
                    {"username": "admin", "expires_in": "3600", "scope": "applied-permissions/admin"})
    if st != 200:
        raise RuntimeError(f"admin token: HTTP {st}: {body[:300]}")
    return json.loads(body)["access_token"]

def start_cluster(prefix, size=3, binary=None):
    """A fresh cluster of `size` nodes (default settings), node 1 first; join key of the run;
    `binary` another build than the run's (all nodes run it)."""
    first = Node(f"{prefix}1", 1, cluster=True, binary=binary).start()
    first.wait_ready(need_leader=True)
    nodes = [first]
    for i in range(2, size + 1):
        n = Node(f"{prefix}{i}", i, f"http://127.0.0.1:{first.port}", cluster=True, binary=binary).start()
        n.wait_ready(need_leader=True)
        nodes.append(n)
    return nodes


def health(port, timeout=1.0):
    st, body = req(port, "GET", "/healthz", timeout=timeout)
    try:
        return json.loads(body) if st in (200, 503) else None
    except ValueError:
        return None


def leader_of(nodes, timeout=30.0):
    """(node, term) once the node that calls itself leader is the leader every other node names."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        views = [(n, health(n.port)) for n in nodes]
        for n, h in views:
            if h and h.get("state") == "Leader" and h.get("leader") == h.get("node_id") and all(
                    v and v.get("leader") == n.node_id for _, v in views):
                return n, h.get("term")
        time.sleep(0.02)
    raise RuntimeError(f"no agreed leader after {timeout}s")
