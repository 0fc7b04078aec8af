"""The scale phase: the write slope on three nodes. Our 3-node cluster (every write sent to a
follower) and a 3-member etcd (puts sent to a follower) stay up side by side for the whole phase
and are measured at three stored sizes: N/100 (at least 200), N/4 and N revocable tokens
(N = --tokens), etcd holding as many keys. A reference pair (a second 3-node cluster and a second
etcd, filled to N/100 once) is measured in the same rounds at every step, and the slope is each
step against the reference in the same minutes: this host's speed drifts by 20-30 % over the
minutes between two steps, which a comparison with the first step minutes earlier carries whole.

Before each step our cluster is filled up to the step's count (issue.lua, revocable, WRITE_CONNS
connections, through the follower, in chunks; --fill-budget over all the fills; a sample spread
over the fill is captured), and etcd up to the same number of keys (etcd_phase.fill_keys: 128
puts per JSON-gateway transaction). Then, --slope-rounds alternating rounds, each on both pairs
(which pair goes first flips every round) of: ours issue revocable via the follower (D/2), ours
revoke those ids via the follower (at most D/2), etcd put via its follower (D/2); each keeps its
median per step. The slope is every step's rate and CPU per operation against the reference
pair's in the same rounds (at the first step both are the same size: the method's own spread),
and, as an extra, every later step against the first step.

Also kept from the one-node phase before it: distinct validation of revocable tokens on the
follower at the first step (the first tokens) and at the last (the spread sample), RSS and disk
of the nodes at each step, snapshots built during the fills, and the follower's restart after
the last step (SIGTERM, then SIGKILL: stop time, /healthz ready, sample tokens still valid).
"""
import os
import signal
import subprocess
import time

from cluster import last_applied, settle_until_quiet, snapshot_counts
from common import (RUN, WRITE_CONNS, du_bytes, log, median_run, proc_status, read_capture, req,
    write_lines)
from etcd_phase import EtcdSide, OursSide, count_keys, etcd_version, fill_keys

# The three measurements of a step (results keys), in the order of a round.
MEASURES = ("issue_revocable_via_follower", "revoke_via_follower", "etcd_put_via_follower")
# The same on the reference pair, which stays at the first step's size (results keys "ref_...").
REF = "ref_"


