"""The SCIM phase, against the release build: two 2-node sites linked both ways. Identity
providers' flows and the conformance checker (tests/python/test_scim.py, run with the project's
.venv when it is there), then deprovisioning to rejection: a user provisioned through SCIM at A
holds a token of each site's own; it is deactivated through SCIM at A, and every node of both
sites is polled until it refuses both tokens. Baseline of the same run: one token revoked at A
until every node of B refuses it (the federation phase's measure)."""
import json
import os
import subprocess
import time
import urllib.parse

from cluster import mint_admin
from common import ADMIN_PASSWORD, log, pct
from federation_phase import KeepAlive, fed_revocation_lag, federate, site_leader, start_site, wait_links_ok

SCIM = "/access/api/v1/scim/v2"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def scim_call(conn, auth, method, path, body=None):
    hdrs = {"Authorization": auth}
    if body is not None:
        hdrs["Content-Type"] = "application/scim+json"
        body = json.dumps(body)
    return conn.call(method, SCIM + path, hdrs, body)


def mint(conn, auth, user, expires):
    st, body = conn.call("POST", "/access/api/v1/tokens",
                         {"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"},
                         urllib.parse.urlencode({"username": user, "expires_in": expires}))
    if st != 200:
        raise RuntimeError(f"token for {user}: HTTP {st}: {body[:200]}")
    return json.loads(body)["access_token"]


def poll(conns, tokens, want, t0, limit=10.0):
    """ms after t0 at which each connection's node answered `want` for every token (None: never)."""
    path = "/access/api/v1/system/ping"
    pending = {i: set(range(len(tokens))) for i in range(len(conns))}
    seen = {}
    while pending and time.monotonic() - t0 < limit:
        for i in list(pending):
            for k in list(pending[i]):
                conns[i].send("GET", path, {"Authorization": "Bearer " + tokens[k]})
                if conns[i].recv()[0] == want:
                    pending[i].discard(k)
            if not pending[i]:
                seen[i] = (time.monotonic() - t0) * 1000
                del pending[i]
        if pending:
            time.sleep(0.002)
    return [seen.get(i) for i in range(len(conns))]


def deprovisioning(site_a, site_b, auth_a, auth_b, samples):
    a = KeepAlive(site_a[0].port)
    mint_a, mint_b = KeepAlive(site_a[1].port), KeepAlive(site_b[0].port)
    conns = [KeepAlive(n.port, timeout=5) for n in site_a + site_b]
    per_site = {"a": [], "b": []}
    patch_ms, failures = [], 0
    for i in range(samples):
        name = f"scim-bench-{i}"
        st, body = scim_call(a, auth_a, "POST", "/Users",
                             {"userName": name, "externalId": f"bench-{i}", "active": True})
        if st != 201:
            raise RuntimeError(f"SCIM create: HTTP {st}: {body[:200]}")
        t_user = time.monotonic()
        while time.monotonic() - t_user < 10:
            st, _ = mint_b.call("GET", f"/access/api/v2/users/{name}", {"Authorization": auth_b})
            if st == 200:
                break
            time.sleep(0.005)
        tokens = [mint(mint_a, auth_a, name, "0"), mint(mint_b, auth_b, name, "600")]
        if None in poll(conns, tokens, 200, time.monotonic()):
            failures += 1
            continue
        t_req = time.monotonic()
        st, body = scim_call(a, auth_a, "PATCH", f"/Users/{name}",
                             {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]})
        t0 = time.monotonic()
        if st != 200:
            failures += 1
            continue
        patch_ms.append((t0 - t_req) * 1000)
        seen = poll(conns, tokens, 401, t0)
        if None in seen:
            failures += 1
            continue
        per_site["a"].extend(seen[:len(site_a)])
        per_site["b"].extend(seen[len(site_a):])
    for c in conns + [a, mint_a, mint_b]:
        c.close()
    out = {"samples": samples - failures, "failures": failures,
           "patch_request_p50_ms": pct(patch_ms, 50), "patch_request_p99_ms": pct(patch_ms, 99)}
    for site, xs in per_site.items():
        out[f"site_{site}_p50_ms"], out[f"site_{site}_p99_ms"], out[f"site_{site}_max_ms"] = (
            pct(xs, 50), pct(xs, 99), pct(xs, 100))
    return out


