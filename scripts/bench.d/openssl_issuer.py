"""An OIDC issuer made of the Python standard library and the openssl command: an RSA key from
`openssl genpkey`, ID tokens signed with `openssl dgst -sha256 -sign` (RS256), discovery and JWKS
served on 127.0.0.1. It shares no code with the test suite's issuer, so the exchange is also
tried against an implementation none of our tests knows.

    python3 openssl_issuer.py DIR    serves until killed; writes DIR/url once listening
"""
import base64
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Key:
    """An RSA-2048 key in DIR/<kid>.pem, and its public JWK."""

    def __init__(self, directory, kid):
        self.kid = kid
        self.pem = os.path.join(directory, f"{kid}.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                        "-out", self.pem], check=True, capture_output=True)
        mod = subprocess.run(["openssl", "rsa", "-in", self.pem, "-noout", "-modulus"], check=True,
                             capture_output=True, text=True).stdout.strip().split("=", 1)[1]
        self.jwk = {"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
                    "n": b64url(bytes.fromhex(mod)), "e": b64url((65537).to_bytes(3, "big"))}

    def sign(self, claims, header=None):
        head = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        head.update(header or {})
        signing_input = b64url(json.dumps(head).encode()) + "." + b64url(json.dumps(claims).encode())
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.pem], input=signing_input.encode(),
                             check=True, capture_output=True).stdout
        return signing_input + "." + b64url(sig)


class Issuer:
    """Discovery and JWKS on a free loopback port; `keys` are what the JWKS lists."""

    def __init__(self, directory):
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        self.keys = [Key(directory, "k1")]
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": issuer.url + "/jwks"}
                elif self.path == "/jwks":
                    body = {"keys": [k.jwk for k in issuer.keys]}
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def claims(self, **over):
        now = int(time.time())
        c = {"iss": self.url, "aud": "access-node", "sub": "repo:bench-org/app:ref:refs/heads/main",
             "repository": "bench-org/app", "repository_owner": "bench-org", "actor": "bench",
             "iat": now, "nbf": now, "exp": now + 3600}
        c.update(over)
        return {k: v for k, v in c.items() if v is not None}

    def mint(self, key=None, header=None, **over):
        return (key or self.keys[-1]).sign(self.claims(**over), header)

    def rotate(self):
        """A new key; the old ones leave the JWKS."""
        self.keys = [Key(self.directory, f"k{len(os.listdir(self.directory)) + 1}")]

    def stop(self):
        self.server.shutdown()


if __name__ == "__main__":
    iss = Issuer(sys.argv[1])
    with open(os.path.join(sys.argv[1], "url"), "w") as f:
        f.write(iss.url)
    while True:
        time.sleep(3600)
