"""Load generation: one wrk run with the server, proxy and client CPU it cost, and minting tokens
through the API with wrk."""
import json
import os
import resource
import signal
import subprocess
import time

from common import BENCH_D, HZ, RUN, cpu_split, cpu_ticks, host_ticks, log, read_capture


class Bench:
    def __init__(self, args):
        self.args = args
        self.n = 0

    def wrk(self, label, script, port, threads, conns, duration, env=None, limited=False,
            server_pids=(), lb_pids=()):
        """Runs wrk once; returns a result dict (rates are 2xx answers per second)."""
        self.n += 1
        out = os.path.join(RUN, f"wrk{self.n:03d}.json")
        e = dict(os.environ)
        e.update({"BENCH_D": BENCH_D, "BENCH_OUT": out, "BENCH_THREADS": str(threads)})
        e.update({k: str(v) for k, v in (env or {}).items()})
        cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{max(1, int(round(duration)))}s",
               "--timeout", "10s", "-s", os.path.join(BENCH_D, script), f"http://127.0.0.1:{port}"]
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        (u0, k0), l0, (h0, i0) = cpu_split(server_pids), cpu_ticks(lb_pids), host_ticks()
        s0 = u0 + k0
        t0 = time.monotonic()
        with open(os.path.join(RUN, f"wrk{self.n:03d}.txt"), "w") as txt:
            p = subprocess.Popen(cmd, stdout=txt, stderr=subprocess.STDOUT, env=e,
                                 stdin=subprocess.DEVNULL)
            deadline = t0 + duration + 30
            interrupted = False
            while p.poll() is None:
                if limited and not interrupted:
                    stops = [f for f in os.listdir(RUN) if f.startswith(os.path.basename(out) + ".stopped.")]
                    if len(stops) >= threads:
                        p.send_signal(signal.SIGINT)
                        interrupted = True
                if time.monotonic() > deadline:
                    p.kill()
                time.sleep(0.02)
        wall = time.monotonic() - t0
        (u1, k1), l1, (h1, i1) = cpu_split(server_pids), cpu_ticks(lb_pids), host_ticks()
        s1 = u1 + k1
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        try:
            with open(out) as f:
                r = json.load(f)
        except (OSError, ValueError):
            raise RuntimeError(f"wrk produced no result for {label}; see {out[:-5]}.txt")
        dur = max(r["duration_us"] / 1e6, 1e-6)
        errs = r["errors"]
        statuses = {k: v for k, v in (r.get("statuses") or {}).items()}
        if statuses:
            ok = sum(v for k, v in statuses.items() if k.startswith("2"))
            non2xx = sum(v for k, v in statuses.items() if not k.startswith("2"))
        else:
            non2xx = errs["status"]
            ok = r["requests"] - non2xx
        pct = r["latency_us"]["percentiles"]
        res = {
            "label": label,
            "rps": round(ok / dur, 1),
            "p50_ms": round(pct["50"] / 1000, 3),
            "p99_ms": round(pct["99"] / 1000, 3),
            "p999_ms": round(pct["99.9"] / 1000, 3),
            "max_ms": round(r["latency_us"]["max"] / 1000, 3),
            "requests": r["requests"],
            "sent": r.get("sent", 0),
            "ok": ok,
            "non2xx": non2xx,
            "statuses": statuses,
            "error_bodies": r.get("error_bodies") or {},
            "socket_errors": errs["connect"] + errs["read"] + errs["write"] + errs["timeout"],
            "duration_s": round(dur, 3),
            "threads": threads,
            "connections": conns,
            "server_cpu_pct": round(100.0 * (s1 - s0) / HZ / wall, 1) if server_pids else None,
            # What each answered request cost the server (all its processes), in CPU µs: moves
            # far less with the host's speed of the moment than a rate does.
            "server_cpu_us_per_op": round((s1 - s0) / HZ * 1e6 / ok, 1) if server_pids and ok else None,
            # The same split into user and kernel time.
            "server_user_us_per_op": round((u1 - u0) / HZ * 1e6 / ok, 1) if server_pids and ok else None,
            "server_sys_us_per_op": round((k1 - k0) / HZ * 1e6 / ok, 1) if server_pids and ok else None,
            "lb_cpu_pct": round(100.0 * (l1 - l0) / HZ / wall, 1) if lb_pids else None,
            "client_cpu_pct": round(100.0 * ((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)) / wall, 1),
            "host_busy_pct": round(100.0 * (1 - (i1 - i0) / max(1, h1 - h0)), 1),
        }
        # CPU used by everything else on the host (other processes: noise), in % of one core.
        cores = os.cpu_count() or 1
        res["other_cpu_pct"] = round(max(0.0, res["host_busy_pct"] * cores - (res["server_cpu_pct"] or 0)
                                         - (res["lb_cpu_pct"] or 0) - res["client_cpu_pct"]), 1)
        log(f"  {label:<44} {res['rps']:>10,.0f}/s  p50 {res['p50_ms']:.2f} ms  p99 {res['p99_ms']:.2f} ms"
            f"  non-2xx {non2xx}  sockerr {res['socket_errors']}  cpu srv {res['server_cpu_pct']}%"
            f" ({res['server_cpu_us_per_op']} us/op)"
            + (f" lb {res['lb_cpu_pct']}%" if lb_pids else "") + f" wrk {res['client_cpu_pct']}% other {res['other_cpu_pct']}%")
        return res


# Five: the median of five rounds shrugs off two bursts of other load on a shared VM.
VALIDATION_ROUNDS = 5
# Alternating rounds of non-revocable and revocable issuance (the revocable target's ratio).
ISSUE_ROUNDS = 3


def premint(b, port, admin, count, expires_in, name, pids, timeout=300, threads=2, conns=16):
    """Mints `count` tokens through the API with wrk; returns [(token_id, token)]."""
    prefix = os.path.join(RUN, name)
    # Answers still in flight when a wrk thread stops are lost to the capture (the server did make
    # those tokens), so ask for `conns` more than needed and keep `count`.
    res = b.wrk(f"premint {count} ({name})", "issue.lua", port, threads, conns, timeout,
                {"BENCH_AUTH": "Bearer " + admin, "BENCH_EXPIRES_IN": expires_in,
                 "BENCH_LIMIT": count + conns, "BENCH_CAPTURE": prefix}, limited=True, server_pids=pids)
    rows = read_capture(prefix)[:count]
    if not rows:
        raise RuntimeError(f"premint {name}: no tokens captured ({res['statuses']})")
    return rows, res
