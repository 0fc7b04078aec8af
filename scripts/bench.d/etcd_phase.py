"""etcd baseline phase: the replicated-write rate of etcd (Debian's etcd-server, fsync on, its
defaults) next to ours, under the same load generator on the same path.

etcd: one member, then three members on 127.0.0.1 (distinct ports and data dirs under
target/bench/run/). Puts go through etcd's v3 JSON gateway (POST /v3/kv/put, a distinct key per
request, etcd_put.lua), straight to one member: the only one, or a follower of the three.
Ours: a fresh 3-node cluster; revocable tokens are issued through a follower for 2 x D (captured),
then revoked through the same follower (revoke.lua) with wrk's threads/connections/duration of the
revoke measurement in common_suite (2 threads, WRITE_CONNS connections, D or until the ids run
out). No load balancer on either side. The 3-member etcd and our 3 nodes run side by side and take
turns (--etcd-runs rounds; the median of each side is kept). Each round then issues again and
revokes those ids in a random order (an extra line): the ids sort by issue time, so revoking in
issue order touches neighbouring pages, and the random order shows what that locality is worth.
EtcdSide, OursSide, count_keys and fill_keys (bulk puts, 128 per transaction) serve the scale
phase too, and OursSide the previous phase (with the previous release's binary).
"""
import base64
import concurrent.futures
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import threading
import time

from cluster import leader_of, mint_admin, start_cluster
from common import PROCS, RUN, WRITE_CONNS, free_port, log, median_run, read_capture, req, write_lines


THREADS = 2
# etcd_put.lua's value (the size of a token id, base64 as the gateway wants), for the bulk fill.
PUT_VALUE = base64.b64encode(b"revoked:0123456789abcdef0123456789abcdef").decode()
# etcd's default --max-txn-ops: the most puts one transaction may carry.
TXN_OPS = 128


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
        self.port = free_port()
        self.peer_port = free_port()
        self.data = os.path.join(RUN, name)
        self.log = os.path.join(RUN, f"{name}.log")
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
        self.proc = PROCS.add("etcd", subprocess.Popen(
            cmd, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=RUN))
        logf.close()
        return self

    @property
    def pid(self):
        return self.proc.pid

    def status(self):
        """etcd's maintenance status (member_id, leader, raftTerm...) or None."""
        st, body = req(self.port, "POST", "/v3/maintenance/status", {"Content-Type": "application/json"},
                         "{}", timeout=2)
        try:
            return json.loads(body) if st == 200 else None
        except ValueError:
            return None

    def stop(self):
        PROCS.stop(self.proc, signal.SIGTERM, timeout=15)


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
    """Keys under bench/ (each put has its own key, so about the 2xx count of all runs; the scale
    phase's bulk fill writes under bench/fill/, which etcd_put.lua's prefixes never are)."""
    body = json.dumps({"key": base64.b64encode(b"bench/").decode(),
                       "range_end": base64.b64encode(b"bench0").decode(), "count_only": True})
    st, text = req(port, "POST", "/v3/kv/range", {"Content-Type": "application/json"}, body, timeout=30)
    try:
        return int(json.loads(text).get("count", 0)) if st == 200 else None
    except ValueError:
        return None


def fill_keys(port, prefix, first, count, deadline, threads=8):
    """Puts the keys <prefix><first>..<prefix><first + count - 1> (zero-padded) with etcd_put.lua's
    value through the JSON gateway, TXN_OPS puts per POST /v3/kv/txn, from `threads` keep-alive
    connections, until done or `deadline` (monotonic). Returns (keys acknowledged, errors)."""
    lock = threading.Lock()
    state = {"next": first, "ok": 0, "errors": []}
    end = first + count

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            while time.monotonic() < deadline and len(state["errors"]) < 20:
                with lock:
                    lo = state["next"]
                    if lo >= end:
                        return
                    hi = state["next"] = min(end, lo + TXN_OPS)
                ops = [{"requestPut": {"key": base64.b64encode(f"{prefix}{i:010d}".encode()).decode(),
                                       "value": PUT_VALUE}} for i in range(lo, hi)]
                try:
                    conn.request("POST", "/v3/kv/txn", json.dumps({"success": ops}),
                                 {"Content-Type": "application/json"})
                    r = conn.getresponse()
                    text = r.read()
                except (OSError, http.client.HTTPException) as e:
                    conn.close()
                    with lock:
                        state["errors"].append(f"{type(e).__name__}: {e}")
                    continue
                with lock:
                    if r.status == 200:
                        state["ok"] += hi - lo
                    else:
                        state["errors"].append(f"HTTP {r.status}: {text[:200]!r}")
        finally:
            conn.close()

    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        for f in [ex.submit(worker) for _ in range(threads)]:
            f.result()
    return state["ok"], state["errors"]


