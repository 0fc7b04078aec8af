"""The OIDC exchange on one node: exchanges per second and their latency, against the RSA sign
rate of the same run (an exchange costs one RS256 verify, one sign and, the token being
revocable, one replicated write), beside token issuance through the token API. The issuer is
`openssl_issuer` (stdlib and openssl, no code of the tests'); after the load, the exchange's
refusals are tried against it: forged, expired, wrong audience, a rotated key."""
import json
import os
import signal
import time

from cluster import Node
from common import RUN, WRITE_CONNS, basic_auth, log, median_run, req, write_lines
from openssl_issuer import Issuer, Key
from suite import rsa_round
from wrk import ISSUE_ROUNDS

EXCHANGE = "/access/api/v1/oidc/token"


def exchange(port, id_token):
    """The exchange as setup-jfrog-cli sends it (its fields, an empty project)."""
    body = json.dumps({"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                       "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
                       "subject_token": id_token, "provider_name": "bench", "project_key": "",
                       "gh_job_id": "bench", "gh_run_id": "1", "gh_repo": "bench-org/app",
                       "application_key": ""})
    status, text = req(port, "POST", EXCHANGE, {"Content-Type": "application/json"}, body)
    try:
        message = json.loads(text)["errors"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        message = ""
    return status, message


def admin_json(port, path, body):
    status, text = req(port, "POST", path, {"Authorization": basic_auth(), "Content-Type": "application/json"},
                       json.dumps(body))
    if status != 201:
        raise RuntimeError(f"POST {path}: {status} {text}")


def checks(port, iss):
    """What the exchange answers hand-made ID tokens: (case, status, message) for each."""
    stranger = Key(iss.directory, "stranger")
    cases = [
        ("good", iss.mint()),
        ("forged (another key, the issuer's kid)", stranger.sign(iss.claims(), {"kid": iss.keys[-1].kid})),
        ("expired", iss.mint(exp=1000, iat=900, nbf=900)),
        ("wrong audience", iss.mint(aud="someone-else")),
        ("no matching mapping", iss.mint(repository_owner="other-org")),
    ]
    out = [(name, *exchange(port, tok)) for name, tok in cases]
    old = iss.mint()
    iss.rotate()
    # A key id the node has not seen fetches the keys again, at most once per
    # oidc.jwks-refetch-min-secs (5 s) after the last fetch.
    time.sleep(5.5)
    out.append(("new key after a rotation", *exchange(port, iss.mint())))
    out.append(("old key after a rotation", *exchange(port, old)))
    for name, status, message in out:
        log(f"  oidc check: {name}: {status} {message}")
    return [{"case": n, "status": s, "message": m} for n, s, m in out]


def phase_oidc(b, results):
    log("oidc: an openssl issuer and one node")
    iss = Issuer(os.path.join(RUN, "oidc-issuer"))
    node = Node("oidc").start()
    node.wait_ready()
    port = node.port
    admin_json(port, "/access/api/v1/oidc", {"name": "bench", "issuer_url": iss.url,
                                             "provider_type": "Generic OpenID Connect", "audience": "access-node"})
    admin_json(port, "/access/api/v1/oidc/bench/identity_mappings",
               {"name": "ci", "claims": {"repository_owner": "bench-org"},
                "token_spec": {"username": "bench-ci", "expires_in": 600}})
    r = results["oidc"] = {}
    count = 100 if b.args.quick else 400
    log(f"oidc: minting {count} ID tokens with openssl")
    toks = write_lines(os.path.join(RUN, "oidc-id-tokens.txt"), [iss.mint(jti=str(i)) for i in range(count)])
    W = dict(server_pids=[node.pid])
    D = b.args.duration
    runs = {"exchange": [], "issue_nonrevocable": [], "issue_revocable": []}
    admin_status, admin_text = req(port, "POST", "/access/api/v1/tokens", {"Authorization": basic_auth()},
                                   {"scope": "applied-permissions/admin", "expires_in": 3600})
    admin = json.loads(admin_text)["access_token"] if admin_status == 200 else ""
    for k in range(ISSUE_ROUNDS):
        tag = f" (round {k + 1}/{ISSUE_ROUNDS})"
        runs["exchange"].append(b.wrk("oidc exchange" + tag, "oidc.lua", port, 2, WRITE_CONNS, D * 0.6,
                                      {"BENCH_TOKENS": toks}, **W))
        runs["issue_nonrevocable"].append(b.wrk("issue non-revocable" + tag, "issue.lua", port, 2, 16, D * 0.6,
                                                {"BENCH_AUTH": "Bearer " + admin, "BENCH_EXPIRES_IN": 600}, **W))
        runs["issue_revocable"].append(b.wrk("issue revocable" + tag, "issue.lua", port, 2, WRITE_CONNS, D * 0.6,
                                             {"BENCH_AUTH": "Bearer " + admin, "BENCH_EXPIRES_IN": 0}, **W))
        rsa_round(results)
    for key, rs in runs.items():
        r[key] = median_run(rs)
    r["checks"] = checks(port, iss)
    node.stop(signal.SIGTERM)
    iss.stop()


def targets(res, add, g):
    o = res.get("oidc")
    b = res.get("baselines", {})
    sign, cores = b.get("rsa2048_sign_per_s_1core"), b.get("cores")
    if not o:
        return
    add("1 node: OIDC exchange vs RSA sign/s x cores", g(o, "exchange", "rps"),
        sign * cores if sign and cores else None, 0.8)
    add("1 node: OIDC exchange vs issue revocable, same node (extra)", g(o, "exchange", "rps"),
        g(o, "issue_revocable", "rps"), 0.8)


def report(res, row):
    o = res.get("oidc")
    if not o:
        return
    print("-" * 133)
    for key, title in (("exchange", "OIDC exchange (revocable token)"), ("issue_nonrevocable", "issue non-revocable"),
                       ("issue_revocable", "issue revocable")):
        if o.get(key):
            row("oidc", title, o[key])
    for c in o.get("checks", []):
        print(f"oidc     check {c['case']:<40} {c['status']} {c['message']}")
