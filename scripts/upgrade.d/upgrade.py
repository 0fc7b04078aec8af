"""A rolling upgrade under load (scripts/upgrade-check): three nodes of the old binary behind
nginx, a one-node peer site of the old binary, state of every kind, then each node replaced by
the new binary while clients keep working; every token's answer before and after on every node;
a web session; backups across versions; a downgrade attempt. Python 3 stdlib, plus the bench's
process and nginx helpers (scripts/bench.d)."""
import argparse
import base64
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bench.d"))
import common  # noqa: E402

ROOT = common.ROOT
OUT = os.path.join(ROOT, "target", "upgrade")
common.RUN = os.path.join(OUT, "run")  # before `cluster` reads it: nginx lives under it
from cluster import Nginx  # noqa: E402
from common import ADMIN_PASSWORD, PROCS, basic_auth, free_port, log, req  # noqa: E402

JOIN_KEY = base64.b64encode(os.urandom(32)).decode().rstrip("=")


class Node:
    """An access-node process whose binary can change between runs (same home, same port)."""

    def __init__(self, name, binary, node_id=1, seeds=None, join_key=JOIN_KEY):
        self.name, self.binary, self.node_id, self.seeds, self.join_key = name, binary, node_id, seeds, join_key
        self.port = free_port()
        self.home = os.path.join(common.RUN, name)
        self.log = os.path.join(common.RUN, f"{name}.log")
        self.proc = None

    def start(self):
        env = dict(os.environ, ACCESS_NODE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD=ADMIN_PASSWORD,
                   ACCESS_NODE_SECURITY_JOIN_KEY=self.join_key, ACCESS_NODE_SERVER_NODE_ID=str(self.node_id),
                   RUST_LOG="warn")
        if self.seeds:
            env["ACCESS_NODE_RAFT_SEEDS"] = self.seeds
        os.makedirs(self.home, exist_ok=True)
        with open(self.log, "a") as logf:
            logf.write(f"--- {time.strftime('%H:%M:%S')} starting {self.binary}\n")
            logf.flush()
            self.proc = PROCS.add("access-node", subprocess.Popen(
                [self.binary, "serve", "--home", self.home, "--listen", f"127.0.0.1:{self.port}"],
                stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=common.RUN))
        return self

    def wait_ready(self, timeout=120.0):
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode}); see {self.log}")
            if req(self.port, "GET", "/healthz", timeout=2)[0] == 200:
                return time.monotonic() - t0
            time.sleep(0.02)
        raise RuntimeError(f"{self.name} not ready after {timeout}s; see {self.log}")

    def stop(self):
        PROCS.stop(self.proc, signal.SIGTERM, timeout=30)

    def health(self):
        st, body = req(self.port, "GET", "/healthz", timeout=2)
        try:
            return json.loads(body) if st == 200 else {}
        except ValueError:
            return {}


def form(port, path, fields, auth=None, method="POST"):
    hdrs = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": auth or basic_auth()}
    return req(port, method, path, hdrs, urllib.parse.urlencode(fields))


def admin_json(port, method, path, body=None, expect=(200, 201, 204)):
    hdrs = {"Authorization": basic_auth()}
    if body is not None:
        hdrs["Content-Type"] = "application/json"
        body = json.dumps(body)
    st, text = req(port, method, path, hdrs, body)
    if st not in expect:
        raise RuntimeError(f"{method} {path} on :{port}: HTTP {st}: {text[:300]}")
    return json.loads(text) if text.strip().startswith(("{", "[")) else text


def mint(port, auth, **fields):
    st, body = form(port, "/access/api/v1/tokens", fields, auth)
    if st != 200:
        raise RuntimeError(f"token {fields}: HTTP {st}: {body[:200]}")
    return json.loads(body)


def answer(port, token):
    return req(port, "GET", "/access/api/v1/system/ping", {"Authorization": "Bearer " + token}, timeout=5)[0]


def start_cluster(binary, prefix, size=3):
    first = Node(f"{prefix}1", binary).start()
    first.wait_ready()
    nodes = [first]
    for i in range(2, size + 1):
        n = Node(f"{prefix}{i}", binary, i, f"http://127.0.0.1:{first.port}").start()
        n.wait_ready()
        nodes.append(n)
    wait_converged(nodes)
    return nodes


def wait_converged(nodes, timeout=60.0):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        applied = [n.health().get("last_applied") for n in nodes]
        if applied[0] is not None and all(a == applied[0] for a in applied):
            return time.monotonic() - t0
        time.sleep(0.05)
    raise RuntimeError(f"nodes did not converge: {[n.health().get('last_applied') for n in nodes]}")


