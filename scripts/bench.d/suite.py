"""The baselines (openssl speed, plaintext rate) and the one-node and three-node phases: the
common suite of issue / validate / revoke measurements and revocation visibility."""
import http.client
import os
import re
import signal
import statistics
import subprocess
import time

from cluster import Nginx, Node, mint_admin
from common import PROCS, RUN, WRITE_CONNS, log, median_run, pct, proc_status, read_capture, write_lines
from wrk import ISSUE_ROUNDS, VALIDATION_ROUNDS, premint


def openssl_rsa2048(seconds):
    """(sign/s, verify/s) of one core from `openssl speed rsa2048`, or (None, None)."""
    out = subprocess.run(["openssl", "speed", "-seconds", str(seconds), "rsa2048"], capture_output=True,
                         text=True, timeout=120).stdout
    m = re.search(r"^rsa\s+2048 bits\s+\S+s\s+\S+s\s+([\d.]+)\s+([\d.]+)", out, re.M)
    return (float(m.group(1)), float(m.group(2))) if m else (None, None)


def phase_baselines(results):
    log("baselines: openssl speed -seconds 3 rsa2048 (one core)")
    sign, verify = openssl_rsa2048(3)
    cores = os.cpu_count()
    try:
        cores = int(subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip())
    except (OSError, ValueError):
        pass
    results["baselines"] = {"rsa2048_sign_per_s_1core": sign, "rsa2048_verify_per_s_1core": verify,
                            "rsa2048_runs": [[sign, verify]] if sign else [],
                            "cores": cores, "openssl": subprocess.run(
                                ["openssl", "version"], capture_output=True, text=True).stdout.strip()}
    log(f"  RSA-2048 sign {sign}/s, verify {verify}/s per core; {cores} cores")


def rsa_round(results):
    """One more `openssl speed` between measurement rounds. The RSA baseline is the median of all
    its runs, so it comes from the same windows as the rates compared with it: one 3 s run at the
    start read 20 % low once, and moved the validation ratios by as much."""
    b = results.get("baselines")
    if not b or "rsa2048_runs" not in b:
        return
    sign, verify = openssl_rsa2048(1)
    if sign is None:
        return
    runs = b["rsa2048_runs"]
    runs.append([sign, verify])
    b["rsa2048_sign_per_s_1core"] = round(statistics.median(r[0] for r in runs), 1)
    b["rsa2048_verify_per_s_1core"] = round(statistics.median(r[1] for r in runs), 1)
    log(f"  openssl speed rsa2048 (run {len(runs)}): sign {sign}/s, verify {verify}/s per core; "
        f"medians so far {b['rsa2048_sign_per_s_1core']}/s, {b['rsa2048_verify_per_s_1core']}/s")


