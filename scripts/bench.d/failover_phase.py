"""Failover phase: a 3-node cluster with default Raft settings under a steady write stream
(WRITERS_PER_NODE Python threads per node, each creating revocable tokens through its node).

1. leader kill -9, N rounds: time from the kill to the first successful write (sent after the
   kill) through each surviving node and through any node; the killed node is restarted and
   caught up before the next round.
2. frozen leader (SIGSTOP): time until writes at each follower succeed again, next to the time
   until a new leader is reported on /healthz; then SIGCONT.
3. paused follower (SIGSTOP for PAUSE_S, SIGCONT): terms and leaders reported by every node over
   the pause and the OBSERVE_S after it (a healthy leader must stay).
Every /healthz is polled every POLL_S by one thread per node; all waits are bounded.
"""
import bisect
import http.client
import os
import signal
import threading
import time
import urllib.parse

from cluster import health, last_applied, leader_of, mint_admin, start_cluster
from common import log, pct


USER = "failover-bench"
WRITERS_PER_NODE = 2
PACE_S = 0.01  # between a writer's successful writes: a steady stream, not a flood
RETRY_S = 0.005  # after a failed write
# Longer than any wait inside the server: a write held by a node is timed by the node's answer,
# not cut short by the client.
WRITE_TIMEOUT_S = 30.0
POLL_S = 0.02
PAUSE_S = 3.0
OBSERVE_S = 5.0
WAIT_S = 30.0


class WriteStream:
    """Writer threads; every attempt is kept as (node index, sent, answered, HTTP status or None)."""

    def __init__(self, nodes, bearer):
        self.nodes = nodes
        self.hdr = {"Authorization": "Bearer " + bearer, "Content-Type": "application/x-www-form-urlencoded"}
        self.body = urllib.parse.urlencode({"username": USER, "expires_in": "0"})
        self.stop_ev = threading.Event()
        self.attempts = []
        self.ok = [[] for _ in nodes]  # per node: (answered, sent) of each 200, in answer order
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True)
                        for i in range(len(nodes)) for _ in range(WRITERS_PER_NODE)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join(timeout=WRITE_TIMEOUT_S + 5)

    def run(self, i):
        conn = None
        while not self.stop_ev.is_set():
            t0, status = time.monotonic(), None
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.nodes[i].port, timeout=WRITE_TIMEOUT_S)
                conn.request("POST", "/access/api/v1/tokens", body=self.body, headers=self.hdr)
                resp = conn.getresponse()
                resp.read()
                status = resp.status
            except (OSError, http.client.HTTPException):
                if conn is not None:
                    conn.close()
                conn = None
            t1 = time.monotonic()
            self.attempts.append((i, t0, t1, status))  # list.append is atomic
            if status == 200:
                self.ok[i].append((t1, t0))
            self.stop_ev.wait(PACE_S if status == 200 else RETRY_S)
        if conn is not None:
            conn.close()

    def first_ok(self, i, since):
        """Answer time of the first 200 through node i among writes sent at or after `since`."""
        oks = self.ok[i]
        for k in range(bisect.bisect_left(oks, (since,)), len(oks)):
            if oks[k][1] >= since:
                return oks[k][0]
        return None

    def wait_ok(self, idxs, since, timeout=WAIT_S):
        """{node index: seconds from `since` to its first successful write sent after `since`}."""
        got = {}
        while time.monotonic() - since < timeout and len(got) < len(idxs):
            for i in idxs:
                if i not in got:
                    t = self.first_ok(i, since)
                    if t is not None:
                        got[i] = round(t - since, 4)
            time.sleep(0.01)
        return {i: got.get(i) for i in idxs}

    def counts(self, idxs, t_from, t_to):
        ok = sum(1 for (j, t0, _, st) in list(self.attempts) if j in idxs and t_from <= t0 < t_to and st == 200)
        bad = sum(1 for (j, t0, _, st) in list(self.attempts) if j in idxs and t_from <= t0 < t_to and st != 200)
        return ok, bad