class EtcdSide:
    """A running etcd cluster and the member the puts go to (a follower when there are several)."""

    def __init__(self, tag, size):
        self.size = size
        self.members, sts = start_etcd(tag, size)
        leader = sts[0]["leader"]
        self.target = next((m for m, s in zip(self.members, sts) if s["header"]["member_id"] != leader),
                           self.members[0])
        self.role = "follower" if size > 1 else "the only member"
        st, body = req(self.target.port, "POST", "/v3/kv/put", {"Content-Type": "application/json"},
                         '{"key":"d2FybQ==","value":"MQ=="}')
        if st != 200:
            self.stop()
            raise RuntimeError(f"etcd put: HTTP {st}: {body[:200]}")

    def put(self, b, D, k=0, tag="", prefix=None):
        """One wrk run of puts via the target member, keys under `prefix` (bench/<k>/)."""
        return b.wrk(f"etcd {self.size} member{'s' if self.size > 1 else ''}: put via {self.role}{tag}",
                     "etcd_put.lua", self.target.port, THREADS, WRITE_CONNS, D,
                     {"BENCH_KEY_PREFIX": prefix or f"bench/{k}/"},
                     server_pids=[m.pid for m in self.members])

    def summary(self, put):
        end = self.target.status() or {}
        r = {"members": self.size, "target": self.role, "target_member": self.target.name, "put": put,
             "keys_stored": count_keys(self.target.port), "raft_term_end": end.get("raftTerm"),
             "db_size_end": end.get("dbSize")}
        log(f"  etcd {self.size}: {r['keys_stored']} keys stored (a key per put)")
        return r

    def stop(self):
        for m in reversed(self.members):
            m.stop()


class OursSide:
    """A fresh 3-node cluster; revocable tokens issued, then revoked, straight through a follower.
    `binary`: another build than the run's (the previous phase); `label` starts each line."""

    def __init__(self, prefix="ef", binary=None, label="3 nodes"):
        self.prefix, self.label = prefix, label
        self.nodes = start_cluster(prefix, binary=binary)
        try:
            self.leader, _ = leader_of(self.nodes)
            self.follower = next(n for n in self.nodes if n is not self.leader)
            self.admin = mint_admin(self.follower.port)
        except Exception:
            self.stop()
            raise
        self.W = dict(server_pids=[n.pid for n in self.nodes])

    def issue_then_revoke(self, b, D, k, tag="", random_order=False, issue_s=None, revoke_s=None):
        """Issue for 2 x D (or issue_s), then revoke the ids issued (for at most D, or revoke_s):
        in issue order (each wrk thread walks one half of them), or shuffled (seeded by the
        round) to show what locality is worth. `k` names the round's files (unique per call)."""
        suffix = "-random" if random_order else ""
        cap = os.path.join(RUN, f"{self.prefix}-ours-revocable-{k}{suffix}")
        f = self.follower.port
        # Issuing runs 2 x D: revocation is several times faster, and it stops at the last id.
        issue = b.wrk(f"{self.label}: issue revocable via follower{tag}", "issue.lua", f, THREADS, WRITE_CONNS,
                      issue_s or 2 * D, {"BENCH_AUTH": "Bearer " + self.admin, "BENCH_EXPIRES_IN": 0,
                                         "BENCH_CAPTURE": cap}, **self.W)
        ids = read_capture(cap)
        if not ids:
            raise RuntimeError("no revocable token captured for revoke via follower")
        ids = [i for i, _ in ids]
        if random_order:
            random.Random(k).shuffle(ids)
        idfile = write_lines(os.path.join(RUN, f"{self.prefix}-ours-revoke-ids-{k}{suffix}.txt"), ids)
        what = "revoke via follower, random order" if random_order else "revoke via follower"
        revoke = b.wrk(f"{self.label}: {what} (up to {len(ids)} ids){tag}", "revoke.lua", f, THREADS,
                       WRITE_CONNS, revoke_s or D, {"BENCH_AUTH": "Bearer " + self.admin, "BENCH_IDS": idfile},
                       limited=True, **self.W)
        return issue, revoke

    def stop(self):
        for n in reversed(self.nodes):
            n.stop(signal.SIGTERM)