def leader_of(nodes):
    for n in nodes:
        h = n.health()
        if h.get("leader") is not None and h.get("leader") == h.get("node_id"):
            return n
    return None


class Load:
    """Clients at nginx and at each node: validate a token, issue a revocable one, refresh a
    pair, revoke what they issued. Counts (phase, target) -> [requests, failures, first error]."""

    def __init__(self, targets, auth):
        self.targets, self.auth = targets, auth
        self.phase = "before"
        self.started = {"before": time.monotonic()}
        self.counts = {}
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(name, port), daemon=True) for name, port in targets]

    def set_phase(self, phase):
        with self.lock:
            self.phase = phase
            self.started[phase] = time.monotonic()

    def note(self, target, ok, what, took):
        with self.lock:
            c = self.counts.setdefault((self.phase, target), [0, 0, None, 0.0])
            c[0] += 1
            c[3] = max(c[3], took)
            if not ok:
                c[1] += 1
                c[2] = c[2] or what

    def run(self, name, port):
        pair = None
        while not self.stop.is_set():
            t0 = time.monotonic()
            note = lambda ok, what: self.note(name, ok, what, time.monotonic() - t0)  # noqa: E731
            try:
                if pair is None:
                    st, body = form(port, "/access/api/v1/tokens",
                                    {"username": f"load-{name}", "expires_in": "3600", "refreshable": "true"}, self.auth)
                    note(st == 200, f"issue {st} {body[:120]}")
                    pair = json.loads(body) if st == 200 else None
                    continue
                t0 = time.monotonic()
                st = answer(port, pair["access_token"])
                note(st == 200, f"validate {st}")
                t0 = time.monotonic()
                st, body = form(port, "/access/api/v1/tokens",
                                {"grant_type": "refresh_token", "refresh_token": pair["refresh_token"],
                                 "access_token": pair["access_token"]}, self.auth)
                note(st == 200, f"refresh {st} {body[:120]}")
                if st == 200:
                    pair = json.loads(body)
                t0 = time.monotonic()
                st, body = form(port, "/access/api/v1/tokens/revoke", {"token": pair["access_token"]}, self.auth)
                note(st == 200, f"revoke {st} {body[:120]}")
                pair = None
            except (OSError, ValueError, KeyError) as e:
                note(False, f"{type(e).__name__}: {e}")
                pair = None
                time.sleep(0.05)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *_):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)

    def report(self):
        order = sorted(self.started, key=self.started.get)
        return [{"phase": p, "target": t, "requests": c[0], "failed": c[1], "first_error": c[2],
                 "slowest_ms": round(c[3] * 1000)}
                for (p, t), c in sorted(self.counts.items(), key=lambda kv: (order.index(kv[0][0]), kv[0][1]))]


