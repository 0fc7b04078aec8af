#!/usr/bin/env python3
"""access-node benchmark driver (stdlib only). Run through scripts/bench, which installs wrk/nginx
and builds the release binary first.

Measures on this machine, in one run: RSA baselines, one node, three nodes behind nginx, the
previous release's binary beside this one (--previous PATH|none, or $BENCH_PREVIOUS_BIN; skipped
without one), an etcd baseline, the write slope (three nodes and a 3-member etcd at N/100, N/4
and N stored revocable tokens / keys), a federation phase (two 3-node sites linked both ways:
revocation lag across sites, replicated events/s), a failover phase, the OIDC exchange and SCIM.
Prints a table and writes target/bench/results.json.
Informational only: nothing here asserts on timings, the exit status is 0 unless the harness
itself breaks (a node does not start, wrk is missing...).

All traffic goes to 127.0.0.1; every loop is bounded in count and in time.

Modules, each importing only those above it (this file is the top; nothing imports it):
  common.py            paths and settings, log, the processes of the run, HTTP, /proc, statistics
  cluster.py           Node, Nginx, starting a cluster, its leader, the admin token
  wrk.py               Bench.wrk (one load run and its CPU), premint
  suite.py             baselines, one node, three nodes behind nginx (phase_single, phase_cluster)
  etcd_phase.py        etcd 1 and 3 members vs our 3 nodes; etcd's bulk fill
  scale_phase.py       the write slope: 3 nodes and etcd at N/100, N/4 and N stored tokens / keys,
                       each step against a reference pair kept at N/100, measured in the same rounds
  previous_phase.py    the previous release's binary beside this one
  federation_phase.py  two 3-node sites linked both ways
  failover_phase.py    leader kill -9 / SIGSTOP, paused follower, under a write stream
  openssl_issuer.py    an OIDC issuer made with openssl (for oidc_phase)
  oidc_phase.py        the OIDC token exchange on one node
  scim_phase.py        SCIM provisioning and deprovisioning on two federated sites
  report.py            targets and the printed report
"""
import argparse
import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import etcd_phase
import failover_phase
import oidc_phase
import previous_phase
import scim_phase
from common import BIN, OUT_DIR, PIDS_FILE, PREV_BIN, PROCS, ROOT, RUN, SRC_BIN, T_START, host_ticks, log, on_signal
from federation_phase import FED_THREADS, phase_federation
from report import print_report, targets
from scale_phase import phase_scale
from suite import phase_baselines, phase_cluster, phase_single
from wrk import Bench


def git_info():
    def run(*a):
        try:
            return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return None
    return {"commit": run("rev-parse", "HEAD"), "dirty": bool(run("status", "--porcelain", "--untracked-files=no"))}


