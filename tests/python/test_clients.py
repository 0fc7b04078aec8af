"""Exercise a running access-node with real third-party clients (pyartifactory, PyJWT).

Fixtures and environment: conftest.py.
"""
import base64
import hashlib
import json

import jwt
import pytest
import requests
from cryptography import x509
from pyartifactory import Artifactory
from pyartifactory.exception import InvalidTokenDataError

from conftest import env

TOKENS = "/access/api/v1/tokens"
PING = "/access/api/v1/system/ping"


@pytest.fixture
def http():
    s = requests.Session()
    s.trust_env = False  # no proxies / netrc for a loopback server
    return s


@pytest.fixture(params=["", "/artifactory"])
def art(request, base, admin):
    # pyartifactory requests f"{url}/access/api/v1/tokens" verbatim (it does not strip
    # "/artifactory"); the node serves the Access API under both prefixes.
    client = Artifactory(url=base + request.param, auth=admin, timeout=30)
    client.security.session.trust_env = False
    return client


def _ping(http, base, token):
    return http.get(base + PING, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _b64u_int(n):
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_pyartifactory_create_use_revoke(art, http, base):
    tok = art.security.create_access_token("pyuser", expires_in=0, refreshable=False)
    assert tok.access_token and tok.access_token.count(".") == 2
    assert tok.token_type == "Bearer"
    assert tok.scope == "applied-permissions/user"
    assert tok.refresh_token is None
    # AccessTokenModel drops token_id; the JWT carries it as jti.
    assert jwt.decode(tok.access_token, options={"verify_signature": False})["jti"]

    r = _ping(http, base, tok.access_token)
    assert r.status_code == 200, r.text
    assert r.text.strip() == "OK"

    assert art.security.revoke_access_token(tok.access_token) is True
    r = _ping(http, base, tok.access_token)
    assert r.status_code == 401, r.text


def test_pyartifactory_error_carries_description(art, http, base, admin):
    with pytest.raises(InvalidTokenDataError) as excinfo:
        art.security.create_access_token("pyuser", scope="bogus:scope")
    message = str(excinfo.value)
    assert message and message != "Unknown error"

    # The same request made by hand: the library surfaces exactly error_description.
    form = {"username": "pyuser", "expires_in": 3600, "refreshable": False, "scope": "bogus:scope"}
    r = http.post(base + TOKENS, data=form, auth=admin, timeout=30)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error_description"] == message
    assert body["errors"] and body["errors"][0]["message"]


def test_pyjwt_verifies_token(http, base, admin):
    form = {"username": "jwtuser", "scope": "applied-permissions/user", "expires_in": 3600}
    r = http.post(base + TOKENS, data=form, auth=admin, timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    token = body["access_token"]
    assert body["token_id"] and body["token_type"] == "Bearer"

    with open(env("ACCESS_ROOT_CRT"), "rb") as f:
        key = x509.load_pem_x509_certificate(f.read()).public_key()
    claims = jwt.decode(token, key, algorithms=["RS256"], audience="*@*")
    assert claims["sub"].endswith("/users/jwtuser")
    assert claims["iss"].startswith("jfac@")
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["jti"] == body["token_id"]

    nums = key.public_numbers()
    jwk = json.dumps({"e": _b64u_int(nums.e), "kty": "RSA", "n": _b64u_int(nums.n)},
                     separators=(",", ":"), sort_keys=True)
    thumb = base64.urlsafe_b64encode(hashlib.sha256(jwk.encode()).digest()).rstrip(b"=").decode()
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256"
    assert header["kid"] == thumb

    # Flip one character in the middle of the signature (the last one may only hold padding bits).
    head, payload, sig = token.split(".")
    i = len(sig) // 2
    bad = f"{head}.{payload}.{sig[:i]}{'A' if sig[i] != 'A' else 'B'}{sig[i + 1:]}"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(bad, key, algorithms=["RS256"], audience="*@*")

    # A 1-hour token is below the 6-hour revocable threshold: not stored, cannot be revoked.
    r = http.delete(f"{base}{TOKENS}/{body['token_id']}", auth=admin, timeout=30)
    assert r.status_code == 404, r.text
    r = http.delete(f"{base}{TOKENS}/revoke", data={"token": token}, auth=admin, timeout=30)
    assert r.status_code == 400, r.text
    assert r.json()["errors"][0]["code"] == "TOKEN_NOT_REVOCABLE"
    assert _ping(http, base, token).status_code == 200


def test_pyjwkclient_verifies_from_jwks(http, base, admin):
    r = http.post(base + TOKENS, data={"username": "jwksuser", "expires_in": 600}, auth=admin, timeout=30)
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    jwks_client = jwt.PyJWKClient(base + "/.well-known/jwks.json", cache_keys=False)
    signing_key = jwks_client.get_signing_key_from_jwt(token)
    assert signing_key.key_id == jwt.get_unverified_header(token)["kid"]
    claims = jwt.decode(token, signing_key.key, algorithms=["RS256"], audience="*@*")
    assert claims["sub"].endswith("/users/jwksuser")
    # The JWKS carries RFC 7517 fields for every key.
    keys = http.get(base + "/access/api/v1/jwks", timeout=30).json()["keys"]
    assert keys and all(k["kty"] == "RSA" and k["kid"] and k["n"] and k["e"] for k in keys)
