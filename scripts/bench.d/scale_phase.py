"""The scale phase: one node filled with N revocable tokens (write p99 per chunk, snapshots,
memory), then validation at that size against validation at 1k tokens."""
import os
import signal
import subprocess
import time

from cluster import Node, last_applied, mint_admin, settle_until_quiet, snapshot_counts
from common import RUN, WRITE_CONNS, du_bytes, log, median_run, proc_status, read_capture, req, write_lines
from wrk import premint


def phase_scale(b, results):
    N = b.args.tokens
    budget = b.args.fill_budget
    D = b.args.duration
    results["scale"] = r = {"target_tokens": N, "fill_budget_s": budget}
    log(f"scale: one node, fill to {N:,} revocable tokens (fill budget {budget}s)")
    node = Node("scale").start()
    node.wait_ready()
    admin = mint_admin(node.port)
    base_n = min(1000, N)
    first, pm = premint(b, node.port, admin, base_n, 0, "scale-first", [node.pid], threads=1, conns=8)
    stored = pm["sent"] - pm["non2xx"]
    sample_n = b.args.sample
    first_file = write_lines(os.path.join(RUN, "scale-1k.txt"), [t for _, t in first])
    st = proc_status(node.pid)
    at1k = r["at_1k"] = {"tokens": stored, "rss_kib": st.get("VmRSS"), "disk_bytes": du_bytes(node.home),
                         "raft_last_applied": last_applied(node.port)}
    at1k["validate_distinct_revocable"] = median_run([
        b.wrk(f"validate distinct revocable @ {stored:,} (run {k + 1}/3)", "validate.lua",
              node.port, 2, 32, D, {"BENCH_TOKENS": first_file}, server_pids=[node.pid])
        for k in range(3)])
    # fill
    fill = r["fill"] = {"chunks": []}
    remaining = N - stored
    every = max(1, N // (b.args.sample * 4))
    cap = os.path.join(RUN, "scale-sample")
    t_fill = time.monotonic()
    chunk = max(5000, min(50000, N // 20))
    while remaining > 0:
        elapsed = time.monotonic() - t_fill
        left = budget - elapsed
        if left < 2:
            fill["budget_exhausted"] = True
            log(f"  fill budget of {budget}s used up at {stored:,} tokens")
            break
        n = min(chunk, remaining)
        snaps_before, snap_s_before = snapshot_counts(node.port, admin)
        res = b.wrk(f"fill chunk {stored:,}..", "issue.lua", node.port, 2, WRITE_CONNS, left,
                    {"BENCH_AUTH": "Bearer " + admin, "BENCH_EXPIRES_IN": 0, "BENCH_LIMIT": n,
                     "BENCH_CAPTURE": cap, "BENCH_CAPTURE_EVERY": every},
                    limited=True, server_pids=[node.pid])
        # Tokens the server made: every POST that was sent (those in flight when wrk stopped
        # still complete server-side) minus the non-2xx ones.
        made = res["sent"] - res["non2xx"]
        snaps_after, snap_s_after = snapshot_counts(node.port, admin)
        snaps = (snaps_after - snaps_before) if None not in (snaps_before, snaps_after) else None
        stored += made
        remaining -= made
        st = proc_status(node.pid)
        el = time.monotonic() - t_fill
        rate = (stored - base_n) / max(el, 1e-6)
        fill["chunks"].append({"tokens": stored, "elapsed_s": round(el, 1), "chunk_rps": res["rps"],
                               "p99_ms": res["p99_ms"], "non2xx": res["non2xx"],
                               "socket_errors": res["socket_errors"], "rss_kib": st.get("VmRSS"),
                               "hwm_kib": st.get("VmHWM"), "statuses": res["statuses"],
                               "error_bodies": res["error_bodies"],
                               "server_cpu_pct": res["server_cpu_pct"], "snapshots": snaps,
                               "snapshot_build_s": round(snap_s_after - snap_s_before, 3) if snaps else None})
        log(f"  fill {stored:>10,}/{N:,} ({100.0 * stored / N:5.1f}%)  avg {rate:,.0f}/s  p99 {res['p99_ms']:.1f} ms  "
            f"snapshots {snaps}  "
            f"RSS {st.get('VmRSS', 0) / 1024:,.0f} MiB  ETA {remaining / max(rate, 1e-6):,.0f}s")
        if made == 0:
            log("  fill made no progress; stopping the fill")
            break
    fill["seconds"] = round(time.monotonic() - t_fill, 1)
    fill["non2xx"] = sum(c["non2xx"] for c in fill["chunks"])
    fill["socket_errors"] = sum(c["socket_errors"] for c in fill["chunks"])
    fill["worst_chunk_p99_ms"] = max((c["p99_ms"] for c in fill["chunks"]), default=None)
    with_snap = [c for c in fill["chunks"] if c.get("snapshots")]
    fill["snapshot_chunks"] = len(with_snap)
    fill["worst_snapshot_chunk_p99_ms"] = max((c["p99_ms"] for c in with_snap), default=None)
    fill["tokens_added"] = stored - base_n
    fill["rps"] = round(fill["tokens_added"] / max(fill["seconds"], 1e-6), 1)
    fill["projected_s_for_target"] = round((N - base_n) / fill["rps"], 0) if fill["rps"] else None
    r["stored_tokens"] = stored
    r["reached_target"] = stored >= N
    # sample of tokens spread over the whole fill (plus the first 1k to top up)
    samp = [t for _, t in read_capture(cap)]
    if len(samp) > sample_n:
        step = len(samp) / sample_n
        samp = [samp[int(i * step)] for i in range(sample_n)]
    if len(samp) < sample_n:
        samp += [t for _, t in first][: sample_n - len(samp)]
    sample_file = write_lines(os.path.join(RUN, "scale-sample.txt"), samp)
    atn = r["at_n"] = {"tokens": stored}
    # A fill leaves gigabytes of dirty pages: flush them and let the host settle (bounded) so the
    # kernel's write-back does not eat into the validation measurement below.
    t_settle = time.monotonic()
    try:
        subprocess.run(["sync"], timeout=120)
    except subprocess.TimeoutExpired:
        pass
    settle_until_quiet(20.0)
    atn["settle_s"] = round(time.monotonic() - t_settle, 1)
    log(f"  settled {atn['settle_s']}s after the fill (sync + wait for an idle host)")
    st = proc_status(node.pid)
    atn["rss_kib_after_fill"] = st.get("VmRSS")
    atn["hwm_kib_after_fill"] = st.get("VmHWM")
    atn["disk_bytes"] = du_bytes(node.home)
    atn["raft_last_applied"] = last_applied(node.port)
    atn["validate_distinct_revocable"] = median_run([
        b.wrk(f"validate distinct revocable @ {stored:,} (run {k + 1}/3)", "validate.lua",
              node.port, 2, 32, D, {"BENCH_TOKENS": sample_file}, server_pids=[node.pid])
        for k in range(3)])
    atn["rss_kib_after_validate"] = proc_status(node.pid).get("VmRSS")
    # restarts
    for sig in (signal.SIGTERM, signal.SIGKILL):
        name = signal.Signals(sig).name
        stop_s = node.stop(sig)
        node.proc = None
        t0 = time.monotonic()
        node.start()
        ready = node.wait_ready(timeout=300)
        atn[f"restart_{name}"] = {"stop_s": round(stop_s, 3), "ready_s": round(ready, 3),
                                  "rss_kib_at_ready": proc_status(node.pid).get("VmRSS")}
        log(f"  {name}: stopped in {stop_s:.2f}s, restart -> /healthz 200 in {ready:.2f}s, "
            f"RSS {atn[f'restart_{name}']['rss_kib_at_ready'] / 1024:,.0f} MiB")
    ok = 0
    for t in samp[:20]:
        s, _ = req(node.port, "GET", "/api/system/ping", {"Authorization": "Bearer " + t})
        ok += s == 200
    atn["sample_valid_after_restart"] = f"{ok}/{min(20, len(samp))}"
    atn["validate_distinct_revocable_after_restart"] = b.wrk(
        f"validate distinct revocable @ {stored:,}, restarted", "validate.lua", node.port, 2, 32, D,
        {"BENCH_TOKENS": sample_file}, server_pids=[node.pid])
    atn["rss_kib_end"] = proc_status(node.pid).get("VmRSS")
    node.stop(signal.SIGTERM)