class Monitor:
    """One thread per node polling /healthz; samples (time, node index, state, term, leader)."""

    def __init__(self, nodes):
        self.nodes = nodes
        self.stop_ev = threading.Event()
        self.samples = []
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(len(nodes))]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join(timeout=5)

    def run(self, i):
        while not self.stop_ev.is_set():
            h = health(self.nodes[i].port, timeout=0.5) or {}
            self.samples.append((time.monotonic(), i, h.get("state"), h.get("term"), h.get("leader")))
            self.stop_ev.wait(POLL_S)

    def window(self, t_from, t_to=None):
        return [s for s in list(self.samples) if s[0] >= t_from and (t_to is None or s[0] < t_to)]

    def wait_new_leader(self, since, old_id, old_term, idxs, timeout=WAIT_S):
        """Seconds from `since` until one of idxs reports a leader other than old_id in a later term."""
        while time.monotonic() - since < timeout:
            for (t, i, state, term, leader) in self.window(since):
                if i in idxs and term is not None and term > old_term and (
                        state == "Leader" or leader not in (None, old_id)):
                    return round(t - since, 4)
            time.sleep(0.02)
        return None


def settle(nodes, ws):
    """Until a write sent from now on has succeeded through every node (bounded)."""
    got = ws.wait_ok(list(range(len(nodes))), time.monotonic())
    if any(v is None for v in got.values()):
        raise RuntimeError(f"writes do not succeed through every node: {got}")


def caught_up(node, others, timeout=120.0):
    """Seconds until `node` has applied what the others had applied when this was called."""
    t0 = time.monotonic()
    target = max((last_applied(o.port) or 0) for o in others)
    while time.monotonic() - t0 < timeout:
        la = last_applied(node.port)
        if la is not None and la >= target:
            return round(time.monotonic() - t0, 3)
        time.sleep(0.05)
    raise RuntimeError(f"{node.name} did not catch up to {target} in {timeout}s")


def kill_round(k, nodes, ws, mon):
    settle(nodes, ws)
    leader, term = leader_of(nodes)
    li = nodes.index(leader)
    surv = [i for i in range(len(nodes)) if i != li]
    t_k = time.monotonic()
    leader.stop(signal.SIGKILL)
    firsts = ws.wait_ok(surv, t_k)
    elected = mon.wait_new_leader(t_k, leader.node_id, term, surv)
    leader.proc = None
    t_r = time.monotonic()
    leader.start()
    leader.wait_ready(timeout=120)
    ready = round(time.monotonic() - t_r, 3)
    catch = caught_up(leader, [nodes[i] for i in surv])
    got = [v for v in firsts.values() if v is not None]
    r = {"round": k, "killed_node": leader.node_id, "term_before": term,
         "first_write_s": {str(nodes[i].node_id): v for i, v in firsts.items()},
         "any_s": min(got) if got else None, "new_leader_s": elected,
         "restart_ready_s": ready, "catch_up_s": catch}
    log(f"  kill -9 #{k} leader node {leader.node_id} (term {term}): first write through any node "
          f"{r['any_s']} s, per node {r['first_write_s']}, new leader reported {elected} s; "
          f"restarted in {ready} s, caught up {catch} s later")
    return r


def freeze_leader(nodes, ws, mon):
    settle(nodes, ws)
    leader, term = leader_of(nodes)
    li = nodes.index(leader)
    surv = [i for i in range(len(nodes)) if i != li]
    t_s = time.monotonic()
    os.kill(leader.pid, signal.SIGSTOP)
    try:
        firsts = ws.wait_ok(surv, t_s)
        elected = mon.wait_new_leader(t_s, leader.node_id, term, surv)
    finally:
        os.kill(leader.pid, signal.SIGCONT)
    t_c = time.monotonic()
    new_leader, new_term = leader_of(nodes)  # includes the old leader: it names the new one
    rejoined = round(time.monotonic() - t_c, 3)
    catch = caught_up(leader, [nodes[i] for i in surv])
    got = [v for v in firsts.values() if v is not None]
    all_s = max(got) if len(got) == len(firsts) else None
    r = {"frozen_node": leader.node_id, "term_before": term, "frozen_s": round(t_c - t_s, 3),
         "writes_resumed_s": {str(nodes[i].node_id): v for i, v in firsts.items()},
         "writes_resumed_any_s": min(got) if got else None, "writes_resumed_all_s": all_s,
         "new_leader_s": elected, "new_leader_node": new_leader.node_id, "term_after": new_term,
         "resumed_minus_elected_s": round(all_s - elected, 4) if all_s is not None and elected is not None else None,
         "old_leader_follows_after_cont_s": rejoined, "old_leader_caught_up_s": catch}
    log(f"  SIGSTOP leader node {leader.node_id}: writes at followers resumed {r['writes_resumed_s']} s, "
          f"new leader reported {elected} s (node {new_leader.node_id}, term {new_term}); after SIGCONT it "
          f"follows in {rejoined} s")
    return r


