"""Lowest layer of the bench: paths and settings of the run, the log line, the processes it
starts (stopped on exit), plain HTTP to 127.0.0.1, /proc readings and small statistics helpers.

Imports nothing of the bench; every other module of scripts/bench.d imports it.
"""
import base64
import http.client
import os
import statistics
import signal
import socket
import subprocess
import sys
import time
import urllib.parse


ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BENCH_D = os.path.join(ROOT, "scripts", "bench.d")
# scripts/bench passes the binary it built (CARGO_TARGET_DIR honoured); run alone, the same rule.
SRC_BIN = os.environ.get("BENCH_BIN") or os.path.join(
    ROOT, os.environ.get("CARGO_TARGET_DIR") or "target", "release", "access-node")
OUT_DIR = os.path.join(ROOT, "target", "bench")
RUN = os.path.join(OUT_DIR, "run")
PIDS_FILE = os.path.join(OUT_DIR, "pids")
# A private copy, so a rebuild during the run cannot swap the binary under the restart tests.
BIN = os.path.join(RUN, "access-node")
# The previous release's binary (the "previous" phase), copied the same way when there is one:
# bench.py --previous PATH, else $BENCH_PREVIOUS_BIN (scripts/bench builds or finds it).
PREV_BIN = os.path.join(RUN, "access-node-previous")
ADMIN_PASSWORD = "password"
VERIFIED_CACHE_ENTRIES = 100
# Concurrent connections for the write measurements: group commit turns concurrency into
# bigger log entries, the way many CI clients hitting one service do.
WRITE_CONNS = 64
JOIN_KEY = base64.b64encode(os.urandom(32)).decode().rstrip("=")
HZ = os.sysconf("SC_CLK_TCK")
T_START = time.time()


def log(msg):
    print(f"[bench {time.time() - T_START:7.1f}s] {msg}", flush=True)


# ----------------------------------------------------------------------------- processes

class Procs:
    """Every process this run starts; all are stopped on exit (also on Ctrl-C / SIGTERM)."""

    def __init__(self):
        self.items = []  # (kind, Popen)

    def add(self, kind, proc):
        self.items.append((kind, proc))
        with open(PIDS_FILE, "a") as f:
            f.write(f"{proc.pid} {kind}\n")
        return proc

    def stop(self, proc, sig=signal.SIGTERM, timeout=15.0):
        if proc.poll() is None:
            try:
                proc.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self.items = [(k, p) for (k, p) in self.items if p is not proc]

    def stop_all(self):
        for kind, proc in list(self.items):
            try:
                if kind == "nginx":
                    self.stop(proc, signal.SIGQUIT, timeout=5)
                else:
                    self.stop(proc, signal.SIGKILL, timeout=5)
            except Exception as e:  # keep going: clean up the rest
                print(f"cleanup of pid {proc.pid} failed: {e}", file=sys.stderr)


PROCS = Procs()  # main() registers its stop_all at exit


def on_signal(signum, _frame):
    raise SystemExit(128 + signum)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def req(port, method, path, headers=None, body=None, timeout=10.0):
    """One request to 127.0.0.1:port; returns (status, body text) or (None, error)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        hdrs = dict(headers or {})
        if isinstance(body, dict):
            body = urllib.parse.urlencode(body)
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        return r.status, r.read().decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as e:
        return None, str(e)
    finally:
        conn.close()


def basic_auth():
    return "Basic " + base64.b64encode(f"admin:{ADMIN_PASSWORD}".encode()).decode()


def proc_status(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "Threads"):
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


def cpu_ticks(pids):
    user, system = cpu_split(pids)
    return user + system


def cpu_split(pids):
    """(user, system) CPU ticks of the processes: the kernel's share is mostly the network
    path, and on loopback it also carries the load generator's receive path and wake-ups."""
    user = system = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            user += int(fields[11])
            system += int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return user, system


def host_ticks():
    with open("/proc/stat") as f:
        vals = [int(x) for x in f.readline().split()[1:]]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    return sum(vals), idle


def children_of(pid):
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    kids.append(int(d))
        except (OSError, IndexError, ValueError):
            pass
    return kids


def du_bytes(path):
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except OSError:
                pass
    return total

def median_run(runs):
    """The median (by rate) of repeated wrk runs, every run's rate kept: on a shared machine a
    single run can be off by 20 %, and the scale target compares two figures taken minutes apart."""
    ordered = sorted(runs, key=lambda x: x["rps"])
    median = dict(ordered[len(ordered) // 2])
    median["runs_rps"] = [x["rps"] for x in runs]
    # CPU per operation: its own median over the rounds (with every round's), not the
    # rate-median round's.
    cpu = [x["server_cpu_us_per_op"] for x in runs if x.get("server_cpu_us_per_op")]
    median["runs_server_cpu_us_per_op"] = cpu
    if cpu:
        median["server_cpu_us_per_op"] = round(statistics.median(cpu), 1)
    for key in ("server_user_us_per_op", "server_sys_us_per_op"):
        xs = [x[key] for x in runs if x.get(key) is not None]
        if xs:
            median[key] = round(statistics.median(xs), 1)
    return median


def pct(xs, p):
    """The p-th percentile (nearest rank) of xs, rounded to 3 decimals; None when empty."""
    if not xs:
        return None
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))], 3)


def read_capture(prefix):
    """Lines "<token_id> <access_token>" written by issue.lua (one file per wrk thread)."""
    d, base = os.path.split(prefix)
    rows = []
    for name in sorted(os.listdir(d)):
        if name.startswith(base + "."):
            with open(os.path.join(d, name)) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 2:
                        rows.append(parts)
    return rows


def write_lines(path, items):
    with open(path, "w") as f:
        for x in items:
            f.write(x + "\n")
    return path
