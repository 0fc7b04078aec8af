"""The federation phase: two 3-node sites linked both ways; revocation lag from site A to every
node of site B, and replicated events/s."""
import base64
import concurrent.futures
import http.client
import json
import os
import signal
import threading
import time
import urllib.parse

from cluster import Node, mint_admin
from common import basic_auth, log, pct, proc_status, req


# Client threads issuing tokens at site A for the events/s measurement.
FED_THREADS = 32
FED_USER = "fed-bench"


class KeepAlive:
    """One keep-alive connection to 127.0.0.1:port, reopened once if the server closed it."""

    def __init__(self, port, timeout=10.0):
        self.port = port
        self.timeout = timeout
        self.conn = None
        self.last = None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def send(self, method, path, headers=None, body=None):
        self.last = (method, path, headers, body)
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                return
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt:
                    raise

    def recv(self):
        """(status, body text) of the request sent last."""
        for attempt in (0, 1):
            try:
                r = self.conn.getresponse()
                return r.status, r.read().decode("utf-8", "replace")
            except (OSError, http.client.HTTPException, AttributeError):
                self.close()
                if attempt:
                    raise
                self.send(*self.last)  # once more on a fresh connection

    def call(self, method, path, headers=None, body=None):
        self.send(method, path, headers, body)
        return self.recv()


def start_site(tag, size=3):
    """A Raft cluster of `size` nodes with its own join key, homes and ports; node 1 first."""
    key = base64.b64encode(os.urandom(32)).decode().rstrip("=")
    first = Node(f"fed-{tag}1", 1, cluster=True, join_key=key).start()
    first.wait_ready(need_leader=True)
    nodes = [first]
    for i in range(2, size + 1):
        n = Node(f"fed-{tag}{i}", i, f"http://127.0.0.1:{first.port}", cluster=True, join_key=key).start()
        n.wait_ready(need_leader=True)
        nodes.append(n)
    return nodes


def site_leader(nodes, timeout=30.0):
    """The node of a site that says it is the leader (bounded wait)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        for n in nodes:
            st, body = req(n.port, "GET", "/healthz", timeout=2)
            try:
                h = json.loads(body) if st == 200 else {}
            except ValueError:
                h = {}
            if h.get("leader") is not None and h.get("leader") == h.get("node_id"):
                return n
        time.sleep(0.05)
    raise RuntimeError("no leader found in a site")


def admin_json(port, method, path, body=None, expect=(200,)):
    hdrs = {"Authorization": basic_auth()}
    if body is not None:
        hdrs["Content-Type"] = "application/json"
        body = json.dumps(body)
    st, text = req(port, method, path, hdrs, body)
    if st not in expect:
        raise RuntimeError(f"{method} {path} on :{port}: HTTP {st}: {text[:300]}")
    return text


def fed_digest(port):
    st, body = req(port, "GET", "/access/api/v1/system/federation/digest", {"Authorization": basic_auth()})
    try:
        return json.loads(body) if st == 200 else None
    except ValueError:
        return None


def link_states(port):
    st, body = req(port, "GET", "/access/api/v1/system/federation", {"Authorization": basic_auth()})
    try:
        return [p.get("status", {}) for p in json.loads(body)] if st == 200 else []
    except ValueError:
        return []


def federate(a, b):
    """Trust each other's root certificate (bound to the service id), then link both ways."""
    sid = {}
    for src, dst, name in ((a, b, "site-a"), (b, a, "site-b")):
        cert = admin_json(src.port, "GET", "/access/api/v1/cert/root")
        sid[name] = admin_json(src.port, "GET", "/access/api/v1/system/service_id").strip()
        admin_json(dst.port, "POST", "/access/api/v1/cert/trusted",
                   {"name": name, "certificate": cert, "service_id": sid[name]}, expect=(200, 201))
    for src, dst, name in ((a, b, "site-b"), (b, a, "site-a")):
        admin_json(src.port, "POST", "/access/api/v1/system/federation",
                   {"name": name, "url": f"http://127.0.0.1:{dst.port}"}, expect=(201,))
    return sid["site-a"], sid["site-b"]