def flows(port, ports):
    """The SCIM client tests (conformance, Okta, Entra ID) against site A of the release build."""
    python = os.path.join(ROOT, ".venv", "bin", "python")
    if not os.path.exists(python):
        return {"skipped": "no .venv (./scripts/test installs it)"}
    env = dict(os.environ, ACCESS_URL=f"http://127.0.0.1:{port}", ACCESS_ADMIN_PASSWORD=ADMIN_PASSWORD,
               ACCESS_URLS=",".join(f"http://127.0.0.1:{p}" for p in ports))
    out = subprocess.run([python, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "tests/python/test_scim.py"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    lines = out.stdout.strip().splitlines()
    return {"passed": out.returncode == 0, "summary": lines[-1] if lines else "",
            "conformance": next((l for l in lines if l.startswith("scim2-tester:")), None)}


def phase_scim(b, results):
    results["scim"] = r = {}
    log("scim: two sites of 2 nodes each, linked both ways")
    site_a, site_b = start_site("sa", 2), start_site("sb", 2)
    la, lb = site_leader(site_a), site_leader(site_b)
    federate(la, lb)
    wait_links_ok(la, lb)
    r["flows"] = f = flows(la.port, [n.port for n in site_a])
    log(f"  SCIM clients (scim2-tester, Okta, Entra ID) on the release build: {f}")
    auth_a, auth_b = "Bearer " + mint_admin(la.port), "Bearer " + mint_admin(lb.port)
    n = max(10, b.args.fed_samples // 2)
    r["deprovisioning"] = d = deprovisioning(site_a, site_b, auth_a, auth_b, n)
    log(f"  SCIM active=false at A -> both sites' tokens refused: A's nodes p50 {d['site_a_p50_ms']} ms "
        f"p99 {d['site_a_p99_ms']} ms; B's nodes p50 {d['site_b_p50_ms']} ms p99 {d['site_b_p99_ms']} ms "
        f"({d['samples']} users, {d['failures']} failed; the PATCH itself p50 {d['patch_request_p50_ms']} ms)")
    r["baseline_revocation"] = v = fed_revocation_lag(la.port, [x.port for x in site_b], auth_a, n)
    log(f"  baseline, one token revoked at A -> 401 on B's nodes: p50 {v['p50_ms']} ms p99 {v['p99_ms']} ms")
    if v.get("p99_ms") and d.get("site_b_p99_ms"):
        r["site_b_p99_vs_revocation_p99"] = round(d["site_b_p99_ms"] / v["p99_ms"], 2)
    for node in site_a + site_b:
        node.stop()


def report(res, row):
    s = res.get("scim")
    if not s:
        return
    print("-" * 133)
    d, v = s.get("deprovisioning", {}), s.get("baseline_revocation", {})
    print(f"scim     flows on the release build: {s.get('flows')}")
    print(f"scim     deprovisioning -> refused, site A nodes: p50 {d.get('site_a_p50_ms')} ms, p99 {d.get('site_a_p99_ms')} ms; "
          f"site B nodes: p50 {d.get('site_b_p50_ms')} ms, p99 {d.get('site_b_p99_ms')} ms ({d.get('samples')} users)")
    print(f"scim     baseline: token revoked at A -> refused on B: p50 {v.get('p50_ms')} ms, p99 {v.get('p99_ms')} ms; "
          f"B's deprovisioning p99 / revocation p99 = {s.get('site_b_p99_vs_revocation_p99')}")
