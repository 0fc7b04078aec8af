"""More clients JFrog users run, against a running access-node: dohq-artifactory (legacy
token API), jfrog-client (module `jfrog`: version gate, JSON create with a reference token,
list, default expiry) and Authlib as the RFC 7662 introspection and RFC 7009 revocation
client. Fixtures and environment: conftest.py."""
import jwt
import pytest
import requests

PING = "/access/api/v1/system/ping"


@pytest.fixture(scope="session")
def admin_token(base, admin):
    r = requests.post(base + "/access/api/v1/tokens", auth=admin,
                      data={"username": admin[0], "scope": "applied-permissions/admin",
                            "expires_in": "3600"}, timeout=30)
    r.raise_for_status()
    return r.json()["access_token"]


def _ping(base, token):
    return requests.get(base + PING, headers={"Authorization": f"Bearer {token}"}, timeout=30).status_code


def test_dohq_artifactory_create_list_and_revoke_by_token_and_by_id(base, admin):
    from artifactory import ArtifactoryPath
    from dohq_artifactory.admin import Token

    art = ArtifactoryPath(base + "/artifactory", auth=admin)
    art.session.trust_env = False
    first = Token(art, username="dohq-ci", expires_in=0)
    first.create()
    assert first.jwt_token and first.token_id
    assert _ping(base, first.jwt_token) == 200
    second = Token(art, username="dohq-ci", expires_in=0)
    second.create()

    listing = Token(art, username="dohq-ci")
    listing.read()  # fills listing.tokens (it returns nothing on success)
    assert first.token_id in listing.tokens and second.token_id in listing.tokens
    entry = listing.tokens[first.token_id]
    assert entry["subject"].endswith("/users/dohq-ci")
    assert "expiry" not in entry  # never expires: JFrog leaves the field out

    first.delete()  # by the token itself
    assert _ping(base, first.jwt_token) == 401
    by_id = Token(art, username="dohq-ci", token_id=second.token_id)
    by_id.delete()  # by id
    assert _ping(base, second.jwt_token) == 401


def test_jfrog_client_version_gate_create_list_and_default_expiry(base, admin_token):
    from jfrog import artifactory, platform

    version = artifactory.artifactory_version(base, admin_token)
    assert version == "7.77.5"
    created = platform.create_token(base, admin_token, "from jfrog-client", scope="applied-permissions/user",
                                    expires_in=0, refreshable=False, username="jfc-ci")
    import json
    body = json.loads(created)
    assert body["access_token"] and body["reference_token"], body
    assert _ping(base, body["reference_token"]) == 200
    tokens = platform.get_tokens(base, admin_token)
    ids = [t["token_id"] for t in tokens] if isinstance(tokens, list) else []
    assert body["token_id"] in ids, tokens
    platform.set_default_token_expiry(base, admin_token, 5400)
    assert platform.get_default_token_expiry(base, admin_token) == 5400
    platform.set_default_token_expiry(base, admin_token, 3600)
    assert platform.get_default_token_expiry(base, admin_token) == 3600


def test_authlib_introspects_and_revokes(base, admin):
    from authlib.integrations.requests_client import OAuth2Session

    r = requests.post(base + "/access/api/v1/tokens", auth=admin,
                      data={"username": "authlib-ci", "expires_in": "0"}, timeout=30)
    r.raise_for_status()
    token = r.json()["access_token"]
    # The resource server authenticates as a client (client_secret_basic): here the admin.
    client = OAuth2Session(client_id=admin[0], client_secret=admin[1])
    client.trust_env = False
    # RFC 7662 and RFC 7009 let a client send a token_type_hint, which the server may ignore
    # but must accept.
    info = client.introspect_token(base + "/access/api/v1/tokens/introspect", token=token,
                                   token_type_hint="access_token").json()
    assert info["active"] is True
    assert info["sub"].endswith("/users/authlib-ci")
    assert info["jti"] == jwt.decode(token, options={"verify_signature": False})["jti"]
    assert "exp" not in info  # never expires
    revoked = client.revoke_token(base + "/access/api/v1/tokens/revoke", token=token,
                                  token_type_hint="access_token")
    assert revoked.status_code == 200, revoked.text
    again = client.introspect_token(base + "/access/api/v1/tokens/introspect", token=token).json()
    assert again == {"active": False}
    assert _ping(base, token) == 401