def pause_follower(nodes, ws, mon):
    settle(nodes, ws)
    leader, term = leader_of(nodes)
    fi = next(i for i, n in enumerate(nodes) if n is not leader)
    others = [i for i in range(len(nodes)) if i != fi]
    t_p = time.monotonic()
    os.kill(nodes[fi].pid, signal.SIGSTOP)
    try:
        time.sleep(PAUSE_S)
    finally:
        os.kill(nodes[fi].pid, signal.SIGCONT)
    t_c = time.monotonic()
    time.sleep(OBSERVE_S)
    t_end = time.monotonic()
    samples = mon.window(t_p, t_end)
    terms = sorted({s[3] for s in samples if s[3] is not None})
    leaders = sorted({s[4] for s in samples if s[4] is not None})
    changes = 0
    for i in range(len(nodes)):
        seq = [s[4] for s in samples if s[1] == i and s[4] is not None]
        changes += sum(1 for a, b in zip(seq, seq[1:]) if a != b)
    ok, bad = ws.counts(others, t_p, t_end)
    back = ws.wait_ok([fi], t_c)[fi]
    r = {"paused_node": nodes[fi].node_id, "leader_node": leader.node_id, "term_before": term,
         "pause_s": round(t_c - t_p, 3), "observed_after_s": OBSERVE_S,
         "terms_seen": terms, "term_changes": sum(1 for t in terms if t != term),
         "leaders_seen": leaders, "leader_changes": changes,
         "writes_elsewhere_ok": ok, "writes_elsewhere_failed": bad,
         "paused_node_first_write_after_cont_s": back}
    log(f"  SIGSTOP follower node {nodes[fi].node_id} for {PAUSE_S:.0f} s: terms seen {terms} (before {term}), "
          f"leaders seen {leaders}, leader changes {changes}; writes through the other nodes meanwhile "
          f"{ok} ok / {bad} failed; its first write after SIGCONT {back} s")
    return r


def phase_failover(b, results):
    n = b.args.failover_rounds
    r = results["failover"] = {"rounds_asked": n, "writers_per_node": WRITERS_PER_NODE,
                               "writer_pause_ms": PACE_S * 1000, "healthz_poll_ms": POLL_S * 1000,
                               "settings": "defaults (no raft.* overrides)"}
    log(f"failover: 3 nodes (default settings), {WRITERS_PER_NODE} writer threads per node; "
          f"{n} leader kills, a frozen leader, a paused follower")
    nodes = start_cluster("fo")
    ws = mon = None
    try:
        admin = mint_admin(nodes[0].port)
        mon = Monitor(nodes).start()
        ws = WriteStream(nodes, admin).start()
        r["kills"] = rounds = [kill_round(k + 1, nodes, ws, mon) for k in range(n)]
        anys = [x["any_s"] for x in rounds if x["any_s"] is not None]
        each = [v for x in rounds for v in x["first_write_s"].values() if v is not None]
        elect = [x["new_leader_s"] for x in rounds if x["new_leader_s"] is not None]
        r["kill_summary"] = {
            "rounds": len(rounds), "no_write_within_s": WAIT_S,
            "rounds_without_write": sum(1 for x in rounds if x["any_s"] is None),
            "any_p50_s": pct(anys, 50), "any_p99_s": pct(anys, 99), "any_max_s": pct(anys, 100),
            "each_p50_s": pct(each, 50), "each_p99_s": pct(each, 99), "each_max_s": pct(each, 100),
            "new_leader_p50_s": pct(elect, 50), "new_leader_p99_s": pct(elect, 99)}
        r["freeze_leader"] = freeze_leader(nodes, ws, mon)
        r["pause_follower"] = pause_follower(nodes, ws, mon)
        r["writes"] = {"attempts": len(ws.attempts), "ok": sum(1 for a in ws.attempts if a[3] == 200)}
    finally:
        if ws:
            ws.stop()
        if mon:
            mon.stop()
        for node in nodes:
            if node.proc is not None and node.proc.poll() is None:
                os.kill(node.pid, signal.SIGCONT)
        for node in reversed(nodes):
            if node.proc is not None:
                node.stop(signal.SIGTERM)