def wait_links_ok(la, lb, timeout=60.0):
    """Seconds until both sites say every link is ok (RuntimeError after `timeout`)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        sa, sb = link_states(la.port), link_states(lb.port)
        if sa and sb and all(s.get("state") == "ok" for s in sa + sb):
            return round(time.monotonic() - t0, 3)
        time.sleep(0.1)
    raise RuntimeError(f"links not ok after {timeout:.0f} s: A {link_states(la.port)} B {link_states(lb.port)}")


def issue_revocable(conn, auth):
    st, body = conn.call("POST", "/access/api/v1/tokens",
                         {"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"},
                         urllib.parse.urlencode({"username": FED_USER, "expires_in": "0"}))
    if st != 200:
        raise RuntimeError(f"issue at site A: HTTP {st}: {body[:200]}")
    return json.loads(body)["access_token"]


def fed_revocation_lag(a_port, b_ports, auth, samples):
    """Issue at A, wait until every node of B accepts it, revoke at A; ms from the revoke's
    200 until every node of B answers 401 (each pending node polled about every 2 ms)."""
    a = KeepAlive(a_port)
    bs = [KeepAlive(p, timeout=5) for p in b_ports]
    path = "/access/api/v1/system/ping"
    maxes, per_node, create_ms, revoke_ms, failures, first_round = [], [[] for _ in b_ports], [], [], 0, 0
    for _ in range(samples):
        tok = issue_revocable(a, auth)
        hdr = {"Authorization": "Bearer " + tok}
        t_c = time.monotonic()
        pending = set(range(len(bs)))
        while pending and time.monotonic() - t_c < 10:
            order = list(pending)
            for i in order:
                bs[i].send("GET", path, hdr)
            for i in order:
                if bs[i].recv()[0] == 200:
                    pending.discard(i)
            if pending:
                time.sleep(0.002)
        if pending:
            failures += 1
            continue
        create_ms.append((time.monotonic() - t_c) * 1000)
        t_req = time.monotonic()
        st, body = a.call("POST", "/access/api/v1/tokens/revoke",
                          {"Authorization": basic_auth(), "Content-Type": "application/x-www-form-urlencoded"},
                          urllib.parse.urlencode({"token": tok}))
        t0 = time.monotonic()
        if st != 200:
            failures += 1
            continue
        revoke_ms.append((t0 - t_req) * 1000)
        seen, rounds = {}, 0
        pending = set(range(len(bs)))
        while pending and time.monotonic() - t0 < 10:
            rounds += 1
            order = list(pending)
            for i in order:
                bs[i].send("GET", path, hdr)
            for i in order:
                if bs[i].recv()[0] == 401:
                    seen[i] = (time.monotonic() - t0) * 1000
                    pending.discard(i)
            if pending:
                time.sleep(0.002)
        if pending:
            failures += 1
            continue
        for i, ms in seen.items():
            per_node[i].append(ms)
        first_round += rounds == 1
        maxes.append(max(seen.values()))
    for c in bs + [a]:
        c.close()
    return {
        "samples": len(maxes), "failures": failures, "all_rejected_on_first_poll": first_round,
        "p50_ms": pct(maxes, 50), "p99_ms": pct(maxes, 99), "max_ms": pct(maxes, 100),
        "per_node_p99_ms": [pct(x, 99) for x in per_node],
        "revoke_request_p50_ms": pct(revoke_ms, 50),
        "create_valid_everywhere_p50_ms": pct(create_ms, 50),
        "create_valid_everywhere_p99_ms": pct(create_ms, 99),
    }


def fed_throughput(a_port, b_port, a_origin, auth, count, threads=FED_THREADS, timeout=300.0):
    """Issue `count` revocable tokens at A from a thread pool; events/s = count / seconds until
    B's vector for A's origin reaches A's (B has applied every one of them)."""
    local = threading.local()
    errors = []

    def one(_):
        if not hasattr(local, "conn"):
            local.conn = KeepAlive(a_port)
        try:
            issue_revocable(local.conn, auth)
            return True
        except (RuntimeError, OSError, http.client.HTTPException, ValueError) as e:
            if len(errors) < 5:
                errors.append(str(e)[:200])
            return False

    d0 = fed_digest(a_port) or {}
    a_seq0 = (d0.get("vector") or {}).get(a_origin, 0)
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        made = sum(pool.map(one, range(count)))
    t_issued = time.monotonic()
    target = ((fed_digest(a_port) or {}).get("vector") or {}).get(a_origin)
    if target is None:
        raise RuntimeError(f"site A's digest has no vector entry for its own origin {a_origin}")
    t_b, polls, b_seq = None, 0, None
    while time.monotonic() - t_issued < timeout:
        polls += 1
        b_seq = ((fed_digest(b_port) or {}).get("vector") or {}).get(a_origin, 0)
        if b_seq >= target:
            t_b = time.monotonic()
            break
        time.sleep(0.01)
    issue_s = t_issued - t0
    r = {"tokens": count, "issued_ok": made, "threads": threads, "issue_errors": errors,
         "origin_events": target - a_seq0, "issue_s": round(issue_s, 3),
         "local_issue_rps": round(made / max(issue_s, 1e-6), 1), "vector_polls": polls,
         "reached": t_b is not None, "b_seq": b_seq, "a_seq": target}
    if t_b is not None:
        el = t_b - t0
        r["replicated_s"] = round(el, 3)
        r["tail_after_issue_s"] = round(t_b - t_issued, 3)
        r["events_per_s"] = round(made / max(el, 1e-6), 1)
        r["ratio_to_local_issue"] = round(r["events_per_s"] / max(r["local_issue_rps"], 1e-6), 3)
    # then the digests themselves (the vector says B has A's events; the digest says the
    # federated state matches record for record)
    t_d = time.monotonic()
    equal = False
    while time.monotonic() - t_d < 30:
        da, db = fed_digest(a_port), fed_digest(b_port)
        if da and db and da.get("digest") == db.get("digest"):
            equal = True
            break
        time.sleep(0.1)
    r["digests_equal"] = equal
    r["digest_wait_s"] = round(time.monotonic() - t_d, 3)
    if da and db:
        r["counts_a"], r["counts_b"] = da.get("counts"), db.get("counts")
    return r


