"""The previous release beside this build, in the same run: one node of each binary side by side
(issue non-revocable, validate distinct, validate repeated), then a 3-node cluster of each
(issue revocable and revoke, both via a follower, as etcd_phase.OursSide does). Rounds
alternate between the two binaries (--previous-rounds; which binary goes first flips every
round) and each measurement keeps its median. Reported side by side, with current / previous
for the rate and for the CPU per operation.

The previous binary is bench.py --previous PATH or $BENCH_PREVIOUS_BIN (scripts/bench builds a
revision, the newest release named in CHANGELOG.md by default); without one the phase is
skipped.
"""
import os
import re
import signal
import subprocess

from cluster import Node, mint_admin
from common import BIN, PREV_BIN, RUN, log, median_run, write_lines
from etcd_phase import OursSide
from wrk import premint

# results keys and titles, in the order of the report
SINGLE = (("issue_nonrevocable", "1 node: issue non-revocable"),
          ("validate_distinct", "1 node: validate distinct"),
          ("validate_repeated", "1 node: validate repeated"))
CLUSTER = (("issue_revocable_via_follower", "3 nodes: issue revocable via follower"),
           ("revoke_via_follower", "3 nodes: revoke via follower"))


def version_of(path):
    try:
        return subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.TimeoutExpired):
        return None


def revision_of(src, version):
    """The previous binary's revision: what scripts/bench says, else its file name
    (access-node-<sha>, as target/upgrade/ keeps them), else its --version's commit."""
    if os.environ.get("BENCH_PREVIOUS_REV"):
        return os.environ["BENCH_PREVIOUS_REV"]
    m = re.match(r"access-node-([0-9a-f]{7,40})$", os.path.basename(src or ""))
    if m:
        return m.group(1)
    m = re.search(r"commit ([0-9a-f]{7,40})", version or "")
    return m.group(1) if m else None


class Single:
    """One node of a binary, its admin token and its pre-minted tokens."""

    def __init__(self, b, side, binary, distinct):
        self.side = side
        self.node = Node(f"prev-{side}", binary=binary).start()
        self.node.wait_ready()
        self.admin = mint_admin(self.node.port)
        self.W = dict(server_pids=[self.node.pid])
        toks, _ = premint(b, self.node.port, self.admin, distinct, 3600, f"prev-{side}-distinct", [self.node.pid])
        self.tokens = toks
        self.tokfile = write_lines(os.path.join(RUN, f"prev-{side}-distinct.txt"), [t for _, t in toks])

    def run(self, b, key, D, tag):
        port, label = self.node.port, f"{self.side}: "
        if key == "issue_nonrevocable":
            return b.wrk(label + "1 node: issue non-revocable" + tag, "issue.lua", port, 2, 16, D,
                         {"BENCH_AUTH": "Bearer " + self.admin, "BENCH_EXPIRES_IN": 3600}, **self.W)
        if key == "validate_distinct":
            return b.wrk(label + f"1 node: validate distinct ({len(self.tokens)} tokens)" + tag, "validate.lua",
                         port, 2, 32, D, {"BENCH_TOKENS": self.tokfile}, **self.W)
        return b.wrk(label + "1 node: validate repeated (1 token)" + tag, "ping.lua", port, 2, 32, D,
                     {"BENCH_AUTH": "Bearer " + self.tokens[0][1]}, **self.W)

    def stop(self):
        self.node.stop(signal.SIGTERM)


def phase_previous(b, results):
    src = b.args.previous
    if not src or not os.path.exists(PREV_BIN):
        log("previous: skipped (no previous binary: scripts/bench --previous REV|PATH, or BENCH_PREVIOUS_BIN)")
        return
    a = b.args
    D, R = a.duration, a.previous_rounds
    distinct = min(a.distinct, 5000) if a.quick else a.distinct
    prev_version = version_of(PREV_BIN)
    r = results["previous"] = {
        "binary": src, "revision": revision_of(src, prev_version), "version": prev_version,
        "current_version": version_of(BIN), "rounds": R, "distinct_tokens": distinct,
        "current": {}, "previous": {}, "ratios": {}}
    log(f"previous: {r['current_version']} vs {prev_version} ({src}); {R} alternating round(s)")
    bins = (("current", BIN), ("previous", PREV_BIN))
    runs = {side: {k: [] for k, _ in SINGLE + CLUSTER} for side, _ in bins}
    # One node of each binary, both up; per measurement the two binaries run back to back.
    singles = []
    try:
        for side, path in bins:
            singles.append(Single(b, side, path, distinct))
        for k in range(R):
            tag = f" (round {k + 1}/{R})" if R > 1 else ""
            order = singles if k % 2 == 0 else singles[::-1]
            for key, _ in SINGLE:
                for s in order:
                    runs[s.side][key].append(s.run(b, key, D * 0.6, tag))
    finally:
        for s in singles:
            s.stop()
    # A 3-node cluster of each binary, both up (idle heartbeats only while the other runs).
    clusters = []
    try:
        for side, path in bins:
            clusters.append((side, OursSide(f"prev-{side}-c", binary=path, label=f"{side}: 3 nodes")))
        for k in range(R):
            tag = f" (round {k + 1}/{R})" if R > 1 else ""
            for side, c in (clusters if k % 2 == 0 else clusters[::-1]):
                issue, revoke = c.issue_then_revoke(b, D, k, tag)
                runs[side]["issue_revocable_via_follower"].append(issue)
                runs[side]["revoke_via_follower"].append(revoke)
    finally:
        for _, c in clusters:
            c.stop()
    for side, per in runs.items():
        for key, rs in per.items():
            if rs:
                r[side][key] = median_run(rs)
    for key, _ in SINGLE + CLUSTER:
        cur, prev = r["current"].get(key) or {}, r["previous"].get(key) or {}
        r["ratios"][key] = {
            "rps": round(cur["rps"] / prev["rps"], 3) if cur.get("rps") and prev.get("rps") else None,
            "server_cpu_us_per_op": round(cur["server_cpu_us_per_op"] / prev["server_cpu_us_per_op"], 3)
            if cur.get("server_cpu_us_per_op") and prev.get("server_cpu_us_per_op") else None}
    for line in lines(results):
        log("  " + line)


def lines(res):
    """The side-by-side table as text lines (no header rule)."""
    p = res.get("previous")
    if not p:
        return []
    n = lambda v: "-" if v is None else f"{v:,.0f}"
    f = lambda v: "-" if v is None else f"{v:.2f}"
    out = [f"current {p.get('current_version')} vs previous {p.get('version')} (revision {p.get('revision')}, "
           f"{p.get('binary')}); medians of {p.get('rounds')} alternating round(s)",
           f"{'measurement':<40} {'current/s':>10} {'us/op':>7} {'previous/s':>11} {'us/op':>7} "
           f"{'rate cur/prev':>14} {'cpu cur/prev':>13}"]
    for key, title in SINGLE + CLUSTER:
        cur, prev, q = p["current"].get(key) or {}, p["previous"].get(key) or {}, p["ratios"].get(key) or {}
        if not cur and not prev:
            continue
        out.append(f"{title:<40} {n(cur.get('rps')):>10} {n(cur.get('server_cpu_us_per_op')):>7} "
                   f"{n(prev.get('rps')):>11} {n(prev.get('server_cpu_us_per_op')):>7} "
                   f"{f(q.get('rps')):>14} {f(q.get('server_cpu_us_per_op')):>13}")
    return out


def report(res):
    if not res.get("previous"):
        return
    print("-" * 133)
    for line in lines(res):
        print(f"previous {line}")