def targets(res, add, g):
    f = res.get("failover")
    if not f:
        return
    add("3 nodes: leader kill -9 -> first write through any node, p99 vs 1.5 s",
        g(f, "kill_summary", "any_p99_s"), 1.5, 1.0, higher=False, unit="s")
    add("3 nodes: leader kill -9 -> first write through each survivor, p99 vs 1.5 s (extra)",
        g(f, "kill_summary", "each_p99_s"), 1.5, 1.0, higher=False, unit="s")
    # Writes need a leader, so they cannot resume before one is elected; 0.2 s covers the
    # writers' and the /healthz poll's intervals. A write stuck behind the frozen leader shows
    # up as seconds here.
    add("3 nodes: frozen leader: writes at both followers resume - new leader reported, vs 0.2 s",
        g(f, "freeze_leader", "resumed_minus_elected_s"), 0.2, 1.0, higher=False, unit="s")
    tc = g(f, "pause_follower", "term_changes")
    add(f"3 nodes: follower back from a {PAUSE_S:.0f} s pause: term changes (need 0)", tc, 1.0, 0.0,
        higher=False, unit="")


def report(res):
    f = res.get("failover")
    if not f:
        return
    print("-" * 133)
    s = f.get("kill_summary")
    sec = lambda x: "-" if x is None else f"{x:.3f}"
    if s:
        print(f"failover leader kill -9 x{s['rounds']} -> first write (sent after the kill) through any node: "
              f"p50 {sec(s['any_p50_s'])} s, p99 {sec(s['any_p99_s'])} s, max {sec(s['any_max_s'])} s; "
              f"through each survivor p50 {sec(s['each_p50_s'])} / p99 {sec(s['each_p99_s'])} / "
              f"max {sec(s['each_max_s'])} s; new leader reported p50 {sec(s['new_leader_p50_s'])} s"
              + (f"; {s['rounds_without_write']} rounds without a write in {s['no_write_within_s']:.0f} s"
                 if s["rounds_without_write"] else ""))
        print("failover   per round (any node s): " + ", ".join(sec(x["any_s"]) for x in f.get("kills", [])))
    z = f.get("freeze_leader")
    if z:
        print(f"failover SIGSTOP leader for {z['frozen_s']:.2f} s: writes at followers resumed "
              f"{', '.join(f'node {k} {sec(v)} s' for k, v in z['writes_resumed_s'].items())}; new leader reported "
              f"{sec(z['new_leader_s'])} s (node {z['new_leader_node']}); gap {sec(z['resumed_minus_elected_s'])} s; "
              f"after SIGCONT the old leader follows in {sec(z['old_leader_follows_after_cont_s'])} s")
    p = f.get("pause_follower")
    if p:
        print(f"failover SIGSTOP follower node {p['paused_node']} for {p['pause_s']:.1f} s, watched "
              f"{p['observed_after_s']:.0f} s more: term changes {p['term_changes']}, leader changes "
              f"{p['leader_changes']} (terms {p['terms_seen']}, leaders {p['leaders_seen']}); writes through the "
              f"others {p['writes_elsewhere_ok']} ok / {p['writes_elsewhere_failed']} failed")