def common_suite(b, results_key, results, port, pids, lb_pids=(), D=10):
    """The shared measurement list (one node or through the load balancer)."""
    r = results[results_key]
    W = dict(server_pids=pids, lb_pids=lb_pids)
    admin = mint_admin(port)
    cap = os.path.join(RUN, f"{results_key}-revocable")
    # The two issuance rates are compared, so they run in turns too and each keeps its median.
    issue = {"issue_nonrevocable": [], "issue_revocable": []}
    for k in range(ISSUE_ROUNDS):
        tag = f" (round {k + 1}/{ISSUE_ROUNDS})"
        issue["issue_nonrevocable"].append(b.wrk("issue non-revocable" + tag, "issue.lua", port, 2, 16,
                                                 D * 0.6, {"BENCH_AUTH": "Bearer " + admin,
                                                           "BENCH_EXPIRES_IN": 3600}, **W))
        issue["issue_revocable"].append(b.wrk("issue revocable" + tag, "issue.lua", port, 2, WRITE_CONNS,
                                              D * 0.6, {"BENCH_AUTH": "Bearer " + admin, "BENCH_EXPIRES_IN": 0,
                                                        "BENCH_CAPTURE": cap}, **W))
    for key, rs in issue.items():
        r[key] = median_run(rs)
    revocable = read_capture(cap)
    toks, pm = premint(b, port, admin, b.args.distinct, 3600, f"{results_key}-distinct", pids)
    r["premint_nonrevocable"] = {"count": len(toks), "seconds": pm["duration_s"], "rps": pm["rps"],
                                 "non2xx": pm["non2xx"]}
    tokfile = write_lines(os.path.join(RUN, f"{results_key}-distinct.txt"), [t for _, t in toks])
    # The plaintext baseline and the two validations it is compared with run in turns, five
    # rounds, and each keeps its median: on this kind of shared machine one run drifts by up
    # to 20 %, so a ratio of two single runs taken a minute apart says little. An openssl run
    # follows each round for the RSA baseline of the same windows.
    runs = {"ping_anonymous": [], "ping_token_sized": [], "validate_distinct": [], "validate_repeated": []}
    # The plaintext ping again, with a header the size of "Authorization: Bearer <token>" that
    # the node ignores: what a validation's longer request costs the kernel and wrk by itself.
    pad = {"BENCH_HEADERS": "X-Token-Sized: " + "x" * len("Bearer " + toks[0][1])}
    for k in range(VALIDATION_ROUNDS):
        tag = f" (round {k + 1}/{VALIDATION_ROUNDS})"
        runs["ping_anonymous"].append(b.wrk("ping anonymous (plaintext)" + tag, "ping.lua", port, 2, 32,
                                            D * 0.6, {}, **W))
        runs["ping_token_sized"].append(b.wrk("ping anonymous, token-sized header" + tag, "ping.lua", port,
                                              2, 32, D * 0.6, pad, **W))
        runs["validate_distinct"].append(b.wrk(f"validate distinct ({len(toks)} tokens)" + tag, "validate.lua",
                                               port, 2, 32, D * 0.6, {"BENCH_TOKENS": tokfile}, **W))
        runs["validate_repeated"].append(b.wrk("validate repeated (1 token)" + tag, "ping.lua", port, 2, 32,
                                               D * 0.6, {"BENCH_AUTH": "Bearer " + toks[0][1]}, **W))
        rsa_round(results)
    for key, rs in runs.items():
        r[key] = median_run(rs)
    r["validate_distinct_strict"] = b.wrk("validate distinct, X-Access-Consistency: strict",
                                          "validate.lua", port, 2, 32, D,
                                          {"BENCH_TOKENS": tokfile,
                                           "BENCH_HEADERS": "X-Access-Consistency: strict"}, **W)
    if revocable:
        idfile = write_lines(os.path.join(RUN, f"{results_key}-revoke-ids.txt"), [i for i, _ in revocable])
        r["revoke"] = b.wrk(f"revoke (up to {len(revocable)} ids)", "revoke.lua", port, 2, WRITE_CONNS, D,
                            {"BENCH_AUTH": "Bearer " + admin, "BENCH_IDS": idfile}, limited=True, **W)
    return admin


def phase_single(b, results):
    log("one node: starting")
    results["single"] = {}
    node = Node("single").start()
    results["single"]["startup_s"] = round(node.wait_ready(), 3)
    common_suite(b, "single", results, node.port, [node.pid], D=b.args.duration)
    results["single"]["rss_kib_end"] = proc_status(node.pid).get("VmRSS")
    node.stop(signal.SIGTERM)