def phase_etcd(b, results):
    if not shutil.which("etcd"):
        raise RuntimeError("etcd is not installed (scripts/bench installs Debian's etcd-server)")
    D, runs = b.args.duration, b.args.etcd_runs
    r = results["etcd"] = {
        "version": etcd_version(), "fsync": "on (etcd defaults, no --unsafe-no-fsync)",
        "api": "v3 JSON gateway POST /v3/kv/put, distinct keys", "path": "direct to one member (no proxy)",
        "wrk_threads": THREADS, "connections": WRITE_CONNS, "duration_s": D, "runs": runs}
    log(f"etcd {r['version']}: 1 member, then 3 members (puts sent to a follower) alternating with "
          f"ours (3 nodes, via a follower), {runs} run(s) each")
    one = EtcdSide("etcd1", 1)
    try:
        r["one_member"] = one.summary(one.put(b, D))
    finally:
        one.stop()
    # Both 3-member clusters stay up (idle heartbeats only) and take turns, so a burst of other
    # load on the host hits both sides alike; each side's figure is the median of its runs.
    three, ours = EtcdSide("etcd3", 3), None
    try:
        ours = OursSide()
        puts, issues, revokes, shuffled = [], [], [], []
        for k in range(runs):
            tag = f" (run {k + 1}/{runs})" if runs > 1 else ""
            issue, revoke = ours.issue_then_revoke(b, D, k, tag)
            issues.append(issue)
            revokes.append(revoke)
            puts.append(three.put(b, D, k, tag))
            shuffled.append(ours.issue_then_revoke(b, D, k, tag, random_order=True)[1])
        r["three_members"] = three.summary(median_run(puts))
        r["ours_three_nodes"] = {"follower_node_id": ours.follower.node_id, "leader_node_id": ours.leader.node_id,
                                 "issue_revocable_via_follower": median_run(issues),
                                 "revoke_via_follower": median_run(revokes),
                                 "revoke_via_follower_random_order": median_run(shuffled)}
    finally:
        if ours:
            ours.stop()
        three.stop()
    for line in ratio_lines(results):
        log("  " + line)


def ratios(res):
    """(name, ours, etcd) pairs available in res."""
    e = res.get("etcd") or {}
    out = []
    ours3 = ((e.get("ours_three_nodes") or {}).get("revoke_via_follower") or {}).get("rps")
    etcd3 = ((e.get("three_members") or {}).get("put") or {}).get("rps")
    if ours3 and etcd3:
        out.append(("3 nodes revoke via follower / etcd 3-member put via follower", ours3, etcd3))
    random3 = ((e.get("ours_three_nodes") or {}).get("revoke_via_follower_random_order") or {}).get("rps")
    if random3 and etcd3:
        out.append(("3 nodes revoke via follower, ids in random order / etcd 3-member put via follower",
                    random3, etcd3))
    ours1 = ((res.get("single") or {}).get("revoke") or {}).get("rps")
    etcd1 = ((e.get("one_member") or {}).get("put") or {}).get("rps")
    if ours1 and etcd1:
        out.append(("1 node revoke / etcd 1-member put", ours1, etcd1))
    return out


def ratio_lines(res):
    return [f"{name}: {a:,.0f}/s / {b:,.0f}/s = {round(a / b, 3):.2f}" for name, a, b in ratios(res)]


def targets(res, add, g):
    e = res.get("etcd")
    if not e:
        return
    add("3 nodes: revoke via a follower vs etcd 3-member put via a follower",
        g(e, "ours_three_nodes", "revoke_via_follower", "rps"), g(e, "three_members", "put", "rps"), 1.3)
    add("3 nodes: revoke via a follower, ids in random order, vs etcd 3-member put (extra)",
        g(e, "ours_three_nodes", "revoke_via_follower_random_order", "rps"), g(e, "three_members", "put", "rps"),
        1.3)
    add("1 node: revoke vs etcd 1-member put (extra)", g(res, "single", "revoke", "rps"),
        g(e, "one_member", "put", "rps"), 1.3)
    # The same writes as CPU: all three nodes' CPU per revoke against all three members' per put.
    add("3 nodes: CPU per revoke via a follower vs etcd 3-member CPU per put (us)",
        g(e, "ours_three_nodes", "revoke_via_follower", "server_cpu_us_per_op"),
        g(e, "three_members", "put", "server_cpu_us_per_op"), 0.6, higher=False, unit="us")


def report(res, row):
    e = res.get("etcd")
    if not e:
        return
    print("-" * 133)
    print(f"etcd     etcd {e.get('version')}, fsync on, {e['api']}; wrk {e['wrk_threads']} threads, "
          f"{e['connections']} connections, {e['path']}")
    for key, title in (("one_member", "etcd 1 member: put"), ("three_members", "etcd 3 members: put via follower")):
        x = (e.get(key) or {}).get("put")
        if x:
            row("etcd", title, x)
    ours, g3 = e.get("ours_three_nodes") or {}, e.get("three_members") or {}
    for key, title in (("issue_revocable_via_follower", "issue revocable via follower"),
                       ("revoke_via_follower", "revoke via follower"),
                       ("revoke_via_follower_random_order", "revoke via follower, random order")):
        if ours.get(key):
            row("3 nodes", title, ours[key])
    if e.get("runs", 1) > 1:
        rr = lambda x: ", ".join(f"{v:,.0f}" for v in (x or {}).get("runs_rps", []))
        print(f"etcd     medians of {e['runs']} alternating runs: etcd 3-member put {rr(g3.get('put'))}/s; "
              f"our revoke via follower {rr(ours.get('revoke_via_follower'))}/s, "
              f"in random order {rr(ours.get('revoke_via_follower_random_order'))}/s")
    for line in ratio_lines(res):
        print(f"etcd     {line}")