def main():
    ap = argparse.ArgumentParser(description="access-node benchmark (informational; never fails on timings)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 3 s per measurement, 20k tokens, one round where full runs take several")
    ap.add_argument("--tokens", type=int,
                    help="scale: N, the largest of the three stored-token counts (N/100, at least 200; N/4; N) "
                         "(default 1,000,000; quick 20,000)")
    ap.add_argument("--duration", type=float, help="seconds per wrk measurement (default 8; quick 3)")
    ap.add_argument("--fill-budget", type=float,
                    help="scale: max seconds to spend filling tokens over all steps; once used up the step is "
                         "measured at what was reached (default 1500; quick 120)")
    ap.add_argument("--slope-rounds", type=int,
                    help="scale: alternating rounds per step of issue revocable, revoke and etcd put, each via "
                         "a follower; the median is kept (default 3; quick 1)")
    ap.add_argument("--samples", type=int, help="revocation visibility samples (default 200; quick 50)")
    ap.add_argument("--distinct", type=int, default=20000,
                    help="pre-minted tokens for 'validate distinct' (20000; nodes cache only 100 verified tokens)")
    ap.add_argument("--sample", type=int, default=1000,
                    help="scale: distinct tokens validated at the first step and at N (1000)")
    ap.add_argument("--previous", metavar="PATH|none",
                    help="previous release binary for the 'previous' phase (default $BENCH_PREVIOUS_BIN; "
                         "scripts/bench --previous also takes a revision, builds it as scripts/upgrade-check does "
                         "and caches it in target/upgrade/; its default is the newest release in CHANGELOG.md); "
                         "'none' skips the phase")
    ap.add_argument("--previous-rounds", type=int,
                    help="previous: alternating rounds of each measurement per binary (default 3; quick 1)")
    ap.add_argument("--fed-samples", type=int,
                    help="federation: revocations timed from site A to every node of site B (default 50; quick 20)")
    ap.add_argument("--fed-tokens", type=int,
                    help=f"federation: revocable tokens issued at site A ({FED_THREADS} threads) for events/s "
                         "(default 2000; quick 500)")
    ap.add_argument("--etcd-runs", type=int,
                    help="etcd: alternating runs of etcd 3-member puts and our 3-node revocations; the median "
                         "of each side is kept (default 5; quick 1)")
    ap.add_argument("--failover-rounds", type=int,
                    help="failover: leader kills (kill -9), each followed by restart and catch-up (default 10; quick 3)")
    ap.add_argument("--phases", default="baselines,single,cluster,previous,etcd,scale,federation,failover,oidc,scim",
                    help="comma list to run, of baselines, single, cluster, previous, etcd, scale, federation, "
                         "failover, oidc, scim (default: all)")
    a = ap.parse_args()
    a.tokens = a.tokens or (20000 if a.quick else 1000000)
    a.duration = a.duration or (3 if a.quick else 8)
    a.fill_budget = a.fill_budget or (120 if a.quick else 1500)
    a.slope_rounds = max(1, a.slope_rounds or (1 if a.quick else 3))
    a.previous_rounds = max(1, a.previous_rounds or (1 if a.quick else 3))
    a.previous = a.previous or os.environ.get("BENCH_PREVIOUS_BIN") or None
    if a.previous == "none":
        a.previous = None
    if a.previous and not os.path.isfile(a.previous):
        log(f"WARNING: previous binary {a.previous} does not exist: the previous phase is skipped")
        a.previous = None
    a.samples = a.samples or (50 if a.quick else 200)
    a.fed_samples = a.fed_samples or (20 if a.quick else 50)
    a.fed_tokens = a.fed_tokens or (500 if a.quick else 2000)
    a.failover_rounds = max(1, a.failover_rounds or (3 if a.quick else 10))
    a.etcd_runs = max(1, a.etcd_runs or (1 if a.quick else 5))
    a.tokens = max(1, a.tokens)
    phases = [p.strip() for p in a.phases.split(",") if p.strip()]

    if os.path.isdir(RUN):
        shutil.rmtree(RUN)
    os.makedirs(RUN)
    shutil.copy2(SRC_BIN, BIN)
    if a.previous:
        shutil.copy2(a.previous, PREV_BIN)
    open(PIDS_FILE, "w").close()
    atexit.register(PROCS.stop_all)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)

    res = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "mode": "quick" if a.quick else "full",
           "settings": {"duration_s": a.duration, "tokens": a.tokens, "fill_budget_s": a.fill_budget,
                        "visibility_samples": a.samples, "distinct_tokens": a.distinct,
                        "scale_sample": a.sample, "federation_samples": a.fed_samples,
                        "federation_tokens": a.fed_tokens, "failover_rounds": a.failover_rounds,
                        "etcd_runs": a.etcd_runs, "slope_rounds": a.slope_rounds,
                        "previous_rounds": a.previous_rounds, "previous_binary": a.previous},
           "host": {"cores": os.cpu_count(), "mem_total_kib": None, "uname": " ".join(os.uname())},
           "binary": {"path": SRC_BIN, "mtime": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.path.getmtime(SRC_BIN))),
                      "build_failed_used_existing": bool(os.environ.get("BENCH_BUILD_FAILED"))},
           "git": git_info(),
           "phase_seconds": {}, "errors": {}}
    try:
        with open("/proc/meminfo") as f:
            res["host"]["mem_total_kib"] = int(f.readline().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    b = Bench(a)
    out_json = os.path.join(OUT_DIR, "results.json")
    funcs = {"baselines": lambda: phase_baselines(res), "single": lambda: phase_single(b, res),
             "cluster": lambda: phase_cluster(b, res), "scale": lambda: phase_scale(b, res),
             "previous": lambda: previous_phase.phase_previous(b, res),
             "federation": lambda: phase_federation(b, res),
             "etcd": lambda: etcd_phase.phase_etcd(b, res),
             "failover": lambda: failover_phase.phase_failover(b, res),
             "oidc": lambda: oidc_phase.phase_oidc(b, res),
             "scim": lambda: scim_phase.phase_scim(b, res)}
    for ph in phases:
        if ph not in funcs:
            print(f"unknown phase {ph}", file=sys.stderr)
            continue
        h0, i0 = host_ticks()
        time.sleep(1.0)
        h1, i1 = host_ticks()
        idle_busy = round(100.0 * (1 - (i1 - i0) / max(1, h1 - h0)) * (os.cpu_count() or 1), 1)
        res.setdefault("background_cpu_pct_before_phase", {})[ph] = idle_busy
        if idle_busy > 20:
            log(f"WARNING: {idle_busy}% CPU (of one core) busy before phase {ph} with nothing of ours "
                "running: other processes will skew the numbers")
        t0 = time.monotonic()
        try:
            funcs[ph]()
        except Exception as e:  # report and go on with the next phase
            import traceback
            traceback.print_exc()
            res["errors"][ph] = f"{type(e).__name__}: {e}"
            log(f"phase {ph} broke: {type(e).__name__}: {e}")
            PROCS.stop_all()
        res["phase_seconds"][ph] = round(time.monotonic() - t0, 1)
        log(f"phase {ph} took {res['phase_seconds'][ph]:.0f}s")
        res["targets"] = targets(res)
        with open(out_json, "w") as f:  # written after every phase, so a long run leaves partial data
            json.dump(res, f, indent=2)
    res["total_seconds"] = round(time.time() - T_START, 1)
    res["targets"] = targets(res)
    with open(out_json, "w") as f:
        json.dump(res, f, indent=2)
    print_report(res)
    print(f"JSON: {out_json}   scratch + logs: {RUN}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