def sign_in(port):
    """A web session: the login form's cookie and CSRF token, then the session cookie."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/ui/login")
    r = c.getresponse()
    page = r.read().decode()
    login_cookie = [v.split(";")[0] for k, v in r.getheaders() if k.lower() == "set-cookie"][0]
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    body = urllib.parse.urlencode({"csrf": csrf, "username": "admin", "password": ADMIN_PASSWORD})
    c.request("POST", "/ui/login", body, {"Content-Type": "application/x-www-form-urlencoded", "Cookie": login_cookie,
                                          "Origin": f"http://127.0.0.1:{port}"})
    r = c.getresponse()
    r.read()
    cookies = [v.split(";")[0] for k, v in r.getheaders() if k.lower() == "set-cookie"]
    session = next((x for x in cookies if x.startswith("access_session=")), None)
    if not session:
        raise RuntimeError(f"no session cookie ({r.status}): {cookies}")
    return session


def session_works(port, cookie):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/ui/tokens", headers={"Cookie": cookie})
    r = c.getresponse()
    r.read()
    return r.status == 200


def populate(nodes, peer, tokens):
    port = nodes[0].port
    for g in ("dev", "ops"):
        admin_json(port, "POST", "/access/api/v2/groups", {"name": g})
    for i in range(5):
        admin_json(port, "POST", "/access/api/v2/users",
                   {"username": f"user{i}", "password": f"user{i}-pass-1", "groups": ["dev"] if i % 2 else ["ops"]})
    admin_json(port, "POST", "/access/api/v2/permissions", {"name": "dev-read", "resources": {"artifact": {
        "actions": {"groups": {"dev": ["READ"]}}, "targets": {"libs-local": {"include_patterns": ["**"]}}}}})
    # The peer site: trust both ways, linked both ways (federation of the old release).
    for src, dst, name in ((nodes[0], peer, "main-site"), (peer, nodes[0], "peer-site")):
        cert = admin_json(src.port, "GET", "/access/api/v1/cert/root")
        sid = admin_json(src.port, "GET", "/access/api/v1/system/service_id").strip()
        admin_json(dst.port, "POST", "/access/api/v1/cert/trusted", {"name": name, "certificate": cert, "service_id": sid})
    admin_json(port, "POST", "/access/api/v1/system/federation", {"name": "peer-site", "url": f"http://127.0.0.1:{peer.port}"})
    admin_json(peer.port, "POST", "/access/api/v1/system/federation", {"name": "main-site", "url": f"http://127.0.0.1:{port}"})
    auth = "Bearer " + mint(port, basic_auth(), username="admin", scope="applied-permissions/admin", expires_in="7200")["access_token"]
    made = []
    for i in range(tokens):
        kind = i % 4
        fields = {"username": f"user{i % 5}", "expires_in": "0" if kind < 2 else "86400"}
        made.append(mint(nodes[i % 3].port, auth, **fields)["access_token"])
    for t in made[::10]:
        form(port, "/access/api/v1/tokens/revoke", {"token": t}, auth)
    return auth, made


def answers(nodes, tokens):
    return {n.name: [answer(n.port, t) for t in tokens] for n in nodes}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--old-rev", default="old")
    ap.add_argument("--new-rev", default="new")
    ap.add_argument("--tokens", type=int, default=10000)
    a = ap.parse_args()
    shutil.rmtree(common.RUN, ignore_errors=True)
    os.makedirs(common.RUN)
    bins = {}
    for tag, path in (("old", a.old), ("new", a.new)):
        bins[tag] = os.path.join(common.RUN, f"access-node-{tag}")
        shutil.copy2(path, bins[tag])
    report = {"old": a.old_rev, "new": a.new_rev, "tokens": a.tokens}
    ok = True

    log(f"three {a.old_rev} nodes and a one-node {a.old_rev} peer site")
    nodes = start_cluster(bins["old"], "main")
    peer = Node("peer1", bins["old"], join_key="peer-" + JOIN_KEY).start()
    peer.wait_ready()
    lb = Nginx([n.port for n in nodes])
    log(f"state: users, groups, a permission target, trust and federation, {a.tokens} tokens")
    auth, tokens = populate(nodes, peer, a.tokens)
    cookie = sign_in(nodes[1].port)
    wait_converged(nodes)
    before = answers(nodes, tokens)
    old_backup = os.path.join(common.RUN, "old.backup")
    subprocess.run([bins["old"], "backup", "--url", f"http://127.0.0.1:{nodes[0].port}", "--out", old_backup],
                   env=dict(os.environ, ACCESS_NODE_USER="admin", ACCESS_NODE_PASSWORD=ADMIN_PASSWORD),
                   check=True, capture_output=True)

    targets = [("nginx", lb.port)] + [(n.name, n.port) for n in nodes]
    rejoin = {}
    fed_made = []
    with Load(targets, auth) as load:
        time.sleep(3)
        lead = leader_of(nodes)
        order = [n for n in nodes if n is not lead] + [lead]
        for n in order:
            load.set_phase(f"upgrading {n.name}")
            log(f"  {n.name} -> {a.new_rev}")
            n.stop()
            n.binary = bins["new"]
            t0 = time.monotonic()
            n.start()
            n.wait_ready()
            wait_converged(nodes)
            rejoin[n.name] = round(time.monotonic() - t0, 2)
            load.set_phase(f"after {n.name}")
            # Changes on both sides of the federation while the site runs mixed binaries.
            for port, prefix in ((lb.port, "fed-main"), (peer.port, "fed-peer")):
                name = f"{prefix}-{n.name}"
                admin_json(port, "POST", "/access/api/v2/users", {"username": name, "password": name + "-pass-1"})
                fed_made.append((prefix, name))
            time.sleep(3)
        load.set_phase("all upgraded")
        time.sleep(3)
    report["load"] = load.report()
    report["rejoin_s"] = rejoin
    for row in report["load"]:
        restarting = row["phase"] == f"upgrading {row['target']}"
        if row["failed"] and not restarting:
            ok = False
    t0 = time.monotonic()
    while time.monotonic() - t0 < 30 and not all(n.health().get("format", {}).get("cluster") == 2 for n in nodes):
        time.sleep(0.2)
    report["cluster_format"] = [n.health().get("format") for n in nodes]

    after = answers(nodes, tokens)
    changed = {n: sum(1 for x, y in zip(before[n], after[n]) if x != y) for n in before}
    report["token_answers"] = {"before": {n: {str(s): v.count(s) for s in set(v)} for n, v in before.items()},
                               "changed": changed}
    ok &= not any(changed.values())
    report["web_session_survives"] = session_works(nodes[1].port, cookie)
    ok &= report["web_session_survives"]
    # Every user made during the upgrade reaches the other site: nothing is dropped.
    t0 = time.monotonic()
    missing = list(fed_made)
    while missing and time.monotonic() - t0 < 90:
        missing = [(prefix, name) for prefix, name in missing
                   if req(peer.port if prefix == "fed-main" else nodes[0].port, "GET",
                          f"/access/api/v2/users/{name}", {"Authorization": basic_auth()})[0] != 200]
        if missing:
            time.sleep(1)
    report["federation"] = {"made_during_upgrade": len(fed_made), "arrived": len(fed_made) - len(missing),
                            "missing": missing, "seconds_after_upgrade": round(time.monotonic() - t0, 1)}
    ok &= not missing
    for port, key in ((nodes[0].port, "main_site_link"), (peer.port, "peer_site_link")):
        st, body = req(port, "GET", "/access/api/v1/system/federation", {"Authorization": basic_auth()})
        links = json.loads(body) if st == 200 else []
        status = links[0].get("status", {}) if links else {}
        report["federation"][key] = {k: status.get(k) for k in
                                     ("state", "events_behind", "held", "peer_format", "last_error", "full_syncs")}

    new_backup = os.path.join(common.RUN, "new.backup")
    r = subprocess.run([bins["new"], "backup", "--url", f"http://127.0.0.1:{nodes[0].port}", "--out", new_backup],
                       env=dict(os.environ, ACCESS_NODE_USER="admin", ACCESS_NODE_PASSWORD=ADMIN_PASSWORD),
                       capture_output=True, text=True)
    report["new_backup"] = r.returncode == 0
    fresh = Node("fresh1", bins["new"], join_key="fresh-" + JOIN_KEY).start()
    fresh.wait_ready()
    r = subprocess.run([bins["new"], "restore", "--url", f"http://127.0.0.1:{fresh.port}", "--file", old_backup],
                       env=dict(os.environ, ACCESS_NODE_USER="admin", ACCESS_NODE_PASSWORD=ADMIN_PASSWORD),
                       capture_output=True, text=True)
    restored = [answer(fresh.port, t) for t in tokens[:2000]]
    report["old_backup_restored"] = {"rc": r.returncode, "stderr": r.stderr[-300:],
                                     "answers_equal": restored == before[nodes[0].name][:2000]}
    ok &= r.returncode == 0 and report["old_backup_restored"]["answers_equal"]

    # A downgrade: the old binary on an upgraded home.
    n = nodes[2]
    n.stop()
    n.binary = bins["old"]
    n.start()
    time.sleep(5)
    alive = n.proc.poll() is None
    with open(n.log) as f:
        tail = f.read()[-600:]
    seen = []
    for other in nodes[:2]:
        with open(other.log) as f:
            if "older format than the cluster's" in f.read():
                seen.append(other.name)
    report["downgrade"] = {"old_binary_still_running_after_5s": alive, "reported_by": seen, "log_tail": tail}

    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "report.json"), "w") as f:
        json.dump(report, f, indent=2)
    print("=" * 100)
    print(f"rolling upgrade {a.old_rev} -> {a.new_rev}, {a.tokens} tokens")
    for row in report["load"]:
        print(f"  {row['phase']:<22} {row['target']:<8} {row['requests']:>6} requests {row['failed']:>5} failed"
              f" slowest {row['slowest_ms']:>5} ms"
              + (f"  first: {row['first_error']}" if row["failed"] else ""))
    print(f"  rejoin (start to converged): {rejoin}")
    print(f"  cluster format after: {report['cluster_format']}")
    print(f"  token answers changed per node: {changed}")
    print(f"  web session survives: {report['web_session_survives']}; new backup: {report['new_backup']}; "
          f"old backup restored into a new cluster: {report['old_backup_restored']['answers_equal']}")
    fed = report["federation"]
    print(f"  federation: {fed['arrived']} of {fed['made_during_upgrade']} users made during the upgrade arrived"
          f" ({fed['seconds_after_upgrade']} s after it); main's link {fed['main_site_link']}")
    print(f"  downgrade: old binary still running after 5 s: {alive}; reported by the leader: {seen}")
    print(f"  report: {os.path.join(OUT, 'report.json')}; {'OK' if ok else 'PROBLEMS (see above)'}")
    PROCS.stop_all()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
