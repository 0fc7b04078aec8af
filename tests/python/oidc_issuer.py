"""An OIDC issuer for the tests: discovery and JWKS on loopback, ID tokens minted on request.

Run as `python oidc_issuer.py <port-file> [<cert.pem> <key.pem>]`: it listens on 127.0.0.1 on
a free port (https with the certificate when given), writes the port to <port-file>, and serves
until killed.

  GET  /.well-known/openid-configuration   discovery (issuer, jwks_uri)
  GET  /jwks                               the keys it signs with now
  POST /mint    {"claims": {...}, "alg": "RS256"|"ES256", "key": "current"|"stranger",
                 "kid": "...", "header_alg": "none"|"HS256", "iss_slash": true}  -> {"token"}
  POST /rotate  {"alg": "RS256"|"ES256", "keep_old": bool}  a new signing key (old one dropped
                from the JWKS unless keep_old)
  GET  /stats   {"jwks_fetches": n, "discovery_fetches": n}
  POST /down    {"down": bool}  while down, discovery and JWKS answer 503

Claims default to GitHub Actions' shape; `iss`, `iat`, `nbf` and `exp` are filled in unless
given (a given value of null removes the claim).
"""

import base64
import hashlib
import hmac
import json
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

LOCK = threading.Lock()
STATE = {"keys": [], "stranger": None, "jwks": 0, "discovery": 0, "down": False}


def new_key(alg):
    if alg == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {"alg": alg, "kid": uuid.uuid4().hex[:16], "private": private}


def public_jwk(key):
    algo = jwt.algorithms.ECAlgorithm if key["alg"] == "ES256" else jwt.algorithms.RSAAlgorithm
    jwk = json.loads(algo.to_jwk(key["private"].public_key()))
    jwk.update({"kid": key["kid"], "alg": key["alg"], "use": "sig"})
    return jwk


def github_claims(issuer):
    now = int(time.time())
    return {
        "iss": issuer,
        "sub": "repo:octo-org/octo-repo:ref:refs/heads/main",
        "aud": "access-node",
        "repository": "octo-org/octo-repo",
        "repository_owner": "octo-org",
        "ref": "refs/heads/main",
        "actor": "octocat",
        "workflow": "ci",
        "run_id": "42",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
    }


def mint(body, issuer):
    claims = github_claims(issuer + ("/" if body.get("iss_slash") else ""))
    for k, v in body.get("claims", {}).items():
        if v is None:
            claims.pop(k, None)
        else:
            claims[k] = v
    header_alg = body.get("header_alg")
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
    if header_alg == "none":
        return enc({"alg": "none", "typ": "JWT"}) + "." + enc(claims) + "."
    if header_alg == "HS256":
        # Signed with the issuer's public key as an HMAC secret: the classic confusion attack
        # (made by hand: PyJWT rightly refuses to do it).
        with LOCK:
            key = STATE["keys"][0]
        secret = json.dumps(public_jwk(key)).encode()
        signing_input = enc({"alg": "HS256", "typ": "JWT", "kid": key["kid"]}) + "." + enc(claims)
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        return signing_input + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    with LOCK:
        if body.get("key") == "stranger":
            key = STATE["stranger"]
        else:
            wanted = body.get("alg", "RS256")
            candidates = [k for k in STATE["keys"] if k["alg"] == wanted]
            key = candidates[-1] if candidates else STATE["keys"][-1]
    headers = {"kid": body.get("kid", key["kid"])}
    if body.get("no_kid"):
        headers = {}
    return jwt.encode(claims, key["private"], algorithm=key["alg"], headers=headers)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, value):
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def issuer(self):
        scheme = "https" if len(sys.argv) > 2 else "http"
        return "%s://%s:%d" % ((scheme,) + self.server.server_address[:2])

    def do_GET(self):
        path = self.path.split("?")[0]
        if path in ("/.well-known/openid-configuration", "/jwks"):
            with LOCK:
                down = STATE["down"]
                STATE["discovery" if path != "/jwks" else "jwks"] += 1
                keys = [public_jwk(k) for k in STATE["keys"]]
            if down:
                return self.answer(503, {"error": "down"})
            if path == "/jwks":
                return self.answer(200, {"keys": keys})
            return self.answer(200, {"issuer": self.issuer(), "jwks_uri": self.issuer() + "/jwks",
                                     "id_token_signing_alg_values_supported": ["RS256", "ES256"]})
        if path == "/stats":
            with LOCK:
                return self.answer(200, {"jwks_fetches": STATE["jwks"],
                                         "discovery_fetches": STATE["discovery"]})
        self.answer(404, {"error": "not found"})

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path == "/mint":
            return self.answer(200, {"token": mint(body, self.issuer())})
        if self.path == "/rotate":
            key = new_key(body.get("alg", "RS256"))
            with LOCK:
                STATE["keys"] = (STATE["keys"] if body.get("keep_old") else []) + [key]
            return self.answer(200, {"kid": key["kid"]})
        if self.path == "/down":
            with LOCK:
                STATE["down"] = bool(body.get("down"))
            return self.answer(200, {})
        self.answer(404, {"error": "not found"})


def main():
    STATE["keys"] = [new_key("RS256"), new_key("ES256")]
    STATE["stranger"] = new_key("RS256")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if len(sys.argv) > 2:
        import ssl

        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(sys.argv[2], sys.argv[3])
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    import os

    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    server.serve_forever()


if __name__ == "__main__":
    main()
