"""etcd baseline phase: the replicated-write rate of etcd (Debian's etcd-server, fsync on, its
defaults) next to ours, under the same load generator on the same path.

etcd: one member, then three members on 127.0.0.1 (distinct ports and data dirs under
target/bench/run/). Puts go through etcd's v3 JSON gateway (POST /v3/kv/put, a distinct key per
request, etcd_put.lua), straight to one member: the only one, or a follower of the three.
Ours: a fresh 3-node cluster; revocable tokens are issued through a follower for 2 x D (captured),
then revoked through the same follower (revoke.lua) with wrk's threads/connections/duration of the
revoke measurement in common_suite (2 threads, WRITE_CONNS connections, D or until the ids run
out). No load balancer on either side.
"""
import base64
import json
import os
import shutil
import signal
import subprocess
import time

import bench as H  # bench.py registers itself under this name before importing this module
import failover_phase as F

THREADS = 2


def etcd_version():
    try:
        out = subprocess.run(["etcd", "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in out.splitlines():
        if line.startswith("etcd Version:"):
            return line.split(":", 1)[1].strip()
    return out.strip() or None


class Etcd:
    """One etcd member listening on 127.0.0.1 (client and peer ports of its own)."""

    def __init__(self, name):
        self.name = name
        self.port = H.free_port()
        self.peer_port = H.free_port()
        self.data = os.path.join(H.RUN, name)
        self.log = os.path.join(H.RUN, f"{name}.log")
        self.proc = None

    def peer_url(self):
        return f"http://127.0.0.1:{self.peer_port}"

    def start(self, initial_cluster, token):
        client = f"http://127.0.0.1:{self.port}"
        cmd = ["etcd", "--name", self.name, "--data-dir", self.data,
               "--listen-client-urls", client, "--advertise-client-urls", client,
               "--listen-peer-urls", self.peer_url(), "--initial-advertise-peer-urls", self.peer_url(),
               "--initial-cluster", initial_cluster, "--initial-cluster-state", "new",
               "--initial-cluster-token", token, "--logger", "zap", "--log-level", "warn"]
        logf = open(self.log, "a")
        self.proc = H.PROCS.add("etcd", subprocess.Popen(
            cmd, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=H.RUN))
        logf.close()
        return self

    @property
    def pid(self):
        return self.proc.pid

    def status(self):
        """etcd's maintenance status (member_id, leader, raftTerm...) or None."""
        st, body = H.req(self.port, "POST", "/v3/maintenance/status", {"Content-Type": "application/json"},
                         "{}", timeout=2)
        try:
            return json.loads(body) if st == 200 else None
        except ValueError:
            return None

    def stop(self):
        H.PROCS.stop(self.proc, signal.SIGTERM, timeout=15)


def start_etcd(tag, size, timeout=60.0):
    """`size` members forming one new cluster; returns them once each one knows the leader."""
    members = [Etcd(f"{tag}-m{i}") for i in range(1, size + 1)]
    initial = ",".join(f"{m.name}=http://127.0.0.1:{m.peer_port}" for m in members)
    for m in members:
        m.start(initial, f"bench-{tag}-{os.getpid()}")
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        for m in members:
            if m.proc.poll() is not None:
                raise RuntimeError(f"etcd member {m.name} exited ({m.proc.returncode}); see {m.log}")
        sts = [m.status() for m in members]
        if all(s and s.get("leader") not in (None, "0") for s in sts):
            return members, sts
        time.sleep(0.05)
    raise RuntimeError(f"etcd ({size} members) not ready after {timeout}s; see {members[0].log}")


def count_keys(port):
    """Keys under bench/ (each put has its own key, so this is about the 2xx count)."""
    body = json.dumps({"key": base64.b64encode(b"bench/").decode(),
                       "range_end": base64.b64encode(b"bench0").decode(), "count_only": True})
    st, text = H.req(port, "POST", "/v3/kv/range", {"Content-Type": "application/json"}, body, timeout=30)
    try:
        return int(json.loads(text).get("count", 0)) if st == 200 else None
    except ValueError:
        return None


def measure_etcd(b, tag, size, D):
    members, sts = start_etcd(tag, size)
    try:
        leader = sts[0]["leader"]
        target = next((m for m, s in zip(members, sts) if s["header"]["member_id"] != leader), members[0])
        role = "follower" if size > 1 else "the only member"
        st, body = H.req(target.port, "POST", "/v3/kv/put", {"Content-Type": "application/json"},
                         '{"key":"d2FybQ==","value":"MQ=="}')
        if st != 200:
            raise RuntimeError(f"etcd put: HTTP {st}: {body[:200]}")
        put = b.wrk(f"etcd {size} member{'s' if size > 1 else ''}: put via {role}", "etcd_put.lua",
                    target.port, THREADS, H.WRITE_CONNS, D, {}, server_pids=[m.pid for m in members])
        end = target.status() or {}
        return {"members": size, "target": role, "target_member": target.name, "put": put,
                "keys_stored": count_keys(target.port), "raft_term_end": end.get("raftTerm"),
                "db_size_end": end.get("dbSize")}
    finally:
        for m in reversed(members):
            m.stop()


def measure_ours(b, D):
    """A fresh 3-node cluster; issue revocable then revoke, both straight to a follower."""
    nodes = F.start_cluster("ef")
    try:
        leader, _ = F.leader_of(nodes)
        follower = next(n for n in nodes if n is not leader)
        pids = [n.pid for n in nodes]
        admin = H.mint_admin(follower.port)
        cap = os.path.join(H.RUN, "etcd-ours-revocable")
        W = dict(server_pids=pids)
        r = {"follower_node_id": follower.node_id, "leader_node_id": leader.node_id}
        # Issuing runs 2 x D: revocation is several times faster, and it stops at the last id.
        r["issue_revocable_via_follower"] = b.wrk(
            "3 nodes: issue revocable via follower", "issue.lua", follower.port, THREADS, H.WRITE_CONNS, 2 * D,
            {"BENCH_AUTH": "Bearer " + admin, "BENCH_EXPIRES_IN": 0, "BENCH_CAPTURE": cap}, **W)
        ids = H.read_capture(cap)
        if not ids:
            raise RuntimeError("no revocable token captured for revoke via follower")
        idfile = H.write_lines(os.path.join(H.RUN, "etcd-ours-revoke-ids.txt"), [i for i, _ in ids])
        r["revoke_via_follower"] = b.wrk(
            f"3 nodes: revoke via follower (up to {len(ids)} ids)", "revoke.lua", follower.port, THREADS,
            H.WRITE_CONNS, D, {"BENCH_AUTH": "Bearer " + admin, "BENCH_IDS": idfile}, limited=True, **W)
        return r
    finally:
        for n in reversed(nodes):
            n.stop(signal.SIGTERM)


def phase_etcd(b, results):
    if not shutil.which("etcd"):
        raise RuntimeError("etcd is not installed (scripts/bench installs Debian's etcd-server)")
    D = b.args.duration
    r = results["etcd"] = {
        "version": etcd_version(), "fsync": "on (etcd defaults, no --unsafe-no-fsync)",
        "api": "v3 JSON gateway POST /v3/kv/put, distinct keys", "path": "direct to one member (no proxy)",
        "wrk_threads": THREADS, "connections": H.WRITE_CONNS, "duration_s": D}
    H.log(f"etcd {r['version']}: 1 member, then 3 members (puts sent to a follower); ours: 3 nodes, via a follower")
    for key, tag, size in (("one_member", "etcd1", 1), ("three_members", "etcd3", 3)):
        r[key] = m = measure_etcd(b, tag, size, D)
        H.log(f"  etcd {size}: {m['keys_stored']} keys stored for {m['put']['ok']} puts answered 2xx")
    r["ours_three_nodes"] = measure_ours(b, D)
    for line in ratio_lines(results):
        H.log("  " + line)


def ratios(res):
    """(name, ours, etcd) pairs available in res."""
    e = res.get("etcd") or {}
    out = []
    ours3 = ((e.get("ours_three_nodes") or {}).get("revoke_via_follower") or {}).get("rps")
    etcd3 = ((e.get("three_members") or {}).get("put") or {}).get("rps")
    if ours3 and etcd3:
        out.append(("3 nodes revoke via follower / etcd 3-member put via follower", ours3, etcd3))
    ours1 = ((res.get("single") or {}).get("revoke") or {}).get("rps")
    etcd1 = ((e.get("one_member") or {}).get("put") or {}).get("rps")
    if ours1 and etcd1:
        out.append(("1 node revoke / etcd 1-member put", ours1, etcd1))
    return out


def ratio_lines(res):
    return [f"{name}: {a:,.0f}/s / {b:,.0f}/s = {a / b:.2f}" for name, a, b in ratios(res)]


def targets(res, add, g):
    e = res.get("etcd")
    if not e:
        return
    add("3 nodes: revoke via a follower vs etcd 3-member put via a follower",
        g(e, "ours_three_nodes", "revoke_via_follower", "rps"), g(e, "three_members", "put", "rps"), 1.3)
    add("1 node: revoke vs etcd 1-member put (extra)", g(res, "single", "revoke", "rps"),
        g(e, "one_member", "put", "rps"), 1.3)


def report(res, row):
    e = res.get("etcd")
    if not e:
        return
    print("-" * 125)
    print(f"etcd     etcd {e.get('version')}, fsync on, {e['api']}; wrk {e['wrk_threads']} threads, "
          f"{e['connections']} connections, {e['path']}")
    for key, title in (("one_member", "etcd 1 member: put"), ("three_members", "etcd 3 members: put via follower")):
        x = (e.get(key) or {}).get("put")
        if x:
            row("etcd", title, x)
    ours = e.get("ours_three_nodes") or {}
    for key, title in (("issue_revocable_via_follower", "issue revocable via follower"),
                       ("revoke_via_follower", "revoke via follower")):
        if ours.get(key):
            row("3 nodes", title, ours[key])
    for line in ratio_lines(res):
        print(f"etcd     {line}")