def steps_for(n):
    """Stored-token counts of the steps: N/100 (at least 200), N/4 and N (increasing, distinct)."""
    first = min(n, max(200, n // 100))
    return sorted({first, max(first, n // 4), n})


def made(res):
    """Tokens (or keys) the server made in a wrk run: every request sent (those in flight when wrk
    stopped still complete server-side) minus the non-2xx ones."""
    return max(0, res["sent"] - res["non2xx"])


class Fill:
    """Our cluster's fill over all steps: chunks of revocable tokens through the follower, within
    one budget; `stored` counts every revocable token made in the phase (revoked ones too: a
    revocation keeps its record)."""

    def __init__(self, b, ours, n, budget):
        self.b, self.ours, self.n, self.budget = b, ours, n, budget
        self.stored = 0
        self.added = 0  # by the fill alone
        self.chunks = []
        self.seconds = 0.0
        self.exhausted = False
        self.chunk = max(5000, min(50000, n // 20))

    def to(self, target, cap, every):
        """Fills up to `target` tokens (capturing every `every`-th into `cap`); returns tokens added."""
        ours, start, t0 = self.ours, self.stored, time.monotonic()
        port = ours.follower.port
        while self.stored < target:
            left = self.budget - self.seconds - (time.monotonic() - t0)
            if left < 2:
                self.exhausted = True
                log(f"  fill budget of {self.budget:.0f}s used up at {self.stored:,} tokens")
                break
            n = min(self.chunk, target - self.stored)
            snaps0 = [snapshot_counts(x.port, ours.admin) for x in ours.nodes]
            res = self.b.wrk(f"fill chunk {self.stored:,}..", "issue.lua", port, 2, WRITE_CONNS, left,
                             {"BENCH_AUTH": "Bearer " + ours.admin, "BENCH_EXPIRES_IN": 0, "BENCH_LIMIT": n,
                              "BENCH_CAPTURE": cap, "BENCH_CAPTURE_EVERY": every}, limited=True, **ours.W)
            snaps1 = [snapshot_counts(x.port, ours.admin) for x in ours.nodes]
            snaps = snap_s = None
            if all(None not in (a[0], c[0]) for a, c in zip(snaps0, snaps1)):
                snaps = sum(c[0] - a[0] for a, c in zip(snaps0, snaps1))
                snap_s = round(sum((c[1] or 0) - (a[1] or 0) for a, c in zip(snaps0, snaps1)), 3)
            self.stored += made(res)
            self.added += made(res)
            st = [proc_status(x.pid) for x in ours.nodes]
            el = self.seconds + time.monotonic() - t0
            rate = (self.stored - start) / max(time.monotonic() - t0, 1e-6)
            rss = [s.get("VmRSS") for s in st]
            self.chunks.append({"tokens": self.stored, "elapsed_s": round(el, 1), "chunk_rps": res["rps"],
                                "p99_ms": res["p99_ms"], "non2xx": res["non2xx"],
                                "socket_errors": res["socket_errors"], "rss_kib": rss,
                                "hwm_kib": [s.get("VmHWM") for s in st], "statuses": res["statuses"],
                                "error_bodies": res["error_bodies"], "server_cpu_pct": res["server_cpu_pct"],
                                "server_cpu_us_per_op": res["server_cpu_us_per_op"],
                                "snapshots": snaps, "snapshot_build_s": snap_s if snaps else None})
            log(f"  fill {self.stored:>10,}/{target:,} (step; N {self.n:,})  {rate:,.0f}/s  p99 {res['p99_ms']:.1f} ms"
                f"  snapshots {snaps}  RSS " + "/".join(f"{(r or 0) / 1024:,.0f}" for r in rss)
                + f" MiB  ETA {(target - self.stored) / max(rate, 1e-6):,.0f}s")
            if made(res) == 0:
                log("  fill made no progress; stopping the fill")
                self.exhausted = True
                break
        self.seconds += time.monotonic() - t0
        return self.stored - start

    def summary(self):
        c = self.chunks
        snap = [x for x in c if x.get("snapshots")]
        rps = round(self.added / self.seconds, 1) if self.seconds > 0 else None
        return {"chunks": c, "tokens_added": self.added, "seconds": round(self.seconds, 1), "rps": rps,
                "budget_exhausted": self.exhausted,
                "projected_s_for_target": round(self.n / rps) if rps else None,
                "non2xx": sum(x["non2xx"] for x in c), "socket_errors": sum(x["socket_errors"] for x in c),
                "worst_chunk_p99_ms": max((x["p99_ms"] for x in c), default=None),
                "snapshot_chunks": len(snap),
                "worst_snapshot_chunk_p99_ms": max((x["p99_ms"] for x in snap), default=None)}


def ratio(a, b):
    return round(a / b, 3) if a is not None and b else None


def settle(quick):
    """A fill leaves dirty pages behind: flush them and wait (bounded) for a quiet host, so the
    kernel's write-back does not eat into the measurements that follow. Returns seconds spent."""
    t0 = time.monotonic()
    try:
        subprocess.run(["sync"], timeout=120)
    except subprocess.TimeoutExpired:
        pass
    settle_until_quiet(5.0 if quick else 20.0)
    return round(time.monotonic() - t0, 1)


def state(ours, etcd):
    """Memory and disk of our nodes and etcd's members now."""
    st = [proc_status(n.pid) for n in ours.nodes]
    es = etcd.target.status() or {}
    return {"rss_kib": [s.get("VmRSS") for s in st], "hwm_kib": [s.get("VmHWM") for s in st],
            "disk_bytes": [du_bytes(n.home) for n in ours.nodes],
            "raft_last_applied": last_applied(ours.follower.port),
            "etcd_rss_kib": [proc_status(m.pid).get("VmRSS") for m in etcd.members],
            "etcd_db_size": int(es["dbSize"]) if es.get("dbSize") else None,  # the gateway sends int64 as text
            "etcd_disk_bytes": [du_bytes(m.data) for m in etcd.members]}


def validate(b, ours, tokfile, label, runs=3):
    """Distinct validation of the tokens in tokfile on the follower: the median of `runs` runs."""
    f = ours.follower
    return median_run([b.wrk(f"{label} (run {k + 1}/{runs})", "validate.lua", f.port, 2, 32, b.args.duration,
                             {"BENCH_TOKENS": tokfile}, server_pids=[f.pid]) for k in range(runs)])


def fill_etcd(etcd, want, first, seconds):
    """etcd up to `want` keys under bench/ (bulk puts under bench/fill/, keys numbered from
    `first`); returns (the record of it, the next free key number)."""
    have = count_keys(etcd.target.port) or 0
    out = {"keys_before": have, "keys_added": 0, "seconds": 0.0, "errors": []}
    if want > have:
        t0 = time.monotonic()
        ok, errors = fill_keys(etcd.target.port, "bench/fill/", first, want - have, t0 + seconds)
        first += want - have
        dt = time.monotonic() - t0
        out.update({"keys_added": ok, "seconds": round(dt, 1), "rps": round(ok / max(dt, 1e-6), 1),
                    "errors": errors[:5], "error_count": len(errors)})
        log(f"  etcd fill: {ok:,} keys in {dt:.1f}s ({ok / max(dt, 1e-6):,.0f}/s, 128 puts per txn)"
            + (f"; {len(errors)} errors, first: {errors[0]}" if errors else ""))
    return out, first


def restart_follower(b, ours, sample, at):
    """The follower the writes go through: SIGTERM, start again, then SIGKILL, start again; stop
    time, seconds to /healthz 200 and to the leader's last index; then sample tokens on it."""
    node = ours.follower
    for sig in (signal.SIGTERM, signal.SIGKILL):
        name = signal.Signals(sig).name
        goal = last_applied(ours.leader.port)
        stop_s = node.stop(sig)
        node.proc = None
        t0 = time.monotonic()
        node.start()
        ready = node.wait_ready(timeout=300)
        caught = None
        while goal is not None and time.monotonic() - t0 < 120:
            la = last_applied(node.port)
            if la is not None and la >= goal:
                caught = time.monotonic() - t0
                break
            time.sleep(0.05)
        at[f"restart_{name}"] = x = {"node_id": node.node_id, "stop_s": round(stop_s, 3), "ready_s": round(ready, 3),
                                     "caught_up_s": round(caught, 3) if caught is not None else None,
                                     "rss_kib_at_ready": proc_status(node.pid).get("VmRSS")}
        log(f"  follower {name}: stopped in {stop_s:.2f}s, restart -> /healthz 200 in {ready:.2f}s, at the "
            f"leader's index in {x['caught_up_s']}s, RSS {(x['rss_kib_at_ready'] or 0) / 1024:,.0f} MiB")
    ours.W = dict(server_pids=[n.pid for n in ours.nodes])
    ok = 0
    for t in sample[:20]:
        s, _ = req(node.port, "GET", "/api/system/ping", {"Authorization": "Bearer " + t})
        ok += s == 200
    at["sample_valid_after_restart"] = f"{ok}/{min(20, len(sample))}"
    log(f"  sample tokens valid on the restarted follower: {at['sample_valid_after_restart']}")


def spread(tokens, n):
    """n tokens spread evenly over the list."""
    if len(tokens) <= n:
        return list(tokens)
    step = len(tokens) / n
    return [tokens[int(i * step)] for i in range(n)]


def measure(b, sides, i, target, rounds, d, step):
    """The step's alternating rounds, on the grown pair and on the reference pair (both in every
    round, which goes first flipping each round, etcd first every other round); each
    measurement keeps its median (and every round)."""
    runs = {p + k: [] for p in ("", REF) for k in MEASURES}
    for k in range(rounds):
        tag = f" (round {k + 1}/{rounds})" if rounds > 1 else ""
        order = sides if k % 2 == 0 else sides[::-1]
        for prefix, ours, etcd, at in order:
            label = f" @{at():,}{tag}"
            put = None
            if k % 2:  # every other round etcd goes first, so neither side always follows the other
                put = etcd.put(b, d, tag=label, prefix=f"bench/s{i}r{k}/")
            issue, revoke = ours.issue_then_revoke(b, d, f"{prefix}s{i}r{k}", label, issue_s=d, revoke_s=d)
            if put is None:
                put = etcd.put(b, d, tag=label, prefix=f"bench/s{i}r{k}/")
            step[prefix + "issued"] += made(issue)
            step[prefix + "revoked"] += revoke["ok"]
            for key, x in zip(MEASURES, (issue, revoke, put)):
                runs[prefix + key].append(x)
    for key, rs in runs.items():
        step[key] = median_run(rs)


def phase_scale(b, results):
    a = b.args
    N, budget, R = a.tokens, a.fill_budget, a.slope_rounds
    d = max(1.0, a.duration * 0.5)
    plan = steps_for(N)
    r = results["scale"] = {"target_tokens": N, "fill_budget_s": budget, "rounds": R, "duration_s": d,
                            "steps_planned": plan, "steps": [], "slope": []}
    log(f"scale: 3 nodes (via a follower) and etcd 3 members (via a follower) at {', '.join(f'{x:,}' for x in plan)} "
        f"stored tokens / keys; {R} round(s) of {d:g}s per step; fill budget {budget:.0f}s")
    etcd = ours = etcd_ref = ref = None
    try:
        etcd = EtcdSide("scale-etcd", 3)
        ours = OursSide("sc", label="3 nodes")
        # The reference pair: a second 3-node cluster and a second etcd, filled to the first
        # step's size and measured in the same rounds as the grown pair at every step. This
        # host's speed drifts by 20-30 % over the minutes between two steps; a ratio of two
        # measurements taken in the same minutes does not carry that drift.
        etcd_ref = EtcdSide("scale-etcd-ref", 3)
        ref = OursSide("sr", label="3 nodes, reference")
        r["cluster"] = {"follower_node_id": ours.follower.node_id, "leader_node_id": ours.leader.node_id}
        r["etcd"] = {"version": etcd_version(), "members": 3, "target_member": etcd.target.name,
                     "fill": "POST /v3/kv/txn, 128 puts each, keys bench/fill/<n>"}
        fill = Fill(b, ours, N, budget)
        ref_fill = Fill(b, ref, plan[0], max(60.0, budget / 4))
        every = max(1, N // (a.sample * 4))
        first_cap, spread_cap = os.path.join(RUN, "scale-first"), os.path.join(RUN, "scale-spread")
        first, etcd_next = [], 0
        log(f"scale reference pair: {plan[0]:,} stored tokens / keys")
        ref_fill.to(plan[0], os.path.join(RUN, "scale-ref"), max(1, plan[0] // 10))
        r["reference_fill"], _ = fill_etcd(etcd_ref, ref_fill.stored, 0, 60.0)
        sides = (("", ours, etcd, lambda: fill.stored), (REF, ref, etcd_ref, lambda: ref_fill.stored))
        for i, target in enumerate(plan):
            log(f"scale step {i + 1}/{len(plan)}: {target:,} stored tokens")
            added = fill.to(target, first_cap if i == 0 else spread_cap, 1 if i == 0 else every)
            if i > 0 and added == 0 and fill.exhausted:
                log(f"  step {target:,} not measured: nothing added before the fill budget ran out")
                break
            step = {"target_tokens": target, "reached": fill.stored, "budget_hit": fill.stored < target,
                    "fill_added": added, "issued": 0, "revoked": 0, REF + "issued": 0, REF + "revoked": 0,
                    REF + "tokens_start": ref_fill.stored}
            if step["budget_hit"]:
                log(f"  ** fill budget hit: measuring at {fill.stored:,} tokens instead of {target:,} **")
            step["etcd_fill"], etcd_next = fill_etcd(etcd, fill.stored, etcd_next, max(60.0, budget / 2))
            step["settle_s"] = settle(a.quick)
            step["tokens_start"] = fill.stored
            step["etcd_keys_start"] = count_keys(etcd.target.port)
            if i == 0:
                first = [t for _, t in read_capture(first_cap)]
                n_val = min(a.sample, len(first))
                first_file = write_lines(os.path.join(RUN, "scale-first.txt"), first[:n_val])
                r["at_first"] = {"tokens": fill.stored, "sample": n_val, "validate_distinct_revocable": validate(
                    b, ours, first_file, f"validate distinct revocable @ {fill.stored:,}")}
            measure(b, sides, i, target, R, d, step)
            fill.stored += step["issued"]
            ref_fill.stored += step[REF + "issued"]
            step["tokens_end"] = fill.stored
            step[REF + "tokens_end"] = ref_fill.stored
            step["etcd_keys_end"] = count_keys(etcd.target.port)
            step.update(state(ours, etcd))
            r["steps"].append(step)
            log("  " + step_line(step))
            log("  " + step_line(step, REF))
            if fill.exhausted:
                break
        r["fill"] = fill.summary()
        r["stored_tokens"] = fill.stored
        r["reference_tokens"] = ref_fill.stored
        r["reached_target"] = not any(s["budget_hit"] for s in r["steps"]) and len(r["steps"]) == len(plan)
        r["slope"] = slope(r["steps"])
        for line in slope_lines(r):
            log("  " + line)
        # The spread sample: every `every`-th token of all the fills, the first step's included.
        n_val = (r.get("at_first") or {}).get("sample") or a.sample
        samp = spread(first[::every] + [t for _, t in read_capture(spread_cap)], n_val)
        sample_file = write_lines(os.path.join(RUN, "scale-sample.txt"), samp)
        at = r["at_n"] = {"tokens": fill.stored, "sample": len(samp), "settle_s": settle(a.quick)}
        at.update(state(ours, etcd))
        at["validate_distinct_revocable"] = validate(b, ours, sample_file,
                                                     f"validate distinct revocable @ {fill.stored:,}")
        at["rss_kib_after_validate"] = [proc_status(n.pid).get("VmRSS") for n in ours.nodes]
        restart_follower(b, ours, samp, at)
        f = ours.follower
        at["validate_distinct_revocable_after_restart"] = b.wrk(
            f"validate distinct revocable @ {fill.stored:,}, restarted follower", "validate.lua", f.port, 2, 32,
            a.duration, {"BENCH_TOKENS": sample_file}, server_pids=[f.pid])
        at["rss_kib_end"] = [proc_status(n.pid).get("VmRSS") for n in ours.nodes]
    finally:
        for side in (ours, ref, etcd, etcd_ref):
            if side:
                side.stop()


def slope(steps):
    """Every step against the reference pair in the same rounds (at the first step both are the
    same size: the method's own spread), and every later step against the first step as before
    (`vs_first`): rate and CPU-per-operation ratios of each measurement."""
    def ratios(x, y):
        return {"rate_ratio": ratio(x.get("rps"), y.get("rps")),
                "cpu_ratio": ratio(x.get("server_cpu_us_per_op"), y.get("server_cpu_us_per_op"))}
    out = []
    for i, s in enumerate(steps):
        row = {"target_tokens": s["target_tokens"], "tokens_start": s["tokens_start"],
               "reference_tokens_start": s.get(REF + "tokens_start"), "vs_first": {}}
        for k in MEASURES:
            row[k] = ratios(s.get(k) or {}, s.get(REF + k) or {})
            if i:
                row["vs_first"][k] = ratios(s.get(k) or {}, steps[0].get(k) or {})
        out.append(row)
    return out


def fmt_cell(x):
    """'rate/s (min–max of rounds) us/op' of a median_run."""
    if not x:
        return "-"
    rr = x.get("runs_rps") or [x["rps"]]
    spread_ = f" ({min(rr):,.0f}–{max(rr):,.0f})" if len(rr) > 1 else ""
    cpu = x.get("server_cpu_us_per_op")
    return f"{x['rps']:,.0f}/s{spread_} {'-' if cpu is None else f'{cpu:,.0f}'} us"


def step_line(s, prefix=""):
    at = s.get(prefix + "tokens_start")
    return (f"{'reference ' if prefix else ''}@{at or 0:,}: issue revocable "
            f"{fmt_cell(s.get(prefix + 'issue_revocable_via_follower'))}, revoke "
            f"{fmt_cell(s.get(prefix + 'revoke_via_follower'))}, etcd put {fmt_cell(s.get(prefix + 'etcd_put_via_follower'))}")


def slope_lines(sc):
    """The slope as text: per step, rate ratio / CPU-per-op ratio against the reference pair in
    the same rounds, then against the first step."""
    steps = sc.get("steps") or []
    names = (("issue revocable", MEASURES[0]), ("revoke", MEASURES[1]), ("etcd put", MEASURES[2]))
    f = lambda v: "-" if v is None else f"{v:.2f}"
    out = [f"slope @{row['tokens_start']:,} vs the reference @{row.get('reference_tokens_start') or 0:,} in the same "
           "rounds (rate ratio / CPU-per-op ratio): "
           + ", ".join(f"{n} {f(row[k]['rate_ratio'])} / {f(row[k]['cpu_ratio'])}" for n, k in names)
           for row in sc.get("slope") or []]
    base = steps[0]["tokens_start"] if steps else 0
    first = lambda row, k, what: ((row.get("vs_first") or {}).get(k) or {}).get(what)
    out += [f"slope @{row['tokens_start']:,} vs @{base:,}, minutes earlier (extra): "
            + ", ".join(f"{n} {f(first(row, k, 'rate_ratio'))} / {f(first(row, k, 'cpu_ratio'))}" for n, k in names)
            for row in (sc.get("slope") or [])[1:]]
    return out