def visibility(port_lb, node_ports, admin, samples, b, pids):
    """Revoke through the LB; poll every node directly until each answers 401."""
    toks, _ = premint(b, port_lb, admin, samples, 0, "cluster-visibility", pids, threads=1, conns=4)
    conns = [http.client.HTTPConnection("127.0.0.1", p, timeout=5) for p in node_ports]
    lb = http.client.HTTPConnection("127.0.0.1", port_lb, timeout=10)
    sent = {}

    def ask(i, tok):
        """Sends a validation to node i (keep-alive; reconnects if the node closed the socket)."""
        for attempt in (0, 1):
            try:
                conns[i].request("GET", "/api/system/ping", headers={"Authorization": "Bearer " + tok})
                sent[i] = tok
                return
            except (OSError, http.client.HTTPException):
                conns[i].close()
                if attempt:
                    raise

    def answer(i):
        try:
            r = conns[i].getresponse()
            r.read()
            return r.status
        except (OSError, http.client.HTTPException):
            conns[i].close()
            ask(i, sent[i])  # once more on a fresh connection
            r = conns[i].getresponse()
            r.read()
            return r.status

    maxes, per_node, revoke_ms, failures, warm_wait = [], [[] for _ in node_ports], [], 0, []
    first_round = 0
    for tid, tok in toks[:samples]:
        # 1. warm: every node must accept the token first (it was created through the LB)
        t_w = time.monotonic()
        pending = set(range(len(node_ports)))
        while pending and time.monotonic() - t_w < 5:
            for i in list(pending):
                ask(i, tok)
            for i in list(pending):
                if answer(i) == 200:
                    pending.discard(i)
            if pending:
                time.sleep(0.001)
        if pending:
            failures += 1
            continue
        warm_wait.append((time.monotonic() - t_w) * 1000)
        # 2. revoke through the load balancer
        t_req = time.monotonic()
        lb.request("DELETE", f"/access/api/v1/tokens/{tid}", headers={"Authorization": "Bearer " + admin})
        resp = lb.getresponse()
        resp.read()
        t0 = time.monotonic()
        if resp.status // 100 != 2:
            failures += 1
            continue
        revoke_ms.append((t0 - t_req) * 1000)
        # 3. poll all nodes (one request in flight per node) until each rejects the token
        seen = {}
        pending = set(range(len(node_ports)))
        rounds = 0
        while pending and time.monotonic() - t0 < 5:
            rounds += 1
            order = list(pending)
            for i in order:
                ask(i, tok)
            for i in order:
                st = answer(i)
                if st == 401:
                    seen[i] = (time.monotonic() - t0) * 1000
                    pending.discard(i)
        if pending:
            failures += 1
            continue
        for i, ms in seen.items():
            per_node[i].append(ms)
        first_round += rounds == 1
        maxes.append(max(seen.values()))
    for c in conns + [lb]:
        c.close()

    return {
        "samples": len(maxes), "failures": failures,
        # samples where every node already answered 401 to the first poll sent after the 2xx
        # (then the figure is just the poll round trip: the measurement's resolution)
        "all_rejected_on_first_poll": first_round,
        "p50_ms": pct(maxes, 50), "p99_ms": pct(maxes, 99), "max_ms": pct(maxes, 100),
        "per_node_p50_ms": [pct(x, 50) for x in per_node],
        "per_node_p99_ms": [pct(x, 99) for x in per_node],
        "revoke_request_p50_ms": pct(revoke_ms, 50), "revoke_request_p99_ms": pct(revoke_ms, 99),
        "create_visible_everywhere_p50_ms": pct(warm_wait, 50),
        "create_visible_everywhere_p99_ms": pct(warm_wait, 99),
    }


def phase_cluster(b, results):
    log("three nodes + nginx: starting")
    results["cluster"] = {}
    r = results["cluster"]
    n1 = Node("c1", 1, cluster=True).start()
    n1.wait_ready(need_leader=True)
    seeds = f"http://127.0.0.1:{n1.port}"
    nodes = [n1]
    for i in (2, 3):
        n = Node(f"c{i}", i, seeds, cluster=True).start()
        n.wait_ready(need_leader=True)
        nodes.append(n)
    lb = Nginx([n.port for n in nodes])
    pids = [n.pid for n in nodes]
    r["node_ports"] = [n.port for n in nodes]
    r["lb_port"] = lb.port
    admin = common_suite(b, "cluster", results, lb.port, pids, lb.pids(), D=b.args.duration)
    log(f"  revocation visibility: {b.args.samples} samples (revoke via nginx, poll the 3 nodes)")
    t0 = time.monotonic()
    r["revocation_visibility"] = v = visibility(lb.port, [n.port for n in nodes], admin, b.args.samples, b, pids)
    log(f"  revoke -> rejected on every node: p50 {v['p50_ms']} ms  p99 {v['p99_ms']} ms  max {v['max_ms']} ms "
        f"({v['samples']} samples, {v['failures']} failed, {time.monotonic() - t0:.1f}s)")
    r["rss_kib_end"] = [proc_status(p).get("VmRSS") for p in pids]
    try:
        with open(os.path.join(lb.prefix, "error.log")) as f:
            r["nginx_error_log_lines"] = sum(1 for _ in f)
    except OSError:
        pass
    PROCS.stop(lb.proc, signal.SIGQUIT, timeout=10)
    for n in reversed(nodes):
        n.stop(signal.SIGTERM)