def phase_federation(b, results):
    results["federation"] = r = {}
    log("federation: two sites of 3 nodes each (two Raft clusters)")
    site_a, site_b = start_site("a"), start_site("b")
    la, lb = site_leader(site_a), site_leader(site_b)
    r["site_a_ports"] = [n.port for n in site_a]
    r["site_b_ports"] = [n.port for n in site_b]
    a_sid, b_sid = federate(la, lb)
    r["service_ids"] = {"a": a_sid, "b": b_sid}
    r["link_up_s"] = wait_links_ok(la, lb)
    log(f"  trust + links both ways; both links ok {r['link_up_s']:.2f}s later")
    auth = "Bearer " + mint_admin(la.port)
    n = b.args.fed_samples
    log(f"  revocation lag: {n} samples (issue + revoke at A's leader, poll the 3 nodes of B)")
    t0 = time.monotonic()
    r["revocation_lag"] = v = fed_revocation_lag(la.port, [x.port for x in site_b], auth, n)
    log(f"  revoke at A -> 401 on every node of B: p50 {v['p50_ms']} ms  p99 {v['p99_ms']} ms  "
        f"max {v['max_ms']} ms ({v['samples']} samples, {v['failures']} failed, "
        f"create -> valid on B p50 {v['create_valid_everywhere_p50_ms']} ms, {time.monotonic() - t0:.1f}s)")
    m = b.args.fed_tokens
    log(f"  events/s: {m} revocable tokens issued at A's leader by {FED_THREADS} threads, until B's vector has them")
    r["throughput"] = e = fed_throughput(la.port, lb.port, a_sid, auth, m)
    log(f"  issued {e['issued_ok']} in {e['issue_s']:.2f}s = {e['local_issue_rps']:,.0f}/s at A; "
        + (f"on B after {e['replicated_s']:.2f}s = {e['events_per_s']:,.0f} events/s "
           f"({e['ratio_to_local_issue']:.2f} of the local issue rate)" if e["reached"] else "B never caught up")
        + f"; digests equal: {e['digests_equal']}")
    r["links_end"] = {"a": link_states(la.port), "b": link_states(lb.port)}
    r["rss_kib_end"] = {"a": [proc_status(x.pid).get("VmRSS") for x in site_a],
                        "b": [proc_status(x.pid).get("VmRSS") for x in site_b]}
    for x in reversed(site_a + site_b):
        x.stop(signal.SIGTERM)
